//! A TOML error told without quoting the file: the key path, the line and
//! column, and the problem with every value literal redacted. A config file
//! may hold a secret pasted where it does not belong (`password = "..."`),
//! and its errors reach the log, `twoway config check` and `/admin/reload`.

/// What replaces a value literal in a message.
const REDACTED: &str = "<redacted>";

/// One problem line for a TOML error in `text`.
pub fn describe(text: &str, error: &toml::de::Error) -> String {
    let message = redact(error.message().trim_end());
    let Some(span) = error.span() else {
        return message;
    };
    let (line, column) = position(text, span.start);
    match key_path(text, line) {
        Some(key) => format!("{key} (line {line}, column {column}): {message}"),
        None => format!("line {line}, column {column}: {message}"),
    }
}

/// 1-based line and column of byte `offset` (columns count characters).
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The dotted key of 1-based `line`: the last table header above it, then
/// the key left of `=` on the line itself (when the line is a key/value).
fn key_path(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    if let Some(header) = table_header(this) {
        return Some(header);
    }
    let table = lines[..line - 1]
        .iter()
        .rev()
        .find_map(|l| table_header(l.trim()));
    let key = this
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| is_key(k));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// `tenant` for `[[tenant]]`, `tenant.auth` for `[tenant.auth]`.
fn table_header(line: &str) -> Option<String> {
    let inner = line
        .strip_prefix("[[")
        .and_then(|l| l.split_once("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.split_once(']')))
        .map(|(name, _)| name.trim())?;
    is_key(inner).then(|| inner.to_string())
}

/// A bare dotted key: nothing that could be a value.
fn is_key(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
}

/// `message` with its value literals replaced, whatever they hold. serde
/// writes a string value in Rust's debug quoting (`invalid type: string
/// "pa\"ss"`: escaped quotes, backslashes, newlines), so a double-quoted
/// literal runs to the first unescaped quote. It writes a variant raw
/// between backticks (`unknown variant `x`, expected ...`), so that literal
/// runs to the last "`, expected" / "`, there are no variants", backticks
/// and newlines inside it included; and other values raw between backticks
/// too (`invalid type: integer `5``). Backticked text stays only where it
/// names a key (`unknown field `password``) or an expected form (after
/// "expected"). A literal with no end redacts the rest of the message.
fn redact(message: &str) -> String {
    const VARIANT: &str = "variant `";
    const VARIANT_ENDS: [&str; 2] = ["`, expected ", "`, there are no variants"];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = if rest[..=start].ends_with(VARIANT) {
            VARIANT_ENDS.iter().filter_map(|e| after.rfind(e)).max()
        } else if rest.as_bytes()[start] == b'"' {
            quoted_end(after)
        } else if !names_a_key_or_form(&out) {
            after.find('`')
        } else {
            let len = after.find('`').unwrap_or(after.len());
            out.push('`');
            out.push_str(&after[..len]);
            out.push('`');
            rest = after.get(len + 1..).unwrap_or("");
            continue;
        };
        let quote = &rest[start..=start];
        out.push_str(quote);
        out.push_str(REDACTED);
        out.push_str(quote);
        rest = match end {
            Some(len) => &after[len + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Whether a backticked literal after `before` names a key or an expected
/// form rather than a value.
fn names_a_key_or_form(before: &str) -> bool {
    before.ends_with("field ") || before.contains("expected")
}

/// Where a debug-quoted string that starts at `text` ends: the byte index
/// of its closing, unescaped `"`.
fn quoted_end(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        let error = toml::from_str::<super::super::raw::RawConfig>(text).unwrap_err();
        describe(text, &error)
    }

    const CANARY: &str = "CANARY-s3cr3t-9f1";

    #[test]
    fn an_unknown_key_names_its_path_and_never_its_value() {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[[tenant]]\nname = \"acme\"\n[tenant.auth]\nkind = \"soap-login\"\npassword = \"{CANARY}\"\n"
        );
        let p = problem(&text);
        assert!(!p.contains(CANARY), "{p}");
        assert!(
            p.starts_with("tenant.auth.password (line 8, column 1)"),
            "{p}"
        );
        assert!(p.contains("unknown field `password`"), "{p}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted() {
        let p = problem(&format!("[server]\nmax_body_kb = \"{CANARY}\"\n"));
        assert!(!p.contains(CANARY), "{p}");
        assert!(p.starts_with("server.max_body_kb (line 2"), "{p}");
        assert!(p.contains("invalid type"), "{p}");
    }

    #[test]
    fn a_syntax_error_on_a_secret_line_gives_the_line_only() {
        let p = problem(&format!("[server]\nlisten = \"{CANARY}\n"));
        assert!(!p.contains(CANARY), "{p}");
        assert!(p.contains("line 2"), "{p}");
        let p = problem(&format!("[server]\n{CANARY}\n"));
        assert!(!p.contains(CANARY), "{p}");
        assert!(p.contains("(line 2, column "), "{p}");
    }

    #[test]
    fn a_value_is_redacted_whole_whatever_its_quoting() {
        // The literal forms a pasted secret can take, each around the canary.
        let literals = [
            format!(r#""pa\"ss-{CANARY}""#),
            r#""pa\\"#.to_string(),
            format!(r#""a`b`{CANARY}`""#),
            format!(r#""line\n{CANARY}\r\t""#),
            format!(r#""pässwörd-{CANARY}-ü→€""#),
            format!("'pa\"ss`{CANARY}'"),
            format!("\"\"\"\nx\"`\n{CANARY}\n\"\"\""),
        ];
        for literal in &literals {
            let p = problem(&format!("[server]\nmax_body_kb = {literal}\n"));
            assert!(!p.contains(CANARY), "{literal}: {p}");
            assert!(
                !p.contains("ss-") && !p.contains("CANARY"),
                "{literal}: {p}"
            );
        }
        // A numeric secret where a string belongs.
        let p = problem("[[tenant]]\nname = \"a\"\napi_keys_env = 987654321012\n");
        assert!(!p.contains("987654321012"), "{p}");
    }

    #[test]
    fn an_unknown_variant_is_redacted_to_its_end() {
        assert_eq!(
            redact("unknown variant `pa`ss, expected `x`\nCANARY`, expected `a` or `b`"),
            "unknown variant `<redacted>`, expected `a` or `b`"
        );
        assert_eq!(
            redact("unknown variant `pa`ss-CANARY`, there are no variants"),
            "unknown variant `<redacted>`, there are no variants"
        );
        assert_eq!(
            redact("invalid type: string \"pa\\\"ss-CANARY\", expected u64"),
            "invalid type: string \"<redacted>\", expected u64"
        );
        assert_eq!(
            redact("invalid type: integer `1234`, expected a string"),
            "invalid type: integer `<redacted>`, expected a string"
        );
        // No closing quote: the rest goes.
        assert_eq!(redact("string \"CANARY\\\" tail"), "string \"<redacted>\"");
    }

    #[test]
    fn an_unknown_variant_is_redacted() {
        assert_eq!(
            redact("unknown variant `hunter2`, expected `a` or `b`"),
            "unknown variant `<redacted>`, expected `a` or `b`"
        );
        assert_eq!(
            redact("invalid type: string \"x\", expected u64"),
            "invalid type: string \"<redacted>\", expected u64"
        );
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(position("a\nbé=c", 5), (2, 3));
        assert_eq!(position("", 10), (1, 1));
    }
}
