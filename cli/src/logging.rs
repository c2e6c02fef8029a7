//! The program's log on stderr: text or JSON (`--log-format`), the level
//! from `TWOWAY_LOG` (else `RUST_LOG`, else `info`), colour only on a
//! terminal and never with `NO_COLOR`, and panics logged as errors so that
//! with `--log-format json` every line is JSON. With `[telemetry]
//! otlp_endpoint` (`serve`), the trace spans (`twoway::TRACE_TARGET`) are
//! exported over OTLP/HTTP; they never reach the log.

use std::cell::RefCell;
use std::io::IsTerminal as _;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
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
    let not_a_trace_span = tracing_subscriber::filter::filter_fn(|meta| {
        !(meta.is_span() && meta.target() == twoway::TRACE_TARGET)
    });
    let logs = tracing_subscriber::fmt::layer()
        .with_timer(Clock)
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

/// The log's timestamps as tracing-subscriber's `SystemTime` writes them
/// (RFC 3339 in UTC, microseconds: `2026-12-07T00:12:03.123456Z`), with the
/// date and time to the second formatted once a second on each thread
/// rather than on every line (one line per request).
struct Clock;

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        thread_local! {
            static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
        }
        let since = SystemTime::now().duration_since(UNIX_EPOCH);
        // Before 1970 or after 9999: as tracing-subscriber writes it.
        let Some(now) = since.ok().filter(|d| d.as_secs() < LAST_SECOND) else {
            return tracing_subscriber::fmt::time::SystemTime.format_time(w);
        };
        let secs = now.as_secs();
        SECOND.with_borrow_mut(|(at, text)| {
            if *at != secs {
                *text = to_the_second(secs);
                *at = secs;
            }
            w.write_str(text)
        })?;
        let mut fraction = *b"000000Z";
        let mut micros = now.subsec_micros();
        for digit in fraction[..6].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        w.write_str(std::str::from_utf8(&fraction).unwrap_or("000000Z"))
    }
}

/// 10000-01-01T00:00:00Z: from there on years take five digits.
const LAST_SECOND: u64 = 253_402_300_800;

/// `YYYY-MM-DDTHH:MM:SS.` of `secs` since 1970 (UTC), the proleptic
/// Gregorian calendar (days to civil date: Howard Hinnant's algorithm).
fn to_the_second(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
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

    fn clock(with: impl FormatTime) -> String {
        let mut text = String::new();
        with.format_time(&mut Writer::new(&mut text)).unwrap();
        text
    }

    #[test]
    fn the_clock_writes_what_tracing_subscriber_writes() {
        assert_eq!(to_the_second(0), "1970-01-01T00:00:00.");
        assert_eq!(to_the_second(951_782_400), "2000-02-29T00:00:00.");
        assert_eq!(to_the_second(1_709_251_199), "2024-02-29T23:59:59.");
        assert_eq!(to_the_second(4_107_542_400), "2100-03-01T00:00:00.");
        assert_eq!(to_the_second(LAST_SECOND - 1), "9999-12-31T23:59:59.");
        // Now, twice in a row, within one second of each other (retried
        // when a second boundary falls between them).
        for _ in 0..5 {
            let (ours, theirs) = (
                clock(Clock),
                clock(tracing_subscriber::fmt::time::SystemTime),
            );
            assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
            assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
            if ours[..20] == theirs[..20] {
                return;
            }
        }
        panic!("our clock never agreed with tracing-subscriber's to the second");
    }
    const SPANS_CHILD: &str = "TWOWAY_LOGGING_SPANS_CHILD";

    /// Without a collector no trace span is built: its callsite is off, so
    /// a request pays nothing for the spans it would export. The test runs
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
