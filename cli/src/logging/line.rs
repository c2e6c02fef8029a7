//! The text log line's timestamp and fields, written the way
//! tracing-subscriber's own `SystemTime` and `DefaultFields` write them,
//! byte for byte, but without their per-line cost: the timestamp's date
//! and time of day are made once a second (per thread), and a field whose
//! value is a plain string, number or bool is written directly instead of
//! through the formatting machinery and ANSI styles that are off anyway.
//! Every other field, and every line with colour, goes through
//! `DefaultFields` itself. The access log writes one line per request, so
//! this is on every request's path (docs/performance.md, the seventh round).

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::time::FormatTime;

/// UTC time as RFC 3339 with microseconds (`2026-12-07T18:25:06.123456Z`),
/// as `tracing_subscriber::fmt::time::SystemTime` writes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Time;

/// `YYYY-MM-DDTHH:MM:SS.` of the second it was made for.
#[derive(Clone, Copy)]
struct Second {
    unix: u64,
    text: [u8; 20],
}

thread_local! {
    static SECOND: Cell<Option<Second>> = const { Cell::new(None) };
}

impl FormatTime for Time {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            // Before 1970: rare enough for the general formatter.
            return tracing_subscriber::fmt::time::SystemTime.format_time(w);
        };
        let unix = since.as_secs();
        let second = match SECOND.get() {
            Some(second) if second.unix == unix => second,
            _ => match second(unix) {
                Some(second) => {
                    SECOND.set(Some(second));
                    second
                }
                None => return tracing_subscriber::fmt::time::SystemTime.format_time(w),
            },
        };
        let mut micros = [b'0'; 7];
        digits(u64::from(since.subsec_micros()), &mut micros[..6]);
        micros[6] = b'Z';
        // Both are ASCII digits and punctuation.
        w.write_str(std::str::from_utf8(&second.text).map_err(|_| fmt::Error)?)?;
        w.write_str(std::str::from_utf8(&micros).map_err(|_| fmt::Error)?)
    }
}

