//! Cheap, bounded text scanning for answers that are not (or not only)
//! well-formed XML: the HTML Certificate Error page, a quick look at tags,
//! and making upstream text safe to show (session ids redacted, capped).

/// How much of a body the text scanners look at.
pub(crate) const WINDOW: usize = 64 * 1024;
/// Longest snippet or message handed to callers, in characters.
pub(crate) const SNIPPET_CHARS: usize = 200;
/// Longest upstream message kept, in characters.
pub(crate) const MESSAGE_CHARS: usize = 1000;

/// The first `limit` bytes of `body` as text (invalid UTF-8 replaced).
pub(crate) fn window(body: &[u8], limit: usize) -> std::borrow::Cow<'_, str> {
    let window = &body[..body.len().min(limit)];
    // The validator's fast path first: answers are UTF-8, and the lossy
    // decoder walks them more slowly.
    match std::str::from_utf8(window) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(window),
    }
}

/// One markup tag found by [`tags`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag<'a> {
    /// The qualified name (`soapenv:Body`).
    pub name: &'a str,
    /// Where the name's local part starts in it (past its last `:`).
    local_at: usize,
    /// `</x>`.
    pub end: bool,
    /// `<x/>`.
    pub empty: bool,
    /// Byte offset just after the tag's `>`.
    pub after: usize,
}

impl Tag<'_> {
    /// The name without its prefix.
    pub fn local(&self) -> &str {
        &self.name[self.local_at..]
    }
}

/// The element tags of `text`, in order; comments, CDATA, processing
/// instructions and declarations are skipped.
/// Stops at the first unterminated tag.
pub(crate) fn tags(text: &str) -> impl Iterator<Item = Tag<'_>> {
    let mut pos = 0;
    // Each tag costs a search for its `<` and one pass over its name, and
    // its kind is told by its second byte: a scan of a SOAP header (the API
    // usage of every answer) reads a dozen tags.
    std::iter::from_fn(move || {
        loop {
            let start = match text.as_bytes().get(pos..)? {
                // The next tag right after the last one, as in most SOAP.
                [b'<', ..] => pos,
                after => pos + memchr::memchr(b'<', after)?,
            };
            let rest = &text[start..];
            let skip_to = |close: &str, from: usize| {
                let after = rest.as_bytes().get(from..)?;
                let found = match close.as_bytes() {
                    [byte] => memchr::memchr(*byte, after),
                    close => memchr::memmem::find(after, close),
                };
                found.map(|i| start + from + i + close.len())
            };
            let second = rest.as_bytes().get(1).copied();
            if second == Some(b'!') {
                pos = if rest.starts_with("<!--") {
                    skip_to("-->", 4)?
                } else if rest.starts_with("<![CDATA[") {
                    skip_to("]]>", 9)?
                } else {
                    skip_to(">", 2)?
                };
            } else if second == Some(b'?') {
                pos = skip_to(">", 2)?;
            } else {
                let end = second == Some(b'/');
                let name_start = if end { 2 } else { 1 };
                let name = Name::at(&rest[name_start..]);
                let name_end = name_start + name.len;
                // A name without quotes that `>` or `/>` ends ends its tag
                // there (most tags): no search past quoted values.
                let close = match rest.as_bytes().get(name_end..) {
                    Some([b'>', ..]) if !name.quoted => name_end,
                    Some([b'/', b'>', ..]) if !name.quoted => name_end + 1,
                    _ => tag_end(rest)?,
                };
                pos = start + close + 1;
                if name.len == 0 {
                    continue;
                }
                return Some(Tag {
                    name: &rest[name_start..name_end],
                    local_at: name.local_at,
                    end,
                    empty: !end && rest[..close].ends_with('/'),
                    after: pos,
                });
            }
        }
    })
}

/// How [`Name::at`] reads a byte of a tag.
const IN_NAME: u8 = 0;
/// ASCII whitespace, `/` and `>`.
const ENDS_NAME: u8 = 1;
const COLON: u8 = 2;
/// A quote, which [`tag_end`] would take for a value's.
const QUOTE: u8 = 3;
/// The first byte of a character past ASCII.
const WIDE: u8 = 4;
const NAME_BYTES: [u8; 256] = {
    let mut table = [IN_NAME; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | b' ' | b'/' | b'>' => ENDS_NAME,
            b':' => COLON,
            b'"' | b'\'' => QUOTE,
            0x80.. => WIDE,
            _ => IN_NAME,
        };
        b += 1;
    }
    table
};

/// The name at the start of a tag (after its `<` or `</`).
struct Name {
    /// Up to whitespace, `/` or `>`, or the end.
    len: usize,
    /// Where its local part starts (past its last `:`).
    local_at: usize,
    /// It has a quote.
    quoted: bool,
}

