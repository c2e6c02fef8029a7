//! The program's log on stderr: text or JSON (`--log-format`), the level
//! from `TWOWAY_LOG` (else `RUST_LOG`, else `info`), colour only on a
//! terminal and never with `NO_COLOR`, and panics logged as errors so that
//! with `--log-format json` every line is JSON. With `[telemetry]
//! otlp_endpoint` (`serve`), the trace spans (`twoway::TRACE_TARGET`) are
//! exported over OTLP/HTTP; they never reach the log. `serve` writes its
//! lines in batches from a thread of its own ([`batched`]).

mod access;
mod batched;
mod line;

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use super::LogFormat;
use twoway::config::Telemetry;

/// Exports traces until dropped (then what is left is sent).
pub struct Traces(SdkTracerProvider);

impl Drop for Traces {
    fn drop(&mut self) {
        // The exporter's HTTP client blocks: not on a runtime worker.
        let provider = self.0.clone();
        let _ = std::thread::spawn(move || provider.shutdown()).join();
    }
}

pub use batched::flush;

/// The log until dropped: then the traces left are sent, what the log
/// holds is written, and every line after that is written at once.
pub struct Logging {
    // Dropped in this order: the exporter may still log.
    traces: Option<Traces>,
    writer: batched::Batched,
}

impl Drop for Logging {
    fn drop(&mut self) {
        drop(self.traces.take());
        self.writer.stop();
    }
}

/// Installs the logger (and the trace exporter when `telemetry` names a
/// collector) and the panic hook, once, at start. With `batching` the
/// lines reach stderr in batches a few milliseconds apart, written by a
/// thread of their own; else each at once.
pub fn init(format: LogFormat, telemetry: Option<&Telemetry>, batching: bool) -> Logging {
    let writer = batched::Batched::install(batching);
    let filter = tracing_subscriber::EnvFilter::try_from_env("TWOWAY_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info".into());
    // The hint (no level is refused by this filter alone) lets the layer's
    // combined filter keep the level filter's hint: without one the
    // subscriber's maximum level is TRACE, and so is the `log` crate's
    // (set from it at `init`), so every `log::trace!` of a dependency
    // (wasmtime logs as each plugin instance is made and dropped) was built
    // and offered to the filter to be refused, one record at a time.
    let not_a_trace_span = tracing_subscriber::filter::filter_fn(|meta| {
        !(meta.is_span() && meta.target() == twoway::TRACE_TARGET)
    })
    .with_max_level_hint(tracing::level_filters::LevelFilter::TRACE);
    // The timestamp and (as text) the fields written as the defaults write
    // them, at less cost a line ([`line`]): the access log writes one a request.
    let colour = colour();
    // The access log's lines, one a request, are written by the log
    // itself ([`access`]) in its format; with colour, by `tracing`.
    if !colour {
        twoway::gateway::write_access_lines_with(Box::new(access::Lines {
            json: format == LogFormat::Json,
            writer: writer.clone(),
        }));
    }
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_timer(line::Time)
        .with_writer(writer.clone());
    let logs = match format {
        LogFormat::Json => logs.json().boxed(),
        LogFormat::Text => logs.fmt_fields(line::Fields).boxed(),
    }
    // One filter for the layer, not two nested ones: nested, the level
    // filter's "always" and this one's "never" for a trace span combine
    // into "sometimes", so every trace span would be built (and entered on
    // every poll) to be refused one at a time.
    .with_filter(not_a_trace_span.and(filter));
    let (provider, problem) = match telemetry.and_then(|t| Some((t, t.otlp_endpoint.as_ref()?))) {
        None => (None, None),
        Some((t, endpoint)) => match provider(t, endpoint) {
            Ok(provider) => (Some(provider), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let traces = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("twoway"))
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target(twoway::TRACE_TARGET, tracing::Level::INFO),
            )
    });
    // Without a collector the trace layer is left out rather than added as
    // `None`: an absent layer would claim every callsite, so each request
    // would build its trace spans (and their `otel.name` strings) for no
    // one. Left out, the trace spans' callsites are off and cost nothing.
    match traces {
        Some(traces) => tracing_subscriber::registry()
            .with(logs)
            .with(traces)
            .init(),
        None => tracing_subscriber::registry().with(logs).init(),
    }
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        tracing::error!(panic = %message, location, "internal error (a bug: please report it)");
        // The process may end with this panic.
        flush();
    }));
    if let Some(problem) = problem {
        tracing::warn!(error = %problem, "traces are off: the OTLP exporter could not be built");
    }
    if let (Some(t), Some(_)) = (telemetry, &provider) {
        tracing::info!(
            endpoint = t.otlp_endpoint.as_deref(),
            sample_ratio = t.sample_ratio,
            "exporting traces over OTLP/HTTP"
        );
    }
    Logging {
        traces: provider.map(Traces),
        writer,
    }
}

