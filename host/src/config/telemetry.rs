//! `[telemetry]`: OpenTelemetry traces exported over OTLP/HTTP (protobuf)
//! to a collector; off unless `otlp_endpoint` is set. Read at start only.

use serde::Deserialize;

/// The target of the trace spans (a request, its queue wait, plugin call,
/// upstream calls and logins): exported over OTLP when `[telemetry]` says
/// so, never written to the log.
pub const TRACE_TARGET: &str = "twoway::trace";

/// `[telemetry]` exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    pub otlp_endpoint: Option<String>,
    pub service_name: Option<String>,
    pub sample_ratio: Option<f64>,
}

/// A checked `[telemetry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    /// Where spans go: the collector's OTLP/HTTP traces URL
    /// (`http://collector:4318/v1/traces`); `None`: no traces.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the spans.
    pub service_name: String,
    /// The share of new traces recorded (0 to 1); a caller's sampled
    /// `traceparent` is followed whatever it is.
    pub sample_ratio: f64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "twoway".to_string(),
            sample_ratio: 1.0,
        }
    }
}

/// Checks `raw`, pushing problems (with their key paths) onto `problems`.
pub(super) fn check(raw: Option<RawTelemetry>, problems: &mut Vec<String>) -> Telemetry {
    let d = Telemetry::default();
    let Some(raw) = raw else {
        return d;
    };
    let mut problem = |key: &str, what: String| problems.push(format!("telemetry.{key}: {what}"));
    let otlp_endpoint = raw.otlp_endpoint.and_then(|url| {
        let parsed = url.parse::<http::Uri>();
        let ok = parsed.as_ref().is_ok_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some()
                && u.path() != "/"
        });
        if ok {
            Some(url)
        } else {
            problem(
                "otlp_endpoint",
                format!("{url:?} is not an OTLP/HTTP traces URL: write the collector's, like \"http://otel-collector:4318/v1/traces\""),
            );
            None
        }
    });
    let service_name = match raw.service_name {
        None => d.service_name,
        Some(name) if !name.trim().is_empty() && name.len() <= 128 => name,
        Some(_) => {
            problem(
                "service_name",
                "must be 1 to 128 characters, like \"twoway\"".to_string(),
            );
            d.service_name
        }
    };
    let sample_ratio = match raw.sample_ratio {
        None => d.sample_ratio,
        Some(r) if (0.0..=1.0).contains(&r) => r,
        Some(r) => {
            problem(
                "sample_ratio",
                format!("{r} is not a share: use a value from 0 (none) to 1 (every trace)"),
            );
            d.sample_ratio
        }
    };
    Telemetry {
        otlp_endpoint,
        service_name,
        sample_ratio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_bad_values_are_named() {
        let mut problems = Vec::new();
        assert_eq!(check(None, &mut problems), Telemetry::default());
        let raw = RawTelemetry {
            otlp_endpoint: Some("collector:4318".into()),
            service_name: Some(" ".into()),
            sample_ratio: Some(1.5),
        };
        let t = check(Some(raw), &mut problems);
        assert_eq!(t.otlp_endpoint, None);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("telemetry.otlp_endpoint"));
        assert!(problems[2].starts_with("telemetry.sample_ratio"));
        let raw = RawTelemetry {
            otlp_endpoint: Some("http://127.0.0.1:4318/v1/traces".into()),
            service_name: None,
            sample_ratio: Some(0.25),
        };
        let mut problems = Vec::new();
        let t = check(Some(raw), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            t.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(t.sample_ratio, 0.25);
    }
}
