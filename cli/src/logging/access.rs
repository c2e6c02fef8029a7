//! The access log's lines (`twoway::access`, one a request) written by the
//! log itself, byte for byte as `tracing`'s formatter writes the event of
//! [`AccessLine::log`] in the log's format (text or JSON), without
//! dispatching, visiting and formatting its 17 fields one at a time
//! (about 11,000 instructions a request; docs/performance.md, the ninth
//! round). With colour, the lines are left to `tracing`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;

use tracing_subscriber::fmt::MakeWriter as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use twoway::gateway::{AccessLine, AccessLineWriter};

use super::batched::Batched;
use super::line::{Time, quotes_as_is};

/// Writes the access lines to the log's writer.
pub struct Lines {
    pub json: bool,
    pub writer: Batched,
}

thread_local! {
    /// The line being written, its buffer kept for the thread's next line.
    static TEXT: RefCell<String> = RefCell::new(String::with_capacity(512));
}

impl AccessLineWriter for Lines {
    fn write(&self, line: &AccessLine<'_>) {
        let written = TEXT.try_with(|text| {
            // Only a line written while writing one (never) finds it taken.
            let Ok(mut text) = text.try_borrow_mut() else {
                return false;
            };
            text.clear();
            if format(&mut text, line, self.json, &Time).is_ok() {
                let _ = self.writer.make_writer().write_all(text.as_bytes());
            }
            true
        });
        if written != Ok(true) {
            line.log();
        }
    }
}

/// `line` as the log writes it, with the time from `time`: as text,
/// `<time>  INFO twoway::access: request method=POST route="front-door" ...`;
/// as JSON, `{"timestamp":"<time>","level":"INFO","fields":{"message":
/// "request",...},"target":"twoway::access"}`. Fields in the event's
/// order, absent ones left out. Fails as `tracing`'s JSON fails, when the
/// time cannot be written (then nothing is).
fn format(
    out: &mut String,
    line: &AccessLine<'_>,
    json: bool,
    time: &impl FormatTime,
) -> std::fmt::Result {
    let format = if json { Format::Json } else { Format::Text };
    match format {
        Format::Json => {
            let mut timestamp = String::new();
            time.format_time(&mut Writer::new(&mut timestamp))?;
            out.push_str("{\"timestamp\":");
            json_str(out, &timestamp);
            out.push_str(",\"level\":\"INFO\",\"fields\":{\"message\":\"request\"");
        }
        Format::Text => {
            if time.format_time(&mut Writer::new(out)).is_err() {
                out.push_str("<unknown time>");
            }
            out.push_str("  INFO twoway::access: request");
        }
    }
    format.display(out, name!("method"), line.method);
    format.string(out, name!("route"), Some(line.route));
    format.string(out, name!("api"), line.api);
    format.string(out, name!("tenant"), line.tenant);
    format.string(out, name!("workflow"), line.workflow);
    format.number(out, name!("status"), line.status.into());
    format.string(out, name!("problem"), line.problem);
    format.number(out, name!("upstream_calls"), line.upstream_calls.into());
    format.number(out, name!("upstream_ms"), line.upstream_ms);
    format.number(out, name!("bytes_in"), line.bytes_in);
    format.number(out, name!("bytes_out"), line.bytes_out);
    format.name(out, name!("complete"));
    out.push_str(if line.complete { "true" } else { "false" });
    format.name(out, name!("peer"));
    // An address and port: nothing to escape.
    let quote = if json { "\"" } else { "" };
    out.push_str(quote);
    peer(out, line.peer);
    out.push_str(quote);
    format.string(out, name!("trace_id"), line.trace_id);
    format.display(out, name!("request_id"), line.request_id);
    format.number(out, name!("elapsed_ms"), line.elapsed_ms);
    out.push_str(match format {
        Format::Json => "},\"target\":\"twoway::access\"}\n",
        Format::Text => "\n",
    });
    Ok(())
}

/// How the log writes a field.
#[derive(Clone, Copy)]
enum Format {
    /// `name=value`, after a space (`DefaultFields`, as [`super::line::Fields`] writes them).
    Text,
    /// `,"name":value` (`tracing_subscriber`'s JSON).
    Json,
}

/// A field's name with what comes before its value, in each format.
struct Name {
    text: &'static str,
    json: &'static str,
}

/// The [`Name`] of the field `name`, written once, at compile time.
macro_rules! name {
    ($name:literal) => {
        Name {
            text: concat!(" ", $name, "="),
            json: concat!(",\"", $name, "\":"),
        }
    };
}
use name;

impl Format {
    fn name(self, out: &mut String, name: Name) {
        out.push_str(match self {
            Format::Text => name.text,
            Format::Json => name.json,
        });
    }

    /// A string field: quoted and escaped as `{:?}` escapes it (text).
    fn string(self, out: &mut String, name: Name, value: Option<&str>) {
        let Some(value) = value else { return };
        self.name(out, name);
        match self {
            Format::Json => json_str(out, value),
            Format::Text if quotes_as_is(value) => {
                out.push('"');
                out.push_str(value);
                out.push('"');
            }
            Format::Text => {
                let _ = write!(out, "{value:?}");
            }
        }
    }

    /// A `%` field: as it is (text).
    fn display(self, out: &mut String, name: Name, value: &str) {
        self.name(out, name);
        match self {
            Format::Json => json_str(out, value),
            Format::Text => out.push_str(value),
        }
    }

