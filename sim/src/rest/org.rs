//! Org-wide REST resources: Limits, SOSL search (`/search?q=FIND {...}`)
//! and parameterized search.

use serde_json::{Value, json};

use super::super::reply::Reply;
use super::super::state::{SearchScope, SearchSpec};
use super::{Rest, data_error, json as rjson, param};

/// `GET /limits`: the org's API requests as counted; the rest at their full allowance.
pub fn limits(api: &Rest<'_, '_>) -> Reply {
    let (used, max) = api.state().api_usage(api.org());
    let full = |max: u64| json!({ "Max": max, "Remaining": max });
    Reply::json(
        200,
        &json!({
            "ConcurrentAsyncGetReportInstances": full(200),
            "DailyApiRequests": { "Max": max, "Remaining": max.saturating_sub(used) },
            "DailyAsyncApexExecutions": full(250000),
            "DailyBulkApiBatches": full(15000),
            "DailyBulkV2QueryFileStorageMB": full(976562),
            "DailyBulkV2QueryJobs": full(10000),
            "DataStorageMB": full(5),
            "FileStorageMB": full(20),
            "HourlyTimeBasedWorkflow": full(1000),
            "SingleEmail": full(5000),
        }),
    )
}

fn malformed(message: &str) -> Reply {
    Reply::rest_error(400, "MALFORMED_SEARCH", message)
}

/// `GET /search?q=FIND {term} [IN x FIELDS] [RETURNING Obj(fields ...), ...] [LIMIT n]`.
pub fn search(api: &Rest<'_, '_>, query: &str) -> Reply {
    let Some(text) = param(query, "q") else {
        return malformed("A search string has to be specified");
    };
    match parse_sosl(&text) {
        Ok(spec) => run(api, &spec),
        Err(message) => malformed(&message),
    }
}

/// `GET /parameterizedSearch?q=term&sobject=Account&Account.fields=Id,Name&in=ALL`.
pub fn parameterized_search(api: &Rest<'_, '_>, query: &str) -> Reply {
    let Some(term) = param(query, "q") else {
        return malformed("A search string has to be specified");
    };
    let objects: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "sobject")
        .map(|(_, object)| {
            let fields = param(query, &format!("{object}.fields")).unwrap_or_else(|| "Id".into());
            let limit = param(query, &format!("{object}.limit"))
                .map(|l| format!(" LIMIT {l}"))
                .unwrap_or_default();
            (object.into_owned(), format!("{fields}{limit}"))
        })
        .collect();
    let scope = match param(query, "in")
        .map(|s| s.to_ascii_uppercase())
        .as_deref()
    {
        Some("NAME") => SearchScope::Name,
        Some("EMAIL") => SearchScope::Email,
        Some("PHONE") => SearchScope::Phone,
        _ => SearchScope::All,
    };
    let limit = param(query, "overallLimit").and_then(|l| l.parse().ok());
    run(
        api,
        &SearchSpec {
            term,
            scope,
            returning: objects,
            limit,
        },
    )
}

fn run(api: &Rest<'_, '_>, spec: &SearchSpec) -> Reply {
    match api.state().search(api.org(), spec) {
        Ok(rows) => {
            let records: Vec<Value> = rows.iter().map(|r| rjson::row(api.version, r)).collect();
            Reply::json(200, &json!({ "searchRecords": records }))
        }
        Err(e) => data_error(&e),
    }
}

