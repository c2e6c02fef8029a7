//! The SOQL subset the simulator understands:
//! `SELECT f1, f2 FROM Obj [WHERE cond [AND cond ...]] [LIMIT n]`, where a
//! condition is `f = 'v'`, `f != 'v'` (or `f <> 'v'`) or `f LIKE 'pattern'`
//! (`%` any run of characters, `_` one character).
//!
//! Comparisons follow Salesforce: text compares case-insensitively for `=`,
//! `!=` and `LIKE` (`Email = 'WILE@coyote.example'` finds
//! `wile@coyote.example`); `Id` compares exactly, as Salesforce's
//! case-sensitive ids do; a null field never equals or is LIKE a value and
//! is always `!=` one. String literals take Salesforce's escapes: `\n`,
//! `\r`, `\t`, `\b`, `\f`, `\"`, `\'`, `\\`, and `\%` / `\_` (a literal `%`
//! / `_` in a LIKE pattern; kept with their backslash elsewhere); any other
//! backslash is a MALFORMED_QUERY.

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub fields: Vec<String>,
    pub object: String,
    pub conditions: Vec<Condition>,
    pub limit: Option<usize>,
}

/// `field = 'value'`, `field != 'value'` or `field LIKE 'pattern'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub comparison: Comparison,
}

/// How a condition compares a field with its literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// `=`: the literal's text, escapes resolved.
    Equals(String),
    /// `!=` or `<>`.
    NotEquals(String),
    /// `LIKE`, as a pattern.
    Like(Vec<PatternItem>),
}

/// One step of a LIKE pattern; characters are lower-cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternItem {
    Char(char),
    /// `_`.
    AnyOne,
    /// `%`.
    AnyRun,
}

impl Condition {
    /// Whether a record whose field holds `value` (`None`: null) satisfies it.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let exact = self.field.eq_ignore_ascii_case("Id");
        let equal = |expected: &str| {
            value.is_some_and(|v| {
                if exact {
                    v == expected
                } else {
                    v.to_lowercase() == expected.to_lowercase()
                }
            })
        };
        match &self.comparison {
            Comparison::Equals(expected) => equal(expected),
            Comparison::NotEquals(expected) => !equal(expected),
            Comparison::Like(pattern) => {
                value.is_some_and(|v| like(pattern, &v.to_lowercase().chars().collect::<Vec<_>>()))
            }
        }
    }
}

