//! SOQL as users write it, parsed by a bounded recursive-descent grammar:
//! SELECT lists with parent paths (`Account.Name`), child subqueries,
//! aggregates and `FIELDS()`; WHERE with AND/OR/NOT and parentheses,
//! `= != <> < <= > >= LIKE IN NOT IN INCLUDES EXCLUDES`, semi-joins, date
//! and date-time values and date literals (`TODAY`, `LAST_N_DAYS:7`);
//! GROUP BY, HAVING, ORDER BY with ASC/DESC and NULLS FIRST/LAST, LIMIT and
//! OFFSET. Keywords are case-insensitive. Errors carry the offset of the
//! token at fault and render as Salesforce renders them (the query line, a
//! caret, `ERROR at Row:r:Column:c`, the message). The query's meaning
//! (names, types, values) is checked and evaluated in `state::query`.

mod lexer;
mod like;
mod parser;

pub use lexer::LiteralChar;
pub use like::{PatternItem, like, pattern_of, text_of};
pub use parser::parse;

/// The longest query accepted (Salesforce's limit).
pub const MAX_QUERY_CHARS: usize = 100_000;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<SelectItem>,
    pub object: Name,
    pub filter: Option<Expr>,
    pub group_by: Vec<Path>,
    pub having: Option<Expr>,
    pub order_by: Vec<Order>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl Query {
    /// Whether it aggregates (GROUP BY or an aggregate function).
    pub fn is_aggregate(&self) -> bool {
        !self.group_by.is_empty()
            || self
                .select
                .iter()
                .any(|s| matches!(s, SelectItem::Aggregate(_)))
    }
}

/// A name as written, with the offset of its first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub at: usize,
}

/// A dotted field path (`Account.Owner.Name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<String>,
    pub at: usize,
}

impl Path {
    pub fn text(&self) -> String {
        self.segments.join(".")
    }
}

/// One item of a SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Field(Path),
    /// `(SELECT ... FROM ChildRelationship ...)`.
    Subquery(Box<Query>),
    Aggregate(Aggregate),
    /// `FIELDS(ALL | STANDARD | CUSTOM)`.
    Fields(FieldSet, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSet {
    All,
    Standard,
    Custom,
}

/// `COUNT()`, `COUNT(f)`, `SUM(f)`... with an optional alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub function: Function,
    pub arg: Option<Path>,
    pub alias: Option<String>,
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
}

impl Function {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => Self::Count,
            "COUNT_DISTINCT" => Self::CountDistinct,
            "SUM" => Self::Sum,
            "AVG" => Self::Avg,
            "MIN" => Self::Min,
            "MAX" => Self::Max,
            _ => return None,
        })
    }
}

/// A WHERE or HAVING condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: Op,
        value: Value,
        at: usize,
    },
    /// `f IN (...)` / `f NOT IN (...)`, a list or a semi-join.
    In {
        left: Operand,
        values: InValues,
        negated: bool,
        at: usize,
    },
    /// `f INCLUDES ('a;b', 'c')` / `EXCLUDES`.
    Includes {
        left: Operand,
        values: Vec<String>,
        excludes: bool,
        at: usize,
    },
}

/// The left side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Field(Path),
    Aggregate(Aggregate),
}

#[derive(Debug, Clone, PartialEq)]
pub enum InValues {
    List(Vec<Value>),
    Select(Box<Query>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

/// A literal of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Str(Vec<LiteralChar>),
    /// `YYYY-MM-DD`.
    Date(String),
    /// `YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm)`, as written.
    DateTime(String),
    /// `TODAY`, `LAST_N_DAYS:7`...: the name (upper case) and its number.
    DateLiteral(String, Option<i64>),
}

/// One ORDER BY key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub key: Operand,
    pub descending: bool,
    /// NULLS FIRST (true) or LAST; None: Salesforce's default.
    pub nulls_first: Option<bool>,
}

/// A query Salesforce would refuse: its error code, message and the offset
/// of the token at fault (None: no position, e.g. an empty query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
    pub at: Option<usize>,
}

impl QueryError {
    pub fn malformed(message: impl Into<String>, at: Option<usize>) -> Self {
        Self {
            code: "MALFORMED_QUERY",
            message: message.into(),
            at,
        }
    }

    pub fn new(code: &'static str, message: impl Into<String>, at: usize) -> Self {
        Self {
            code,
            message: message.into(),
            at: Some(at),
        }
    }

    /// The message as Salesforce sends it: the query's line, a caret under
    /// the token, `ERROR at Row:r:Column:c` (1-based), then the message.
    pub fn render(&self, query: &str) -> String {
        let Some(at) = self.at else {
            return self.message.clone();
        };
        let before = query.get(..at.min(query.len())).unwrap_or(query);
        let row = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let line = query[line_start..].split('\n').next().unwrap_or("");
        format!(
            "\n{line}\n{}^\nERROR at Row:{row}:Column:{column}\n{}",
            " ".repeat(column - 1),
            self.message
        )
    }
}

#[cfg(test)]
mod tests;