impl Name {
    fn at(tag: &str) -> Self {
        let bytes = tag.as_bytes();
        let mut name = Self {
            len: tag.len(),
            local_at: 0,
            quoted: false,
        };
        // ASCII names (all of Salesforce's) by runs of bytes that need no
        // look; from the first other byte on, by characters, for Unicode's
        // whitespace.
        let mut i = 0;
        loop {
            i += bytes[i..]
                .iter()
                .position(|&b| NAME_BYTES[b as usize] != IN_NAME)
                .unwrap_or(bytes.len() - i);
            let Some(&b) = bytes.get(i) else {
                return name;
            };
            match NAME_BYTES[b as usize] {
                ENDS_NAME => {
                    name.len = i;
                    return name;
                }
                COLON => name.local_at = i + 1,
                QUOTE => name.quoted = true,
                _ => {
                    let more = tag[i..].find(|c: char| c.is_whitespace() || c == '/' || c == '>');
                    name.len = more.map_or(tag.len(), |more| i + more);
                    let wide = &bytes[i..name.len];
                    if let Some(colon) = wide.iter().rposition(|&b| b == b':') {
                        name.local_at = i + colon + 1;
                    }
                    name.quoted |= wide.iter().any(|&b| matches!(b, b'"' | b'\''));
                    return name;
                }
            }
            i += 1;
        }
    }
}

/// The offset of the `>` that closes the tag starting `tag`, skipping quoted
/// attribute values.
pub(crate) fn tag_end(tag: &str) -> Option<usize> {
    let bytes = tag.as_bytes();
    let mut at = 0;
    loop {
        let i = at + memchr::memchr3(b'>', b'"', b'\'', &bytes[at..])?;
        match bytes[i] {
            b'>' => return Some(i),
            // A quoted value: on after its closing quote.
            quote => at = i + 1 + memchr::memchr(quote, &bytes[i + 1..])? + 1,
        }
    }
}

/// The reason shown by Salesforce's HTML "Certificate Error" page (the text
/// of the `<i>` element after "Client certificate error:"), if `body` is
/// that page. Any status and content type; only the first [`WINDOW`] bytes count.
pub(crate) fn certificate_error(body: &[u8]) -> Option<String> {
    let head = body.trim_ascii_start();
    let starts = |p: &str| {
        head.get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
    };
    if !(starts("<html") || starts("<!doctype html") || starts("<head")) {
        return None;
    }
    let text = window(body, WINDOW);
    // Only an HTML page is lowercased (a copy of up to WINDOW bytes).
    let lower = text.to_ascii_lowercase();
    let marker = "client certificate error:";
    let at = lower.find(marker)? + marker.len();
    let after = &text[at..];
    let lower_after = &lower[at..];
    let reason = match lower_after.find("<i>") {
        Some(open) if open < 200 => {
            let inner = &after[open + 3..];
            let close = inner
                .to_ascii_lowercase()
                .find("</i>")
                .unwrap_or(inner.len().min(400));
            inner.get(..close).unwrap_or("")
        }
        _ => after.split('<').next().unwrap_or(""),
    };
    let reason = decode_entities(reason);
    Some(cap(&redact(reason.trim()), SNIPPET_CHARS))
}

/// Undoes the five XML entities and numeric character references.
pub(crate) fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| match &tail[1..e] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            num => num
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| num.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'/' | b'=')
}