/// The date and time of day of `unix` seconds, `None` past year 9999 (the
/// general formatter writes those differently).
fn second(unix: u64) -> Option<Second> {
    let days = unix / 86_400;
    let of_day = unix % 86_400;
    let (year, month, day) = civil(days);
    if year > 9999 {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00.";
    digits(year, &mut text[0..4]);
    digits(month, &mut text[5..7]);
    digits(day, &mut text[8..10]);
    digits(of_day / 3600, &mut text[11..13]);
    digits(of_day / 60 % 60, &mut text[14..16]);
    digits(of_day % 60, &mut text[17..19]);
    Some(Second { unix, text })
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `n` in decimal, zero-padded to fill `out` (its lowest digits if longer).
fn digits(mut n: u64, out: &mut [u8]) {
    for place in out.iter_mut().rev() {
        *place = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Fields as `DefaultFields` writes them (`name=value`, space separated,
/// strings quoted and escaped as `{:?}` does).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields;

impl<'a> MakeVisitor<Writer<'a>> for Fields {
    type Visitor = FieldsVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> Self::Visitor {
        FieldsVisitor {
            ansi: writer.has_ansi_escapes(),
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// [`Fields`]' visitor for one event or span.
pub struct FieldsVisitor<'a> {
    writer: Writer<'a>,
    /// Colour on: every field goes through `DefaultVisitor`.
    ansi: bool,
    /// Nothing written yet (no separating space before the next field).
    is_empty: bool,
    result: fmt::Result,
}

impl FieldsVisitor<'_> {
    /// True when `field` is written `name=value` with nothing special about
    /// it: not the message (escaped), not a raw identifier (`r#`), and no
    /// colour.
    fn plain(&self, field: &Field) -> bool {
        let name = field.name();
        !self.ansi && name != "message" && !name.starts_with("r#")
    }

    /// Writes one field: `name=` and `direct`'s value when the field is
    /// plain and `direct` is given, else as `DefaultVisitor` writes it
    /// after the fields before it. Nothing after a failed write, and
    /// nothing for the `log` crate's metadata, which the line's head has
    /// shown already (`DefaultVisitor` skips it the same way, with no
    /// separating space).
    fn field(
        &mut self,
        field: &Field,
        direct: Option<impl FnOnce(&mut Writer<'_>) -> fmt::Result>,
        general: impl FnOnce(&mut DefaultVisitor<'_>),
    ) {
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        match direct {
            Some(value) if self.plain(field) => {
                self.result = self.name(field).and_then(|()| value(&mut self.writer));
            }
            _ => {
                let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
                general(&mut visitor);
                self.result = visitor.finish();
                self.is_empty = false;
            }
        }
    }

    /// `name=` after the separating space.
    fn name(&mut self, field: &Field) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
        } else {
            self.writer.write_char(' ')?;
        }
        self.writer.write_str(field.name())?;
        self.writer.write_char('=')
    }
}

/// `value` in decimal, after a minus sign when `negative`.
fn number(w: &mut Writer<'_>, value: u64, negative: bool) -> fmt::Result {
    if negative {
        w.write_char('-')?;
    }
    w.write_str(itoa::Buffer::new().format(value))
}

/// True when `{:?}` of `value` is `value` in quotes: printable ASCII only,
/// with no quote or backslash to escape.
pub(super) fn quotes_as_is(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// No direct way to write a field's value: it goes to `DefaultVisitor`.
const GENERAL: Option<fn(&mut Writer<'_>) -> fmt::Result> = None;

impl Visit for FieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let direct = quotes_as_is(value).then_some(|w: &mut Writer<'_>| {
            w.write_char('"')?;
            w.write_str(value)?;
            w.write_char('"')
        });
        self.field(field, direct, |v| v.record_str(field, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let direct = Some(|w: &mut Writer<'_>| number(w, value, false));
        self.field(field, direct, |v| v.record_u64(field, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let direct = Some(|w: &mut Writer<'_>| number(w, value.unsigned_abs(), value < 0));
        self.field(field, direct, |v| v.record_i64(field, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let direct = Some(|w: &mut Writer<'_>| w.write_str(if value { "true" } else { "false" }));
        self.field(field, direct, |v| v.record_bool(field, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, GENERAL, |v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let direct = Some(|w: &mut Writer<'_>| write!(w, "{value:?}"));
        self.field(field, direct, |v| v.record_debug(field, value));
    }
}

impl VisitOutput<fmt::Result> for FieldsVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for FieldsVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// What a subscriber's lines came to.
    #[derive(Clone, Default)]
    pub struct Lines(pub Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[derive(Debug)]
    struct Failure;

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("it \"broke\"\x1b[31m")
        }
    }

    impl std::error::Error for Failure {}

    /// Every kind of field, as the access line and the rest of the log use
    /// them, in spans too.
    fn events() {
        let peer: std::net::SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let method = http::Method::POST;
        let none: Option<&str> = None;
        tracing::info!(
            target: "twoway::access",
            method = %method,
            route = "front-door",
            api = Some("soap-partner"),
            tenant = none,
            workflow = none,
            status = 200u16,
            problem = none,
            upstream_calls = 1u32,
            upstream_ms = 0u64,
            bytes_in = 512u64,
            bytes_out = 1024u64,
            complete = true,
            peer = %peer,
            trace_id = none,
            request_id = %"0123456789abcdef0123456789abcdef",
            elapsed_ms = 3u64,
            "request"
        );
        tracing::info!(
            quoted = "say \"hi\"",
            backslash = "a\\b",
            control = "tab\there\x1b[0m",
            unicode = "grüße, 東京",
            empty = "",
            negative = -42i64,
            min = i64::MIN,
            max = u64::MAX,
            zero = 0u64,
            no = false,
            float = 1.5f64,
            big = 1u128 << 100,
            r#type = "raw",
            error = &Failure as &(dyn std::error::Error + 'static),
            debug = ?vec!["a", "b"],
            "message with \x1b[1m escapes and {} args",
            7
        );
        tracing::warn!("only a message");
        tracing::info!(a = 1u64, b = "x");
        let span = tracing::info_span!("outer", tenant = "acme", n = 3u64, s = "q\"uote");
        let _outer = span.enter();
        let inner = tracing::info_span!("inner", ok = true);
        let _inner = inner.enter();
        tracing::info!(target: "twoway::access", status = 500u16, "inside spans");
        inner.record("ok", false);
    }

    /// The lines `events` makes with `fields`, colour on or off, no time.
    fn lines<N>(fields: N, ansi: bool) -> String
    where
        N: for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static,
    {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(ansi)
            .without_time()
            .fmt_fields(fields)
            .with_writer(lines.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn fields_are_written_as_tracing_subscriber_writes_them() {
        for ansi in [false, true] {
            let ours = lines(Fields, ansi);
            let theirs = lines(tracing_subscriber::fmt::format::DefaultFields::new(), ansi);
            assert_eq!(ours, theirs, "ansi {ansi}");
        }
        // The access line as it reads (and as its tests read it).
        let ours = lines(Fields, false);
        assert!(
            ours.contains(
                "twoway::access: request method=POST route=\"front-door\" api=\"soap-partner\" status=200 upstream_calls=1"
            ),
            "{ours}"
        );
    }

    #[test]
    fn dates_are_utc_and_gregorian() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00."),
            (68_256_000, "1972-03-01T00:00:00."),
            (951_782_400, "2000-02-29T00:00:00."),
            (1_796_671_506, "2026-12-07T19:25:06."),
            (4_107_542_399, "2100-02-28T23:59:59."),
            (253_402_300_799, "9999-12-31T23:59:59."),
        ] {
            let second = second(unix).unwrap();
            assert_eq!(std::str::from_utf8(&second.text).unwrap(), text, "{unix}");
        }
        assert!(second(253_402_300_800).is_none(), "year 10000");
    }

    #[test]
    fn the_time_reads_as_tracing_subscriber_writes_it() {
        let format = |timer: &dyn FormatTime| {
            let mut text = String::new();
            timer.format_time(&mut Writer::new(&mut text)).unwrap();
            text
        };
        // Twice, in case a second ends between the two readings.
        let (ours, theirs) = (0..3)
            .map(|_| {
                (
                    format(&Time),
                    format(&tracing_subscriber::fmt::time::SystemTime),
                )
            })
            .find(|(ours, theirs)| ours[..19] == theirs[..19])
            .expect("the same second in three tries");
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        assert_eq!(ours.len(), "2026-12-07T18:25:06.123456Z".len());
        assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
        assert!(ours[20..26].bytes().all(|b| b.is_ascii_digit()), "{ours}");
        // Made once a second: a second line within it reads the same head.
        let again = format(&Time);
        assert!(again[..19] >= ours[..19], "{again} after {ours}");
    }
}
