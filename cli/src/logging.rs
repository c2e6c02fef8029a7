//! The program's log on stderr: text or JSON (`--log-format`), the level
//! from `TWOWAY_LOG` (else `RUST_LOG`, else `info`), colour only on a
//! terminal and never with `NO_COLOR`, and panics logged as errors so that
//! with `--log-format json` every line is JSON. With `[telemetry]
//! otlp_endpoint` (`serve`), the trace spans (`twoway::TRACE_TARGET`) are
//! exported over OTLP/HTTP; they never reach the log.

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

/// Installs the logger (and the trace exporter when `telemetry` names a
/// collector) and the panic hook, once, at start.
pub fn init(format: LogFormat, telemetry: Option<&Telemetry>) -> Option<Traces> {
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
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(colour())
        .with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => logs.json().boxed(),
        LogFormat::Text => logs.boxed(),
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
    provider.map(Traces)
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
            let _ = init(LogFormat::Text, None);
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
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "logging::tests::trace_spans_are_off_without_a_collector",
            ])
            .args(["--nocapture", "--test-threads", "1"])
            .env(SPANS_CHILD, "1")
            .env_remove("TWOWAY_LOG")
            .env_remove("RUST_LOG")
            .output()
            .expect("the test binary runs again");
        assert!(out.status.success(), "the child failed: {out:?}");
    }

    /// A panic anywhere (here on a thread, as in a connection's task) is
    /// one JSON error line with the message and where it happened: the
    /// default hook's plain text never reaches stderr. The test runs
    /// itself again as a child process, which installs the logger.
    #[test]
    fn a_panic_is_one_json_error_line() {
        if std::env::var_os(CHILD).is_some() {
            let _ = init(LogFormat::Json, None);
            let _ = std::thread::spawn(|| panic!("the canary panic")).join();
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "logging::tests::a_panic_is_one_json_error_line"])
            .args(["--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .env_remove("TWOWAY_LOG")
            .env_remove("RUST_LOG")
            .output()
            .expect("the test binary runs again");
        assert!(out.status.success(), "the child failed: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<serde_json::Value> = stderr
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
            })
            .collect();
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
}
