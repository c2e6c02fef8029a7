//! SOQL text: string literals quoted and escaped the way Salesforce reads
//! them, so a value from the caller can never end the literal early.
//!
//! ```
//! use twoway_plugin::soql;
//!
//! let email = "o'brien@example.com";
//! let q = format!("SELECT Id FROM Contact WHERE Email = {}", soql::literal(email));
//! assert_eq!(q, r"SELECT Id FROM Contact WHERE Email = 'o\'brien@example.com'");
//!
//! let q = format!("SELECT Id FROM Account WHERE Name LIKE {}", soql::like_literal("100%_a"));
//! assert_eq!(q, r"SELECT Id FROM Account WHERE Name LIKE '100\%\_a'");
//! ```
//!
//! Salesforce's escape sequences: `\n`, `\r`, `\t`, `\b`, `\f`, `\"`, `\'`,
//! `\\`, and in a `LIKE` pattern also `\%` and `\_` (a backslash before
//! anything else is a MALFORMED_QUERY). Build a `LIKE` pattern by escaping
//! the caller's part and adding your own wildcards:
//! `format!("'{}%'", soql::like_escape(prefix))`.

/// `text` as a quoted SOQL string literal for `=`, `!=` and `IN`:
/// `O'Brien` becomes `'O\'Brien'`.
pub fn literal(text: &str) -> String {
    quote(&escape(text))
}

/// `text` as a quoted literal for `LIKE` that matches exactly `text`: like
/// [`literal`], and `%` and `_` are escaped so they are not wildcards.
pub fn like_literal(text: &str) -> String {
    quote(&like_escape(text))
}

/// `text` escaped for use inside a quoted literal, without the quotes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            '"' => out.push_str(r#"\""#),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            '\u{8}' => out.push_str(r"\b"),
            '\u{c}' => out.push_str(r"\f"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for use inside a quoted `LIKE` pattern, without the
/// quotes: [`escape`], and `%` and `_` as `\%` and `\_`.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in escape(text).chars() {
        match c {
            '%' => out.push_str(r"\%"),
            '_' => out.push_str(r"\_"),
            c => out.push(c),
        }
    }
    out
}

fn quote(escaped: &str) -> String {
    format!("'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_salesforce_sequence() {
        assert_eq!(literal("plain"), "'plain'");
        assert_eq!(literal(""), "''");
        assert_eq!(literal("O'Brien"), r"'O\'Brien'");
        assert_eq!(literal(r"a\b"), r"'a\\b'");
        assert_eq!(literal(r#"say "hi""#), r#"'say \"hi\"'"#);
        assert_eq!(literal("a\nb\rc\td"), r"'a\nb\rc\td'");
        assert_eq!(literal("\u{8}\u{c}"), r"'\b\f'");
        assert_eq!(literal("100%_é"), "'100%_é'");
    }

    #[test]
    fn a_hostile_value_stays_inside_its_literal() {
        let q = format!(
            "SELECT Id FROM Contact WHERE Email = {}",
            literal(r"x\' OR Name != '")
        );
        assert_eq!(
            q,
            r"SELECT Id FROM Contact WHERE Email = 'x\\\' OR Name != \''"
        );
    }

    #[test]
    fn like_escapes_wildcards_too() {
        assert_eq!(like_literal("50%_off"), r"'50\%\_off'");
        assert_eq!(like_literal("O'Brien\n"), r"'O\'Brien\n'");
        assert_eq!(format!("'{}%'", like_escape("a_b")), r"'a\_b%'");
        // The backslash of an escape is not itself re-escaped.
        assert_eq!(like_literal(r"\%"), r"'\\\%'");
    }
}
