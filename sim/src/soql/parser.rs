//! The recursive-descent parser over [`lexer`](super::lexer)'s tokens.
//! Bounded: the text by [`MAX_QUERY_CHARS`], nesting of parentheses by
//! [`MAX_DEPTH`], subqueries to one level as Salesforce allows.

use super::lexer::{Tok, tokenize};
use super::{
    Aggregate, Expr, FieldSet, Function, InValues, MAX_QUERY_CHARS, Name, Op, Operand, Order, Path,
    Query, QueryError, SelectItem, Value,
};

/// Deepest nesting of parentheses in a condition.
const MAX_DEPTH: usize = 32;

/// Words that end a clause, so never a field name or alias.
const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "INCLUDES", "EXCLUDES", "GROUP",
    "BY", "HAVING", "ORDER", "ASC", "DESC", "NULLS", "LIMIT", "OFFSET", "FOR", "WITH", "USING",
    "NULL", "TRUE", "FALSE", "TYPEOF", "END", "ALL", "ROWS",
];

/// Parses `text`.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::malformed(
            format!("SOQL statements cannot be longer than {MAX_QUERY_CHARS} characters."),
            None,
        ));
    }
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let query = p.query(Level::Top)?;
    // `ALL ROWS` (Apex) and `FOR VIEW/REFERENCE/UPDATE` change nothing here.
    if p.keyword("FOR") && !(p.keyword("VIEW") || p.keyword("REFERENCE") || p.keyword("UPDATE")) {
        return Err(p.unexpected());
    }
    if !matches!(p.peek(), Tok::End) {
        return Err(p.unexpected());
    }
    Ok(query)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    /// A child-relationship subquery in a SELECT list.
    Child,
    /// A semi-join `IN (SELECT ...)`.
    SemiJoin,
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].0
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)].0
    }

    fn at(&self) -> usize {
        self.tokens[self.pos].1
    }

    fn bump(&mut self) -> Tok {
        let tok = self.tokens[self.pos].0.clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn unexpected(&self) -> QueryError {
        QueryError::malformed(
            format!("unexpected token: {}", self.peek().describe()),
            Some(self.at()),
        )
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    /// Consumes `kw` when it is next.
    fn keyword(&mut self, kw: &str) -> bool {
        let found = self.is_keyword(kw);
        if found {
            self.bump();
        }
        found
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), QueryError> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), QueryError> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// A name that is not a reserved word.
    fn name(&mut self) -> Result<Name, QueryError> {
        match self.peek() {
            Tok::Word(w) if !is_reserved(w) => {
                let name = Name {
                    text: w.clone(),
                    at: self.at(),
                };
                self.bump();
                Ok(name)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Path, QueryError> {
        let name = self.name()?;
        if name.text.starts_with('.') || name.text.ends_with('.') || name.text.contains("..") {
            return Err(QueryError::malformed(
                format!("unexpected token: '{}'", name.text),
                Some(name.at),
            ));
        }
        Ok(Path {
            segments: name.text.split('.').map(str::to_string).collect(),
            at: name.at,
        })
    }

    fn number(&mut self) -> Result<usize, QueryError> {
        match self.peek() {
            Tok::Number(n, _) if *n >= 0.0 && n.fract() == 0.0 && *n <= 1e9 => {
                let n = *n as usize;
                self.bump();
                Ok(n)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn query(&mut self, level: Level) -> Result<Query, QueryError> {
        self.expect_keyword("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item(level)?);
            if *self.peek() != Tok::Comma {
                break;
            }
            self.bump();
        }
        self.expect_keyword("FROM")?;
        let object = self.name()?;
        // An alias (`FROM Contact c`) is accepted and ignored.
        if matches!(self.peek(), Tok::Word(w) if !is_reserved(w)) {
            self.bump();
        }
        if self.keyword("USING") {
            self.expect_keyword("SCOPE")?;
            self.name()?;
        }
        let filter = if self.keyword("WHERE") {
            Some(self.condition(level)?)
        } else {
            None
        };
        if self.keyword("WITH") {
            // WITH SECURITY_ENFORCED / USER_MODE / SYSTEM_MODE: nothing to enforce.
            self.name()?;
        }
        let mut group_by = Vec::new();
        if self.keyword("GROUP") {
            self.expect_keyword("BY")?;
            loop {
                group_by.push(self.path()?);
                if *self.peek() != Tok::Comma {
                    break;
                }
                self.bump();
            }
        }
        let having = if self.keyword("HAVING") {
            Some(self.condition(level)?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                let key = self.operand()?;
                let descending = if self.keyword("DESC") {
                    true
                } else {
                    self.keyword("ASC");
                    false
                };
                let nulls_first = if self.keyword("NULLS") {
                    if self.keyword("FIRST") {
                        Some(true)
                    } else {
                        self.expect_keyword("LAST")?;
                        Some(false)
                    }
                } else {
                    None
                };
                order_by.push(Order {
                    key,
                    descending,
                    nulls_first,
                });
                if *self.peek() != Tok::Comma {
                    break;
                }
                self.bump();
            }
        }
        let limit = if self.keyword("LIMIT") {
            Some(self.number()?)
        } else {
            None
        };
        let offset = if self.keyword("OFFSET") {
            Some(self.number()?)
        } else {
            None
        };
        Ok(Query {
            select,
            object,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
        })
    }

    fn select_item(&mut self, level: Level) -> Result<SelectItem, QueryError> {
        if *self.peek() == Tok::Open {
            let at = self.at();
            if level != Level::Top {
                return Err(QueryError::malformed("unexpected token: '('", Some(at)));
            }
            self.bump();
            let sub = self.query(Level::Child)?;
            self.expect(Tok::Close)?;
            return Ok(SelectItem::Subquery(Box::new(sub)));
        }
        if let (Tok::Word(w), Tok::Open) = (self.peek(), self.peek_at(1)) {
            if w.eq_ignore_ascii_case("FIELDS") {
                let at = self.at();
                self.bump();
                self.bump();
                let set = match self.bump() {
                    Tok::Word(w) if w.eq_ignore_ascii_case("ALL") => FieldSet::All,
                    Tok::Word(w) if w.eq_ignore_ascii_case("STANDARD") => FieldSet::Standard,
                    Tok::Word(w) if w.eq_ignore_ascii_case("CUSTOM") => FieldSet::Custom,
                    _ => return Err(QueryError::malformed("unexpected token: FIELDS", Some(at))),
                };
                self.expect(Tok::Close)?;
                return Ok(SelectItem::Fields(set, at));
            }
            if Function::from_name(w).is_some() {
                let mut aggregate = self.aggregate()?;
                if matches!(self.peek(), Tok::Word(w) if !is_reserved(w)) {
                    aggregate.alias = Some(self.name()?.text);
                }
                return Ok(SelectItem::Aggregate(aggregate));
            }
        }
        let path = self.path()?;
        Ok(SelectItem::Field(path))
    }

    fn aggregate(&mut self) -> Result<Aggregate, QueryError> {
        let at = self.at();
        let Tok::Word(w) = self.bump() else {
            unreachable!("checked by the caller")
        };
        let function = Function::from_name(&w).expect("checked by the caller");
        self.expect(Tok::Open)?;
        let arg = if *self.peek() == Tok::Close {
            if function != Function::Count {
                return Err(self.unexpected());
            }
            None
        } else {
            Some(self.path()?)
        };
        self.expect(Tok::Close)?;
        Ok(Aggregate {
            function,
            arg,
            alias: None,
            at,
        })
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        if let (Tok::Word(w), Tok::Open) = (self.peek(), self.peek_at(1))
            && Function::from_name(w).is_some()
        {
            return Ok(Operand::Aggregate(self.aggregate()?));
        }
        Ok(Operand::Field(self.path()?))
    }

    /// A condition: terms joined by AND or by OR, never both without
    /// parentheses (Salesforce refuses `a AND b OR c`).
    fn condition(&mut self, level: Level) -> Result<Expr, QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::malformed(
                format!("conditions nest deeper than {MAX_DEPTH} parentheses"),
                Some(self.at()),
            ));
        }
        let first = self.term(level)?;
        let joiner = if self.is_keyword("AND") {
            "AND"
        } else if self.is_keyword("OR") {
            "OR"
        } else {
            self.depth -= 1;
            return Ok(first);
        };
        let mut terms = vec![first];
        while self.keyword(joiner) {
            terms.push(self.term(level)?);
        }
        if self.is_keyword("AND") || self.is_keyword("OR") {
            return Err(self.unexpected());
        }
        self.depth -= 1;
        Ok(if joiner == "AND" {
            Expr::And(terms)
        } else {
            Expr::Or(terms)
        })
    }

    fn term(&mut self, level: Level) -> Result<Expr, QueryError> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.term(level)?)));
        }
        if *self.peek() == Tok::Open {
            self.bump();
            let inner = self.condition(level)?;
            self.expect(Tok::Close)?;
            return Ok(inner);
        }
        let left = self.operand()?;
        let at = self.at();
        let op = match self.peek() {
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Lt => Op::Lt,
            Tok::Le => Op::Le,
            Tok::Gt => Op::Gt,
            Tok::Ge => Op::Ge,
            Tok::Word(w) if w.eq_ignore_ascii_case("LIKE") => Op::Like,
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("NOT") => {
                let negated = self.keyword("NOT");
                self.expect_keyword("IN")?;
                let values = self.in_values(level)?;
                return Ok(Expr::In {
                    left,
                    values,
                    negated,
                    at,
                });
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("INCLUDES") || w.eq_ignore_ascii_case("EXCLUDES") =>
            {
                let excludes = w.eq_ignore_ascii_case("EXCLUDES");
                self.bump();
                self.expect(Tok::Open)?;
                let mut values = Vec::new();
                loop {
                    match self.bump() {
                        Tok::Str(s) => values.push(super::text_of(&s)),
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected());
                        }
                    }
                    if *self.peek() != Tok::Comma {
                        break;
                    }
                    self.bump();
                }
                self.expect(Tok::Close)?;
                return Ok(Expr::Includes {
                    left,
                    values,
                    excludes,
                    at,
                });
            }
            _ => return Err(self.unexpected()),
        };
        self.bump();
        let value = self.value()?;
        Ok(Expr::Compare {
            left,
            op,
            value,
            at,
        })
    }

    fn in_values(&mut self, level: Level) -> Result<InValues, QueryError> {
        self.expect(Tok::Open)?;
        if self.is_keyword("SELECT") {
            if level != Level::Top {
                return Err(QueryError::malformed(
                    "Nesting of semi join sub-selects is not supported",
                    Some(self.at()),
                ));
            }
            let sub = self.query(Level::SemiJoin)?;
            self.expect(Tok::Close)?;
            return Ok(InValues::Select(Box::new(sub)));
        }
        let mut values = Vec::new();
        loop {
            values.push(self.value()?);
            if *self.peek() != Tok::Comma {
                break;
            }
            self.bump();
        }
        self.expect(Tok::Close)?;
        Ok(InValues::List(values))
    }

    fn value(&mut self) -> Result<Value, QueryError> {
        let value = match self.peek().clone() {
            Tok::Str(s) => Value::Str(s),
            Tok::Number(n, _) => Value::Number(n),
            Tok::Date(d) => Value::Date(d),
            Tok::DateTime(d) => Value::DateTime(d),
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "NULL" => Value::Null,
                "TRUE" => Value::Bool(true),
                "FALSE" => Value::Bool(false),
                upper if crate::dates::literal_takes_number(upper) => {
                    self.bump();
                    if *self.peek() != Tok::Colon {
                        return Err(self.unexpected());
                    }
                    self.bump();
                    let n = self.number()? as i64;
                    return Ok(Value::DateLiteral(upper.to_string(), Some(n)));
                }
                upper if crate::dates::is_literal(upper) => {
                    Value::DateLiteral(upper.to_string(), None)
                }
                _ => return Err(self.unexpected()),
            },
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(value)
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}