    fn number(self, out: &mut String, name: Name, value: u64) {
        self.name(out, name);
        out.push_str(itoa::Buffer::new().format(value));
    }
}

/// `value` as a JSON string, escaped as `serde_json` escapes it.
fn json_str(out: &mut String, value: &str) {
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        // A `String` cannot fail to serialize.
        out.push_str(&serde_json::to_string(value).unwrap_or_default());
    }
}

/// The address as `SocketAddr`'s `Display` writes it; IPv4 without the
/// formatting machinery.
fn peer(out: &mut String, peer: SocketAddr) {
    match peer {
        SocketAddr::V4(v4) => {
            let [a, b, c, d] = v4.ip().octets();
            for (octet, after) in [(a, '.'), (b, '.'), (c, '.'), (d, ':')] {
                out.push_str(itoa::Buffer::new().format(octet));
                out.push(after);
            }
            out.push_str(itoa::Buffer::new().format(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{peer}");
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::super::line::{Fields, tests::Lines as Captured};
    use super::*;

    /// One time for both sides.
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
            w.write_str("2026-12-08T00:41:07.123456Z")
        }
    }

    /// `line` as `tracing`'s formatter writes it, set up as the log's.
    fn theirs(line: &AccessLine<'_>, json: bool) -> String {
        let captured = Captured::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_timer(Fixed)
            .with_writer(captured.clone());
        if json {
            let subscriber = tracing_subscriber::registry().with(layer.json());
            tracing::subscriber::with_default(subscriber, || line.log());
        } else {
            let subscriber = tracing_subscriber::registry().with(layer.fmt_fields(Fields));
            tracing::subscriber::with_default(subscriber, || line.log());
        }
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    fn ours(line: &AccessLine<'_>, json: bool) -> String {
        let mut out = String::new();
        format(&mut out, line, json, &Fixed).unwrap();
        out
    }

    /// Lines of every shape: every field present and absent, strings
    /// that need escaping (quotes, backslashes, controls, C1 controls,
    /// non-ASCII, empty), IPv4 and IPv6 peers, the largest numbers.
    fn lines() -> Vec<AccessLine<'static>> {
        let front = AccessLine {
            method: "POST",
            route: "front-door",
            api: Some("soap-partner"),
            tenant: Some("acme"),
            workflow: None,
            status: 200,
            problem: None,
            upstream_calls: 1,
            upstream_ms: 3,
            bytes_in: 512,
            bytes_out: 1024,
            complete: true,
            peer: "127.0.0.1:54321".parse().unwrap(),
            trace_id: None,
            request_id: "0123456789abcdef0123456789abcdef",
            elapsed_ms: 4,
        };
        let mut all = vec![front];
        let odd = [
            "say \"hi\"",
            "a\\b",
            "tab\there\nnewline",
            "\x1b[31mred\x1b[0m",
            "c1 \u{85} \u{9b}",
            "del \x7f",
            "grüße, 東京",
            "",
        ];
        for (n, text) in odd.into_iter().enumerate() {
            all.push(AccessLine {
                method: "PURGE",
                route: "/tenants/{tenant}/workflows/{workflow}",
                api: None,
                tenant: Some(text),
                workflow: Some(text),
                status: 404,
                problem: Some("unknown_route"),
                upstream_calls: 0,
                upstream_ms: 0,
                bytes_in: 0,
                bytes_out: u64::MAX,
                complete: n % 2 == 0,
                peer: "[fe80::1%3]:8443".parse().unwrap(),
                trace_id: Some(text),
                request_id: "abc-123",
                elapsed_ms: u64::MAX,
            });
        }
        all.push(AccessLine {
            api: None,
            tenant: None,
            workflow: None,
            problem: Some("upstream_too_large"),
            upstream_calls: u32::MAX,
            status: u16::MAX,
            peer: "[::1]:1".parse().unwrap(),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            ..front
        });
        all.push(AccessLine {
            peer: "0.0.0.0:0".parse().unwrap(),
            ..front
        });
        all.push(AccessLine {
            peer: "255.255.255.255:65535".parse().unwrap(),
            ..front
        });
        all
    }

    #[test]
    fn lines_are_written_as_tracing_writes_them() {
        for json in [false, true] {
            for line in lines() {
                let (ours, theirs) = (ours(&line, json), theirs(&line, json));
                assert!(theirs.ends_with('\n'), "{theirs}");
                assert_eq!(ours, theirs, "json {json}: {line:?}");
            }
        }
    }

    #[test]
    fn a_line_reads_as_its_tests_and_docs_read_it() {
        let line = lines()[0];
        assert_eq!(
            ours(&line, false),
            "2026-12-08T00:41:07.123456Z  INFO twoway::access: request method=POST \
             route=\"front-door\" api=\"soap-partner\" tenant=\"acme\" status=200 \
             upstream_calls=1 upstream_ms=3 bytes_in=512 bytes_out=1024 complete=true \
             peer=127.0.0.1:54321 request_id=0123456789abcdef0123456789abcdef elapsed_ms=4\n"
        );
        let json: serde_json::Value = serde_json::from_str(&ours(&line, true)).unwrap();
        assert_eq!(json["target"], "twoway::access");
        assert_eq!(json["fields"]["peer"], "127.0.0.1:54321");
        assert_eq!(json["fields"]["status"], 200);
        assert!(json["fields"].get("workflow").is_none(), "{json}");
    }
}
