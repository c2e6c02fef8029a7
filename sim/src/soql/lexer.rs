//! SOQL's tokens, each with the byte offset where it starts: names
//! (letters, digits, `_`, `.`), string literals with Salesforce's escapes,
//! numbers, dates and date-times, operators and punctuation.

use super::QueryError;

/// One character of a string literal; `escaped` for `\%` and `\_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralChar {
    pub c: char,
    pub escaped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Word(String),
    Str(Vec<LiteralChar>),
    Number(f64, String),
    Date(String),
    DateTime(String),
    Comma,
    Open,
    Close,
    Colon,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    End,
}

impl Tok {
    /// How Salesforce quotes it in "unexpected token: ...".
    pub fn describe(&self) -> String {
        let text = match self {
            Self::End => return "<EOF>".into(),
            Self::Word(w) => w.clone(),
            Self::Str(s) => return format!("'{}'", super::text_of(s)),
            Self::Number(_, text) | Self::Date(text) | Self::DateTime(text) => text.clone(),
            Self::Comma => ",".into(),
            Self::Open => "(".into(),
            Self::Close => ")".into(),
            Self::Colon => ":".into(),
            Self::Eq => "=".into(),
            Self::Ne => "!=".into(),
            Self::Lt => "<".into(),
            Self::Le => "<=".into(),
            Self::Gt => ">".into(),
            Self::Ge => ">=".into(),
        };
        format!("'{text}'")
    }
}

/// The tokens of `text`, ending with [`Tok::End`].
pub fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let tok = match c {
            c if c.is_whitespace() => continue,
            ',' => Tok::Comma,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ':' => Tok::Colon,
            '=' => Tok::Eq,
            '!' if chars.next_if(|(_, c)| *c == '=').is_some() => Tok::Ne,
            '<' if chars.next_if(|(_, c)| *c == '>').is_some() => Tok::Ne,
            '<' if chars.next_if(|(_, c)| *c == '=').is_some() => Tok::Le,
            '<' => Tok::Lt,
            '>' if chars.next_if(|(_, c)| *c == '=').is_some() => Tok::Ge,
            '>' => Tok::Gt,
            '\'' => Tok::Str(literal(&mut chars, at)?),
            c if c.is_ascii_digit()
                || (c == '-' || c == '+')
                    && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit()) =>
            {
                let mut word = String::from(c);
                while let Some((_, c)) = chars.next_if(|(_, c)| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '+')
                }) {
                    word.push(c);
                }
                number_or_date(word, at)?
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = String::from(c);
                while let Some((_, c)) =
                    chars.next_if(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
                {
                    word.push(c);
                }
                Tok::Word(word)
            }
            other => {
                return Err(QueryError::malformed(
                    format!("unexpected token: '{other}'"),
                    Some(at),
                ));
            }
        };
        tokens.push((tok, at));
    }
    tokens.push((Tok::End, text.len()));
    Ok(tokens)
}

/// A token that starts with a digit (or a sign): a number, a date or a date-time.
fn number_or_date(word: String, at: usize) -> Result<Tok, QueryError> {
    let bad = || QueryError::malformed(format!("unexpected token: '{word}'"), Some(at));
    let b = word.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        let valid = if word.len() == 10 {
            crate::dates::parse_date(&word).is_some()
        } else {
            crate::dates::parse_datetime(&word).is_some()
        };
        return match (valid, word.len()) {
            (false, _) => Err(bad()),
            (true, 10) => Ok(Tok::Date(word)),
            (true, _) => Ok(Tok::DateTime(word)),
        };
    }
    match word.parse::<f64>() {
        Ok(n) if n.is_finite() && !word.contains(['e', 'E', ':']) => Ok(Tok::Number(n, word)),
        _ => Err(bad()),
    }
}

/// The rest of a string literal after its opening quote at `start`.
fn literal(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    start: usize,
) -> Result<Vec<LiteralChar>, QueryError> {
    let unterminated = || QueryError::malformed("unterminated string literal", Some(start));
    let mut value = Vec::new();
    loop {
        let (at, c) = chars.next().ok_or_else(unterminated)?;
        let (c, escaped) = match c {
            '\'' => return Ok(value),
            '\\' => match chars.next().ok_or_else(unterminated)?.1 {
                'n' => ('\n', false),
                'r' => ('\r', false),
                't' => ('\t', false),
                'b' => ('\u{8}', false),
                'f' => ('\u{c}', false),
                c @ ('"' | '\'' | '\\') => (c, false),
                c @ ('%' | '_') => (c, true),
                other => {
                    return Err(QueryError::malformed(
                        format!(
                            "Invalid string literal. Illegal character sequence '\\{other}' in string literal."
                        ),
                        Some(at),
                    ));
                }
            },
            other => (other, false),
        };
        value.push(LiteralChar { c, escaped });
    }
}
