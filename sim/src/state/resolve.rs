//! Names and literals of a query checked against the schema: a path
//! resolved to the reference fields it crosses and the field it reads, a
//! literal read as its field's type; Salesforce's INVALID_FIELD messages.

use super::super::dates;
use super::super::schema::{FieldType, Object, Schema};
use super::super::soql::{self, Op, QueryError, Value};
use super::plan::{FieldRef, Lit};

pub const WSDL: &str = "Please reference your WSDL or the describe call for the appropriate names.";

pub fn no_such_column(name: &str, object: &Object, at: usize) -> QueryError {
    QueryError::new(
        "INVALID_FIELD",
        format!(
            "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. {WSDL}",
            object.name
        ),
        at,
    )
}

/// Resolves `Account.Owner.Name` from `object`; a leading name of the
/// object itself (`Account.Name` FROM Account) is allowed.
pub fn resolve<'s>(
    schema: &'s Schema,
    object: &'s Object,
    segments: &[String],
    at: usize,
) -> Result<FieldRef<'s>, QueryError> {
    let mut segments = segments;
    if segments.len() > 1
        && segments[0].eq_ignore_ascii_case(&object.name)
        && object.relationship(&segments[0]).is_none()
    {
        segments = &segments[1..];
    }
    if segments.len() > 6 {
        return Err(QueryError::malformed(
            "A relationship path can cross at most 5 relationships",
            Some(at),
        ));
    }
    let mut current = object;
    let mut hops = Vec::new();
    let mut names = Vec::new();
    for name in &segments[..segments.len() - 1] {
        let hop = current.relationship(name).ok_or_else(|| {
            QueryError::new(
                "INVALID_FIELD",
                format!("Didn't understand relationship '{name}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. {WSDL}"),
                at,
            )
        })?;
        names.push(hop.relationship_name.clone().unwrap_or_default());
        hops.push(hop);
        let target = hop.reference_to.first().and_then(|t| schema.object(t));
        current = target.ok_or_else(|| no_such_column(name, current, at))?;
    }
    let last = &segments[segments.len() - 1];
    let field = current
        .field(last)
        .ok_or_else(|| no_such_column(last, current, at))?;
    names.push(field.name.clone());
    Ok(FieldRef { hops, field, names })
}

/// A literal read as the type of the field it is compared with.
pub fn literal(
    kind: FieldType,
    name: &str,
    op: Op,
    value: &Value,
    at: usize,
) -> Result<Lit, QueryError> {
    let quoted = matches!(value, Value::Str(_));
    let mismatch = || {
        let (ty, quotes) = match kind {
            k if k.is_text() || matches!(k, FieldType::Id | FieldType::Reference) => {
                ("string", "should be enclosed in quotes")
            }
            k => (
                k.soap_type().trim_start_matches("xsd:"),
                "should not be enclosed in quotes",
            ),
        };
        let _ = quoted;
        QueryError::new(
            "INVALID_FIELD",
            format!(
                "value of filter criterion for field '{name}' must be of type {ty} and {quotes}"
            ),
            at,
        )
    };
    if op == Op::Like && !(kind.is_text() || matches!(kind, FieldType::Id | FieldType::Reference)) {
        return Err(QueryError::new(
            "INVALID_FIELD",
            format!("invalid operator on field: LIKE cannot compare {name}"),
            at,
        ));
    }
    Ok(match (value, kind) {
        (Value::Null, _) => Lit::Null,
        (Value::Str(s), k) if k.is_text() || matches!(k, FieldType::Id | FieldType::Reference) => {
            if op == Op::Like {
                Lit::Pattern(soql::pattern_of(s))
            } else {
                Lit::Text(soql::text_of(s))
            }
        }
        (Value::Number(n), k) if k.is_number() => Lit::Num(*n),
        (Value::Bool(b), FieldType::Boolean) => Lit::Bool(*b),
        (Value::Date(d), FieldType::Date) => Lit::Instant(d.clone()),
        (Value::DateTime(d), FieldType::Datetime) => Lit::Instant(dates::format_datetime(
            dates::parse_datetime(d).ok_or_else(mismatch)?,
        )),
        (Value::DateLiteral(lit, n), FieldType::Date | FieldType::Datetime) => {
            let today = time::OffsetDateTime::now_utc().date();
            let (start, end) = dates::literal_range(lit, *n, today).ok_or_else(mismatch)?;
            Lit::Range(dates::format_date(start), dates::format_date(end))
        }
        _ => return Err(mismatch()),
    })
}