/// The tracer provider: batches of spans to `endpoint` (OTLP/HTTP,
/// protobuf), new traces sampled at `sample_ratio`, a caller's decision
/// followed.
fn provider(t: &Telemetry, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(t.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            twoway::version::VERSION,
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            t.sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

/// Colour on stderr: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (no-color.org).
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "TWOWAY_LOGGING_PANIC_CHILD";

    const SPANS_CHILD: &str = "TWOWAY_LOGGING_SPANS_CHILD";

    /// Without a collector no trace span is built: its callsite is off, so
    /// a request pays nothing for the spans it would export; and the `log`
    /// crate's records below the level are refused by its macros. The test runs
    /// itself again as a child process, which installs the logger.
    #[test]
    fn trace_spans_are_off_without_a_collector() {
        if std::env::var_os(SPANS_CHILD).is_some() {
            let _logging = init(LogFormat::Text, None, false);
            let span = tracing::info_span!(target: twoway::TRACE_TARGET, "request");
            assert!(span.is_disabled(), "a trace span was built");
            // The log's own spans and events still pass the level filter.
            assert!(!tracing::info_span!("a log span").is_disabled());
            assert!(tracing::enabled!(tracing::Level::INFO));
            assert!(!tracing::enabled!(tracing::Level::DEBUG));
            // Dependencies that log through the `log` crate stop at its
            // macros' level check: a `debug!` record is never built.
            assert_eq!(log::max_level(), log::LevelFilter::Info);
            return;
        }
        child(
            "logging::tests::trace_spans_are_off_without_a_collector",
            SPANS_CHILD,
        );
    }

    /// Runs the test `name` again as a child process with `marker` set
    /// (the child installs the logger); its output.
    fn child(name: &str, marker: &str) -> std::process::Output {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads", "1"])
            .env(marker, "1")
            .env_remove("TWOWAY_LOG")
            .env_remove("RUST_LOG")
            .output()
            .expect("the test binary runs again");
        assert!(out.status.success(), "the child failed: {out:?}");
        out
    }

    /// stderr's lines, each parsed as JSON.
    fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
            })
            .collect()
    }

    /// A panic anywhere (here on a thread, as in a connection's task) is
    /// one JSON error line with the message and where it happened: the
    /// default hook's plain text never reaches stderr. The log is batched
    /// (as `serve`'s) and the process ends right after the panic, with
    /// nothing but the hook to write what the log holds: the panic's line
    /// and the one before it are there, in order.
    #[test]
    fn a_panic_is_one_json_error_line() {
        if std::env::var_os(CHILD).is_some() {
            let _logging = init(LogFormat::Json, None, true);
            tracing::info!("before the panic");
            let _ = std::thread::spawn(|| panic!("the canary panic")).join();
            std::process::exit(0);
        }
        let out = child("logging::tests::a_panic_is_one_json_error_line", CHILD);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 2, "{stderr}");
        assert_eq!(
            lines[0]["fields"]["message"], "before the panic",
            "{stderr}"
        );
        let panic = lines
            .iter()
            .find(|l| l["fields"]["panic"] == "the canary panic")
            .unwrap_or_else(|| panic!("no line for the panic in: {stderr}"));
        assert_eq!(panic["level"], "ERROR");
        assert!(
            panic["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("internal error")),
            "{panic}"
        );
        assert!(
            panic["fields"]["location"]
                .as_str()
                .is_some_and(|l| l.contains("logging.rs")),
            "{panic}"
        );
    }

    const ORDER_CHILD: &str = "TWOWAY_LOGGING_ORDER_CHILD";

    /// Batched, no line is lost or reordered: four threads each log
    /// numbered lines, more than the writer holds before a logging thread
    /// writes them itself; every thread's lines are there in its order,
    /// and the line logged after the log stopped (as `twoway serve` ends)
    /// comes last.
    #[test]
    fn every_line_reaches_stderr_in_order() {
        const THREADS: u64 = 4;
        const LINES: u64 = 5_000;
        if std::env::var_os(ORDER_CHILD).is_some() {
            let logging = init(LogFormat::Json, None, true);
            let threads: Vec<_> = (0..THREADS)
                .map(|thread| {
                    std::thread::spawn(move || {
                        for n in 0..LINES {
                            tracing::info!(thread, n, "line");
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            tracing::info!("before the end");
            drop(logging);
            tracing::info!("after the end");
            return;
        }
        let out = child(
            "logging::tests::every_line_reaches_stderr_in_order",
            ORDER_CHILD,
        );
        assert!(
            out.stderr.len() > 2 * batched::MAX_HELD,
            "too few bytes to test the cap"
        );
        let lines = json_lines(&out);
        let mut next = [0; THREADS as usize];
        for line in &lines[..lines.len() - 2] {
            let fields = &line["fields"];
            assert_eq!(fields["message"], "line", "{line}");
            let thread = fields["thread"].as_u64().unwrap() as usize;
            assert_eq!(fields["n"], next[thread], "out of order: {line}");
            next[thread] += 1;
        }
        assert_eq!(next, [LINES; THREADS as usize], "lines lost");
        let last: Vec<_> = lines[lines.len() - 2..]
            .iter()
            .map(|l| l["fields"]["message"].as_str().unwrap())
            .collect();
        assert_eq!(last, ["before the end", "after the end"]);
    }
}