/// Splits SOSL into its term, scope, RETURNING list and limit.
fn parse_sosl(text: &str) -> Result<SearchSpec, String> {
    let trimmed = text.trim_start();
    let rest = trimmed
        .get(..4)
        .filter(|k| k.eq_ignore_ascii_case("FIND"))
        .map(|_| trimmed[4..].trim_start())
        .ok_or("unexpected token: the search must start with FIND")?;
    let body = rest
        .strip_prefix('{')
        .ok_or("unexpected token: expecting '{' after FIND")?;
    let mut term = String::new();
    let mut chars = body.char_indices();
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => term.extend(chars.next().map(|(_, c)| c)),
            '}' => {
                end = Some(i + 1);
                break;
            }
            c => term.push(c),
        }
    }
    let end = end.ok_or("unterminated search term: expecting '}'")?;
    let mut rest = body[end..].trim();
    let mut scope = SearchScope::All;
    if let Some(after) = strip_keyword(rest, "IN") {
        let (word, after) = after
            .trim_start()
            .split_once(char::is_whitespace)
            .ok_or("unexpected end of search: expecting FIELDS")?;
        scope = match word.to_ascii_uppercase().as_str() {
            "ALL" => SearchScope::All,
            "NAME" => SearchScope::Name,
            "EMAIL" => SearchScope::Email,
            "PHONE" => SearchScope::Phone,
            other => return Err(format!("unexpected token: '{other}'")),
        };
        rest = strip_keyword(after.trim(), "FIELDS")
            .ok_or("unexpected token: expecting FIELDS")?
            .trim();
    }
    let mut returning = Vec::new();
    if let Some(after) = strip_keyword(rest, "RETURNING") {
        rest = after.trim();
        loop {
            let name_end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(name_end);
            if name.is_empty() {
                return Err(format!(
                    "unexpected token: '{}'",
                    after.chars().next().unwrap_or(' ')
                ));
            }
            let mut after = after.trim_start();
            let mut inner = "Id".to_string();
            if let Some(open) = after.strip_prefix('(') {
                let close =
                    matching_paren(open).ok_or("unterminated RETURNING list: expecting ')'")?;
                inner = open[..close].trim().to_string();
                after = open[close + 1..].trim_start();
            }
            returning.push((name.to_string(), inner));
            match after.strip_prefix(',') {
                Some(more) => rest = more.trim_start(),
                None => {
                    rest = after;
                    break;
                }
            }
        }
    }
    let mut limit = None;
    if let Some(after) = strip_keyword(rest, "LIMIT") {
        limit = Some(
            after
                .trim()
                .parse()
                .map_err(|_| format!("unexpected token: '{}'", after.trim()))?,
        );
        rest = "";
    }
    if !rest.trim().is_empty() {
        return Err(format!(
            "unexpected token: '{}'",
            rest.split_whitespace().next().unwrap_or("")
        ));
    }
    Ok(SearchSpec {
        term,
        scope,
        returning,
        limit,
    })
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let after = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword)
        && after.starts_with(|c: char| c.is_whitespace() || c == '(')
        || head.eq_ignore_ascii_case(keyword) && after.is_empty())
    .then_some(after)
}

/// The offset of the `)` closing an already-open parenthesis, skipping quoted text.
fn matching_paren(text: &str) -> Option<usize> {
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth == 0 => return Some(i),
            ')' if !quoted => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sosl() {
        let spec = parse_sosl("FIND {Acme\\}} IN NAME FIELDS RETURNING Account(Id, Name WHERE Industry = 'x (y)' LIMIT 5), Contact LIMIT 20").unwrap();
        assert_eq!(spec.term, "Acme}");
        assert!(matches!(spec.scope, SearchScope::Name));
        assert_eq!(
            spec.returning,
            [
                (
                    "Account".to_string(),
                    "Id, Name WHERE Industry = 'x (y)' LIMIT 5".to_string()
                ),
                ("Contact".to_string(), "Id".to_string())
            ]
        );
        assert_eq!(spec.limit, Some(20));
        assert!(parse_sosl("FIND Acme").is_err());
        assert!(parse_sosl("FIND {Acme").is_err());
        assert!(parse_sosl("SEARCH {Acme}").is_err());
        assert!(parse_sosl("FIND {Acme} RETURNING Account(Id").is_err());
        assert!(parse_sosl("FIND {Acme} bogus").is_err());
    }
}
