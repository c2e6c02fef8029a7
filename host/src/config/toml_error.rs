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

/// `message` with its value literals replaced: serde quotes values in
/// double quotes (`invalid type: string "x"`) and variants in backticks
/// (`unknown variant `x``). Backticked names of keys and expected forms
/// (`unknown field `password``, `expected one of `a`, `b``) stay.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let Some(len) = rest[start + 1..].find(quote) else {
            break;
        };
        let literal = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..start]);
        let keep = quote == '`' && !rest[..start].trim_end().ends_with("variant");
        if keep {
            out.push('`');
            out.push_str(literal);
            out.push('`');
        } else {
            out.push(quote);
            out.push_str(REDACTED);
            out.push(quote);
        }
        rest = &rest[start + 2 + len..];
    }
    out.push_str(rest);
    out
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
