//! The SOQL subset the simulator understands:
//! `SELECT f1, f2 FROM Obj [WHERE f = 'v' [AND ...]] [LIMIT n]`.

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub fields: Vec<String>,
    pub object: String,
    pub conditions: Vec<Condition>,
    pub limit: Option<usize>,
}

/// `field = 'value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub value: String,
}

/// MALFORMED_QUERY, with Salesforce's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedQuery(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
    Comma,
    Eq,
}

fn tokenize(text: &str) -> Result<Vec<Token>, MalformedQuery> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Eq);
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => {
                                return Err(MalformedQuery("unterminated string literal".into()));
                            }
                        },
                        Some('\'') => break,
                        Some(other) => value.push(other),
                        None => return Err(MalformedQuery("unterminated string literal".into())),
                    }
                }
                tokens.push(Token::Str(value));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '.' {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(MalformedQuery(format!("unexpected token: '{other}'"))),
        }
    }
    Ok(tokens)
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "unexpected end of query".into(),
        Some(Token::Word(w)) => format!("unexpected token: '{w}'"),
        Some(Token::Str(s)) => format!("unexpected token: ''{s}''"),
        Some(Token::Comma) => "unexpected token: ','".into(),
        Some(Token::Eq) => "unexpected token: '='".into(),
    }
}

fn keyword(token: Option<&Token>, kw: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

/// Parses `text`.
pub fn parse(text: &str) -> Result<Query, MalformedQuery> {
    let tokens = tokenize(text)?;
    let mut it = tokens.iter().peekable();
    if !keyword(it.next(), "SELECT") {
        return Err(MalformedQuery(
            "unexpected token: the query must start with SELECT".into(),
        ));
    }
    let mut fields = Vec::new();
    loop {
        match it.next() {
            Some(Token::Word(w)) if !w.eq_ignore_ascii_case("FROM") => fields.push(w.clone()),
            other => return Err(MalformedQuery(describe(other))),
        }
        if matches!(it.peek(), Some(Token::Comma)) {
            it.next();
        } else {
            break;
        }
    }
    if !keyword(it.next(), "FROM") {
        return Err(MalformedQuery("unexpected token: expecting FROM".into()));
    }
    let object = match it.next() {
        Some(Token::Word(w)) => w.clone(),
        other => return Err(MalformedQuery(describe(other))),
    };
    let mut conditions = Vec::new();
    if keyword(it.peek().copied(), "WHERE") {
        it.next();
        loop {
            let field = match it.next() {
                Some(Token::Word(w)) => w.clone(),
                other => return Err(MalformedQuery(describe(other))),
            };
            if it.next() != Some(&Token::Eq) {
                return Err(MalformedQuery(
                    "only field = 'value' conditions are supported".into(),
                ));
            }
            let value = match it.next() {
                Some(Token::Str(s)) => s.clone(),
                other => return Err(MalformedQuery(describe(other))),
            };
            conditions.push(Condition { field, value });
            if keyword(it.peek().copied(), "AND") {
                it.next();
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if keyword(it.peek().copied(), "LIMIT") {
        it.next();
        match it.next() {
            Some(Token::Word(n)) => {
                limit = Some(
                    n.parse()
                        .map_err(|_| MalformedQuery(format!("unexpected token: '{n}'")))?,
                )
            }
            other => return Err(MalformedQuery(describe(other))),
        }
    }
    if let Some(extra) = it.next() {
        return Err(MalformedQuery(describe(Some(extra))));
    }
    Ok(Query {
        fields,
        object,
        conditions,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_subset() {
        let q = parse(
            "select Id, Name from Account where Industry = 'Energy' AND Name = 'O\\'Brien' limit 5",
        )
        .unwrap();
        assert_eq!(q.fields, ["Id", "Name"]);
        assert_eq!(q.object, "Account");
        assert_eq!(q.conditions.len(), 2);
        assert_eq!(q.conditions[1].value, "O'Brien");
        assert_eq!(q.limit, Some(5));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(parse("").is_err());
        assert!(parse("SELECT FROM Account").is_err());
        assert!(parse("SELECT Id FROM").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name > 'x'").is_err());
        assert!(parse("SELECT Id FROM Account LIMIT x").is_err());
        assert!(parse("SELECT Id FROM Account ORDER BY Name").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name = 'open").is_err());
    }
}