/// `text` with anything shaped like a session id or access token
/// (`<15 or 18 alphanumerics>!<opaque>`, or the word after `Bearer `)
/// replaced by `[redacted]`.
pub(crate) fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Linear: each `!` looks back over its own run of alphanumerics only,
    // and the token after one is read once (a `!` inside it is skipped).
    let mut covered = 0;
    for (i, _) in text.match_indices('!') {
        if i < covered {
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|b| !b.is_ascii_alphanumeric())
            .map_or(0, |p| p + 1);
        if i - start < 15 {
            continue;
        }
        let end = bytes[i + 1..]
            .iter()
            .position(|&b| !is_token_byte(b) && b != b'!')
            .map_or(bytes.len(), |p| i + 1 + p);
        covered = end;
        if end > i + 1 {
            spans.push((start, end));
        }
    }
    let lower = text.to_ascii_lowercase();
    for scheme in ["bearer ", "oauth "] {
        for (i, _) in lower.match_indices(scheme) {
            let from = i + scheme.len();
            let end = bytes[from..]
                .iter()
                .position(|&b| !is_token_byte(b) && b != b'!')
                .map_or(bytes.len(), |p| from + p);
            if end - from >= 16 {
                spans.push((from, end));
            }
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (start, end) in spans {
        if end <= pos {
            continue;
        }
        out.push_str(&text[pos..start.max(pos)]);
        out.push_str("[redacted]");
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A code or short field from upstream, safe to show: redacted, capped at
/// `max` characters.
pub(crate) fn short(text: &str, max: usize) -> String {
    cap(&redact(text), max)
}

/// A message from upstream, safe to show: redacted, whitespace collapsed, capped.
pub(crate) fn message(text: &str) -> String {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cap(&redact(&collapsed), MESSAGE_CHARS)
}

/// The start of `body` as one line of at most [`SNIPPET_CHARS`] characters,
/// safe to show callers.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = window(body, 2048);
    let collapsed: String = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    cap(&redact(&collapsed), SNIPPET_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twoway_testkit::samples::CERTIFICATE_ERROR_PAGE;

    #[test]
    fn a_tag_ends_at_the_first_unquoted_close() {
        assert_eq!(tag_end("<a>"), Some(2));
        assert_eq!(tag_end(r#"<a b="x>y" c='>'>rest"#), Some(16));
        assert_eq!(tag_end(r#"<a b='say "hi">'>"#), Some(16));
        assert_eq!(tag_end(r#"<a b="unterminated>"#), None);
        assert_eq!(tag_end("<a"), None);
        let found: Vec<_> =
            tags(r#"<?xml version="1.0"?><!-- <no> --><x:a b=">"/><![CDATA[<no>]]></x:a>"#)
                .map(|t| (t.local().to_string(), t.end, t.empty))
                .collect();
        assert_eq!(
            found,
            [
                ("a".to_string(), false, true),
                ("a".to_string(), true, false)
            ]
        );
    }

    #[test]
    fn a_window_is_borrowed_when_valid_and_replaced_where_not() {
        let text = "<a>é</a>".as_bytes();
        assert!(matches!(
            window(text, 64),
            std::borrow::Cow::Borrowed("<a>é</a>")
        ));
        // Cut inside `é`, or not UTF-8 at all: replaced, never refused.
        assert_eq!(window(text, 4), "<a>\u{FFFD}");
        assert_eq!(window(b"<a>\xff</a>", 64), "<a>\u{FFFD}</a>");
    }

    #[test]
    fn finds_the_certificate_error_reason() {
        assert_eq!(
            certificate_error(CERTIFICATE_ERROR_PAGE.as_bytes()).as_deref(),
            Some("No client certificate provided.")
        );
        let escaped =
            CERTIFICATE_ERROR_PAGE.replace("No client certificate provided.", "a &amp; b");
        assert_eq!(
            certificate_error(escaped.as_bytes()).as_deref(),
            Some("a & b")
        );
        assert_eq!(
            certificate_error(b"{\"x\":\"Client certificate error:<i>no</i>\"}"),
            None
        );
        assert_eq!(certificate_error(b"<html><body>hello</body></html>"), None);
    }

    #[test]
    fn redacts_session_ids_and_bearer_tokens() {
        let text =
            "sid 00D36000000bLGT!AQQAQMlp30Zpiy6_abc.def and Bearer abcdefghijklmnopqrstuv end";
        assert_eq!(redact(text), "sid [redacted] and Bearer [redacted] end");
        assert_eq!(redact("Hello! World!"), "Hello! World!");
        assert_eq!(redact("00D5g000004Acme!x"), "[redacted]");
        assert_eq!(
            redact("00D5g000004Acme!AQ!x!y and 00D5g000004Acme!!z"),
            "[redacted] and [redacted]"
        );
    }

    #[test]
    fn redaction_reads_each_byte_a_bounded_number_of_times() {
        // Quadratic before: every `!` read the rest of the text.
        for text in [
            "a!".repeat(200_000),
            "!".repeat(400_000),
            format!("{}!{}", "a".repeat(20), "!x".repeat(200_000)),
        ] {
            let out = redact(&text);
            assert!(out.len() <= text.len());
        }
    }

    #[test]
    fn snippets_are_short_single_lines() {
        let body = format!(
            "<html>\n  <p>{}</p>\n00D5g000004AcmeAAA!AQ123 </html>",
            "x".repeat(50)
        );
        let s = snippet(body.as_bytes());
        assert!(
            !s.contains('\n') && s.contains("[redacted]") && !s.contains("AQ123"),
            "{s}"
        );
        assert!(snippet("y".repeat(5000).as_bytes()).chars().count() <= SNIPPET_CHARS + 1);
        assert_eq!(snippet(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn tags_skip_comments_and_quoted_gt() {
        let text = r#"<?xml version="1.0"?><!-- <no> --><a x="1>2"><b/></a>"#;
        let names: Vec<_> = tags(text).map(|t| (t.name, t.end, t.empty)).collect();
        assert_eq!(
            names,
            [("a", false, false), ("b", false, true), ("a", true, false)]
        );
        assert_eq!(tags("<a unterminated").count(), 0);
    }

    #[test]
    fn tag_names_end_where_a_character_search_ends_them() {
        for (text, name) in [
            ("<a:b>", "a:b"),
            ("<a\x0bb>", "a"),
            ("<a\tb='1'>", "a"),
            ("<a/>", "a"),
            ("<é:a>", "é:a"),
            ("<a\u{a0}b>", "a"),
            ("<éa\u{3000}b>", "éa"),
            ("<a\u{1c}>", "a\u{1c}"),
        ] {
            let reference = text[1..]
                .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .unwrap_or(text.len() - 1);
            assert_eq!(&text[1..1 + reference], name, "{text:?}");
            let found: Vec<_> = tags(text).map(|t| t.name).collect();
            assert_eq!(found, [name], "{text:?}");
        }
        let adjacent: Vec<_> = tags("<a><b>x</b>\n <c/></a>")
            .map(|t| (t.name, t.end))
            .collect();
        assert_eq!(
            adjacent,
            [
                ("a", false),
                ("b", false),
                ("b", true),
                ("c", false),
                ("a", true)
            ]
        );
    }

    /// The tags of `text` as a character search reads them: each name up
    /// to whitespace, `/` or `>`, each tag's end past its quoted values
    /// ([`tag_end`] from its `<`), the local name after the last `:`.
    fn tags_by_search(text: &str) -> Vec<(&str, &str, bool, bool, usize)> {
        let mut found = Vec::new();
        let mut pos = 0;
        while let Some(at) = text[pos..].find('<') {
            let start = pos + at;
            let rest = &text[start..];
            let skipped = [
                ("<!--", "-->"),
                ("<![CDATA[", "]]>"),
                ("<!", ">"),
                ("<?", ">"),
            ]
            .into_iter()
            .find(|(open, _)| rest.starts_with(open));
            if let Some((open, close)) = skipped {
                match rest[open.len()..].find(close) {
                    Some(i) => pos = start + open.len() + i + close.len(),
                    None => break,
                }
                continue;
            }
            let end = rest[1..].starts_with('/');
            let name = &rest[if end { 2 } else { 1 }..];
            let len = name
                .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .unwrap_or(name.len());
            let Some(close) = tag_end(rest) else { break };
            pos = start + close + 1;
            let name = &name[..len];
            if !name.is_empty() {
                let local = name.rsplit(':').next().unwrap_or(name);
                let empty = !end && rest[..close].ends_with('/');
                found.push((name, local, end, empty, pos));
            }
        }
        found
    }

    fn tags_read(text: &str) -> Vec<(&str, &str, bool, bool, usize)> {
        tags(text)
            .map(|t| (t.name, &t.name[t.local_at..], t.end, t.empty, t.after))
            .collect()
    }

    #[test]
    fn tags_are_read_as_a_character_search_reads_them() {
        // Quotes in a name (a value's to the tag's end), names ended by
        // `/>`, colons, non-ASCII names and what a tag's end skips.
        for text in [
            r#"<a"b>c">"#,
            r#"<a"b>"#,
            r#"<a'b>x'/>"#,
            r#"<a"b/>"/><c>"#,
            "<a:b:c>",
            "<:a></a:>",
            "<é:x:y/>",
            "<x:é\u{a0}:y>",
            "<a/ ><a / ></a ></ a>",
            "< a><><//></>",
            r#"<a b='>'/><c d=">"></c>"#,
            "<a\tb='1'\n/>",
            "<!-- <x> --><![CDATA[<y>]]><?p <z>?><!D <w>><v/>",
            "<!--",
            "<a",
            "<a:b",
        ] {
            assert_eq!(tags_read(text), tags_by_search(text), "{text:?}");
        }
        let pieces = ["\"", "'", "/>", "\u{a0}", "x:y:", "<!", "<?", "</"];
        let mut check = |text: &[u8]| {
            if let Ok(text) = std::str::from_utf8(text) {
                assert_eq!(tags_read(text), tags_by_search(text), "{text:?}");
            }
        };
        crate::xml::plain::variants::each(
            twoway_testkit::samples::GET_USER_INFO_RESPONSE,
            &pieces,
            &mut check,
        );
    }

    #[test]
    fn decodes_entities() {
        assert_eq!(
            decode_entities("a&lt;b&#39;&#x41;&bogus;&"),
            "a<b'A&bogus;&"
        );
    }
}
