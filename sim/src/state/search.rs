//! SOSL: a term's words (a trailing `*` matches any ending) found in the
//! text fields of records, then each RETURNING object's fields, WHERE,
//! ORDER BY and LIMIT applied by the SOQL engine to the records found.

use super::super::schema::FieldType;
use super::super::soql::{self, Expr, InValues, Name, Operand, Path, Value};
use super::query::{Row, query_error};
use super::records::DataError;
use super::{QueryOptions, State};

/// Which fields a search looks in.
#[derive(Debug, Clone, Copy)]
pub enum SearchScope {
    All,
    Name,
    Email,
    Phone,
}

/// A search: the term, where to look, `(object, "fields [WHERE..] [LIMIT n]")`
/// to return (none: every object, Id only), and the overall limit.
#[derive(Debug, Clone)]
pub struct SearchSpec {
    pub term: String,
    pub scope: SearchScope,
    pub returning: Vec<(String, String)>,
    pub limit: Option<usize>,
}

/// Most records a search returns (Salesforce's limit).
const MAX_RESULTS: usize = 2000;

impl State {
    /// Runs a search; rows of every RETURNING object, in that order.
    pub fn search(&self, org_id: &str, spec: &SearchSpec) -> Result<Vec<Row>, DataError> {
        let words: Vec<String> = spec
            .term
            .split_whitespace()
            .filter(|w| !matches!(w.to_ascii_uppercase().as_str(), "AND" | "OR"))
            .map(|w| w.trim_matches('"').to_lowercase())
            .collect();
        if words
            .iter()
            .all(|w| w.trim_end_matches('*').chars().count() < 2)
        {
            return Err(DataError::new(
                "MALFORMED_SEARCH",
                400,
                "search term must be longer than one character",
            ));
        }
        let returning: Vec<(String, String)> = if spec.returning.is_empty() {
            self.config
                .schema
                .objects
                .iter()
                .map(|o| (o.name.clone(), "Id".to_string()))
                .collect()
        } else {
            spec.returning.clone()
        };
        let limit = spec.limit.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
        let mut rows = Vec::new();
        for (object, inner) in returning {
            let schema = self.schema(&object)?;
            let found: Vec<String> = {
                let inner_lock = self.lock();
                let records = inner_lock
                    .records
                    .get(org_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                records
                    .iter()
                    .filter(|r| r.object == schema.name && !r.is_deleted())
                    .filter(|r| {
                        let texts: Vec<String> = schema
                            .fields
                            .iter()
                            .filter(|f| match spec.scope {
                                SearchScope::All => f.kind.is_text(),
                                SearchScope::Name => f.name == "Name" || f.name.ends_with("Name"),
                                SearchScope::Email => f.kind == FieldType::Email,
                                SearchScope::Phone => f.kind == FieldType::Phone,
                            })
                            .filter_map(|f| r.get(&f.name).map(str::to_lowercase))
                            .collect();
                        words
                            .iter()
                            .all(|w| texts.iter().any(|t| t.contains(w.trim_end_matches('*'))))
                    })
                    .take(MAX_RESULTS)
                    .map(|r| r.id.clone())
                    .collect()
            };
            if found.is_empty() {
                continue;
            }
            let (fields, clauses) = split_clauses(&inner);
            let text = format!("SELECT {fields} FROM {} {clauses}", schema.name);
            let mut query = soql::parse(&text).map_err(|e| query_error(e, &text))?;
            let ids = Expr::In {
                left: Operand::Field(Path {
                    segments: vec!["Id".into()],
                    at: 0,
                }),
                values: InValues::List(
                    found
                        .iter()
                        .map(|id| {
                            Value::Str(
                                id.chars()
                                    .map(|c| soql::LiteralChar { c, escaped: false })
                                    .collect(),
                            )
                        })
                        .collect(),
                ),
                negated: false,
                at: 0,
            };
            query.filter = Some(match query.filter.take() {
                Some(existing) => Expr::And(vec![ids, existing]),
                None => ids,
            });
            query.object = Name {
                text: schema.name.clone(),
                at: 0,
            };
            let page = self.query_parsed(
                org_id,
                &query,
                &text,
                QueryOptions {
                    all_rows: false,
                    batch_size: Some(2000),
                    ..Default::default()
                },
            )?;
            rows.extend(page.rows);
            if rows.len() >= limit {
                rows.truncate(limit);
                break;
            }
        }
        Ok(rows)
    }
}

/// `Id, Name WHERE x = 'a' ORDER BY Name` → (`Id, Name`, `WHERE x = 'a' ORDER BY Name`):
/// a RETURNING list's fields and its clauses, split at the first clause
/// keyword outside a string literal.
fn split_clauses(inner: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    let mut previous = ' ';
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            _ if !quoted && previous.is_whitespace() => {
                let rest = &inner[i..];
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if ["WHERE", "ORDER", "LIMIT", "OFFSET"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&word))
                {
                    return (inner[..i].trim(), rest);
                }
            }
            _ => {}
        }
        previous = c;
    }
    (inner.trim(), "")
}

#[cfg(test)]
mod tests {
    use super::split_clauses;

    #[test]
    fn splits_fields_from_clauses() {
        assert_eq!(split_clauses("Id, Name"), ("Id, Name", ""));
        assert_eq!(
            split_clauses("Id, Name WHERE Name = ' where ' ORDER BY Name LIMIT 5"),
            ("Id, Name", "WHERE Name = ' where ' ORDER BY Name LIMIT 5")
        );
        assert_eq!(split_clauses("Id limit 2"), ("Id", "limit 2"));
    }
}