/// Whether `text` (lower-cased) matches `pattern`, tracking every text
/// position the pattern so far can reach (linear in each, no backtracking).
fn like(pattern: &[PatternItem], text: &[char]) -> bool {
    // Positions in the text the pattern so far can end at.
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for item in pattern {
        let mut next = vec![false; text.len() + 1];
        match item {
            PatternItem::AnyRun => {
                let mut any = false;
                for (i, slot) in next.iter_mut().enumerate() {
                    any |= reachable[i];
                    *slot = any;
                }
            }
            PatternItem::AnyOne | PatternItem::Char(_) => {
                for i in 0..text.len() {
                    let fits = match item {
                        PatternItem::Char(c) => text[i] == *c,
                        _ => true,
                    };
                    next[i + 1] = reachable[i] && fits;
                }
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

/// MALFORMED_QUERY, with Salesforce's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedQuery(pub String);

/// One character of a string literal; `escaped` for `\%` and `\_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LiteralChar {
    c: char,
    escaped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(Vec<LiteralChar>),
    Comma,
    Eq,
    Ne,
}

/// The literal's text for `=` and `!=`: `\%` and `\_` keep their backslash.
fn text_of(literal: &[LiteralChar]) -> String {
    let mut out = String::new();
    for ch in literal {
        if ch.escaped {
            out.push('\\');
        }
        out.push(ch.c);
    }
    out
}

/// The literal as a LIKE pattern, lower-cased.
fn pattern_of(literal: &[LiteralChar]) -> Vec<PatternItem> {
    let mut out = Vec::new();
    for ch in literal {
        match (ch.c, ch.escaped) {
            ('%', false) => out.push(PatternItem::AnyRun),
            ('_', false) => out.push(PatternItem::AnyOne),
            (c, _) => out.extend(c.to_lowercase().map(PatternItem::Char)),
        }
    }
    out
}

/// The rest of a string literal after its opening quote.
fn literal(chars: &mut impl Iterator<Item = char>) -> Result<Vec<LiteralChar>, MalformedQuery> {
    let unterminated = || MalformedQuery("unterminated string literal".into());
    let mut value = Vec::new();
    loop {
        let (c, escaped) = match chars.next().ok_or_else(unterminated)? {
            '\'' => return Ok(value),
            '\\' => match chars.next().ok_or_else(unterminated)? {
                'n' => ('\n', false),
                'r' => ('\r', false),
                't' => ('\t', false),
                'b' => ('\u{8}', false),
                'f' => ('\u{c}', false),
                c @ ('"' | '\'' | '\\') => (c, false),
                c @ ('%' | '_') => (c, true),
                other => {
                    return Err(MalformedQuery(format!(
                        "Invalid string literal. Illegal character sequence '\\{other}' in string literal."
                    )));
                }
            },
            other => (other, false),
        };
        value.push(LiteralChar { c, escaped });
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, MalformedQuery> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            ',' => tokens.push(Token::Comma),
            '=' => tokens.push(Token::Eq),
            '!' if chars.next_if_eq(&'=').is_some() => tokens.push(Token::Ne),
            '<' if chars.next_if_eq(&'>').is_some() => tokens.push(Token::Ne),
            '\'' => tokens.push(Token::Str(literal(&mut chars)?)),
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut word = String::from(c);
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                {
                    word.push(c);
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
        Some(Token::Str(s)) => format!("unexpected token: ''{}''", text_of(s)),
        Some(Token::Comma) => "unexpected token: ','".into(),
        Some(Token::Eq) => "unexpected token: '='".into(),
        Some(Token::Ne) => "unexpected token: '!='".into(),
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
            let operator = it.next();
            let literal = match it.next() {
                Some(Token::Str(s)) => s,
                other => return Err(MalformedQuery(describe(other))),
            };
            let comparison = match operator {
                Some(Token::Eq) => Comparison::Equals(text_of(literal)),
                Some(Token::Ne) => Comparison::NotEquals(text_of(literal)),
                op if keyword(op, "LIKE") => Comparison::Like(pattern_of(literal)),
                _ => {
                    return Err(MalformedQuery(
                        "only field = 'value', field != 'value' and field LIKE 'pattern' conditions are supported".into(),
                    ));
                }
            };
            conditions.push(Condition { field, comparison });
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

    fn condition(soql_where: &str) -> Condition {
        let q = parse(&format!("SELECT Id FROM Contact WHERE {soql_where}")).unwrap();
        q.conditions.into_iter().next().unwrap()
    }

    #[test]
    fn parses_the_supported_subset() {
        let q = parse(
            "select Id, Name from Account where Industry = 'Energy' AND Name = 'O\\'Brien' AND Phone != '1' AND Website <> '2' AND Name like 'O%' limit 5",
        )
        .unwrap();
        assert_eq!(q.fields, ["Id", "Name"]);
        assert_eq!(q.object, "Account");
        assert_eq!(q.conditions.len(), 5);
        assert_eq!(
            q.conditions[1].comparison,
            Comparison::Equals("O'Brien".into())
        );
        assert_eq!(
            q.conditions[2].comparison,
            Comparison::NotEquals("1".into())
        );
        assert_eq!(
            q.conditions[3].comparison,
            Comparison::NotEquals("2".into())
        );
        assert_eq!(
            q.conditions[4].comparison,
            Comparison::Like(vec![PatternItem::Char('o'), PatternItem::AnyRun])
        );
        assert_eq!(q.limit, Some(5));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(parse("").is_err());
        assert!(parse("SELECT FROM Account").is_err());
        assert!(parse("SELECT Id FROM").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name > 'x'").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name ! 'x'").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name LIKE x").is_err());
        assert!(parse("SELECT Id FROM Account LIMIT x").is_err());
        assert!(parse("SELECT Id FROM Account ORDER BY Name").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name = 'open").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name = 'open\\").is_err());
        let e = parse(r"SELECT Id FROM Account WHERE Name = 'a\d'").unwrap_err();
        assert!(e.0.contains(r"Illegal character sequence '\d'"), "{e}");
    }

    #[test]
    fn resolves_salesforce_escapes() {
        let c = condition(r#"Name = 'a\nb\rc\td\be\ff\"g\'h\\i\%j\_k'"#);
        assert_eq!(
            c.comparison,
            Comparison::Equals("a\nb\rc\td\u{8}e\u{c}f\"g'h\\i\\%j\\_k".into())
        );
    }

    #[test]
    fn text_compares_case_insensitively_and_ids_exactly() {
        let c = condition("Email = 'WILE@Coyote.example'");
        assert!(c.matches(Some("wile@coyote.example")));
        assert!(!c.matches(Some("wile@coyote.example.org")));
        assert!(!c.matches(None));
        assert!(condition("LastName = 'ÉCLAIR'").matches(Some("éclair")));

        let c = condition("Email != 'WILE@coyote.example'");
        assert!(!c.matches(Some("wile@COYOTE.example")));
        assert!(c.matches(Some("road@runner.example")));
        assert!(c.matches(None), "null is != any value");

        let c = condition("Id = '003000000000001AAA'");
        assert!(c.matches(Some("003000000000001AAA")));
        assert!(!c.matches(Some("003000000000001aaa")));
    }

    #[test]
    fn like_matches_wildcards_case_insensitively() {
        let c = condition("Email LIKE '%@COYOTE.example'");
        assert!(c.matches(Some("wile@coyote.example")));
        assert!(!c.matches(Some("wile@coyote.example.org")));
        assert!(!c.matches(None));
        let c = condition("Name LIKE 'w_le%'");
        assert!(c.matches(Some("Wile E. Coyote")));
        assert!(c.matches(Some("wyle")));
        assert!(!c.matches(Some("wle")));
        let c = condition(r"Name LIKE '100\%\_%'");
        assert!(c.matches(Some("100%_ sure")));
        assert!(!c.matches(Some("100 percent")));
        assert!(!c.matches(Some("100%x")));
        let c = condition("Name LIKE '%a%b%'");
        assert!(c.matches(Some("xxAyyBzz")));
        assert!(!c.matches(Some("bxa")));
        assert!(condition("Name LIKE ''").matches(Some("")));
        assert!(!condition("Name LIKE ''").matches(Some("x")));
    }
}
