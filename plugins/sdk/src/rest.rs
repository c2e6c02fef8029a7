//! REST helpers: JSON requests relative to the REST base
//! (`/services/data/v{ver}/`), error arrays turned into
//! upstream faults, and path building (SOQL query paths,
//! percent-encoded segments, `nextRecordsUrl` made relative).
//!
//! Write no `Authorization` header: the host adds the session.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::response::header;
use crate::soap::snippet;
use crate::{Api, OutboundRequest, WorkflowError, send, upstream_fault};

/// What an API answered: the HTTP status and the JSON body (`Null` when empty, as for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct RestResponse {
    /// HTTP status (2xx; errors are returned as `Err`).
    pub status: u16,
    /// The parsed body; `Value::Null` when the body is empty.
    pub body: Value,
}

/// Sends `method path` to `api` (usually [`Api::Rest`]) with an optional
/// JSON body and returns the answer.
///
/// A status of 300 or more is an error: Salesforce's error array
/// `[{"errorCode","message","fields"}]` becomes an upstream fault with the
/// first error's code and every message (fields named), as the host's
/// verdict names them; another body becomes an upstream fault with code
/// `HTTP_{status}`.
pub fn request(
    api: Api,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<RestResponse, WorkflowError> {
    let mut headers = vec![header("accept", "application/json")];
    if body.is_some() {
        headers.push(header("content-type", "application/json"));
    }
    let response = send(&OutboundRequest {
        api,
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    })?;
    crate::soap::failure(response.status, &response.verdict)?;
    if response.status >= 300 {
        return Err(upstream_fault(
            format!("HTTP_{}", response.status),
            snippet(&String::from_utf8_lossy(&response.body)),
        ));
    }
    let parsed = if response.body.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Null)
    } else {
        serde_json::from_slice::<Value>(&response.body)
    };
    match parsed {
        Ok(body) => Ok(RestResponse {
            status: response.status,
            body,
        }),
        Err(e) => Err(upstream_fault(
            "INVALID_JSON",
            format!("the API answered with JSON that cannot be read: {e}"),
        )),
    }
}

/// The fault for the errors of a save result in a 2xx answer
/// (`{"success": false, "errors": [...]}`): the first code, every message
/// with its fields.
fn save_errors(errors: &[Value]) -> WorkflowError {
    let code = errors[0]["errorCode"]
        .as_str()
        .unwrap_or("UNKNOWN_EXCEPTION");
    let messages: Vec<String> = errors
        .iter()
        .map(|e| {
            let message = e["message"].as_str().unwrap_or("").to_string();
            match e["fields"].as_array().filter(|f| !f.is_empty()) {
                Some(fields) => {
                    let names: Vec<&str> = fields.iter().filter_map(Value::as_str).collect();
                    format!("{message} (fields: {})", names.join(", "))
                }
                None => message,
            }
        })
        .collect();
    upstream_fault(code, messages.join("; "))
}

/// `GET path` on the REST API; the JSON body.
pub fn get(path: &str) -> Result<Value, WorkflowError> {
    request(Api::Rest, "GET", path, None).map(|r| r.body)
}

/// `POST path` on the REST API with a JSON body; the JSON answer.
pub fn post_json(path: &str, body: &Value) -> Result<Value, WorkflowError> {
    request(Api::Rest, "POST", path, Some(body)).map(|r| r.body)
}

/// `PATCH path` on the REST API with a JSON body; the JSON answer (`Null` for 204).
/// Use [`request`] when the status matters (upsert: 201 created, 200/204 updated).
pub fn patch_json(path: &str, body: &Value) -> Result<Value, WorkflowError> {
    request(Api::Rest, "PATCH", path, Some(body)).map(|r| r.body)
}

/// `DELETE path` on the REST API.
pub fn delete(path: &str) -> Result<(), WorkflowError> {
    request(Api::Rest, "DELETE", path, None).map(|_| ())
}

/// The first record `soql` finds (as the API returns it, `attributes`
/// included), or `None` when it finds none. Add `LIMIT 1` to the query
/// when only one is wanted; build literals with [`soql::literal`](crate::soql::literal).
pub fn query_first(soql: &str) -> Result<Option<Value>, WorkflowError> {
    let mut page = get(&query_path(soql))?;
    match page.get_mut("records").map(Value::take) {
        Some(Value::Array(records)) => Ok(records.into_iter().next()),
        _ => Err(upstream_fault(
            "INVALID_JSON",
            format!(
                "the query answer has no \"records\" list: {}",
                snippet(&page.to_string())
            ),
        )),
    }
}

/// Creates one `sobject` record (`POST sobjects/{sobject}`) with `fields`
/// (`{"LastName": "Coyote", ...}`) and returns its id.
///
/// Salesforce's error array (`REQUIRED_FIELD_MISSING`, `DUPLICATE_VALUE`,
/// ...) becomes an upstream fault; so does an answer without an id.
pub fn create(sobject: &str, fields: &Value) -> Result<String, WorkflowError> {
    let path = format!("sobjects/{}", encode_segment(sobject));
    let answer = post_json(&path, fields)?;
    let errors = answer["errors"].as_array().filter(|e| !e.is_empty());
    match (answer["id"].as_str(), errors) {
        (_, Some(errors)) if answer["success"] == Value::Bool(false) => Err(save_errors(errors)),
        (Some(id), _) if !id.is_empty() && answer["success"] != Value::Bool(false) => {
            Ok(id.to_string())
        }
        _ => Err(upstream_fault(
            "UNKNOWN_EXCEPTION",
            format!(
                "creating a {sobject} answered without an id: {}",
                snippet(&answer.to_string())
            ),
        )),
    }
}

/// Updates record `id` of `sobject` (`PATCH sobjects/{sobject}/{id}`)
/// with `fields`; Salesforce answers 204 and nothing else.
pub fn update(sobject: &str, id: &str, fields: &Value) -> Result<(), WorkflowError> {
    let path = format!(
        "sobjects/{}/{}",
        encode_segment(sobject),
        encode_segment(id)
    );
    patch_json(&path, fields).map(|_| ())
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded for use as one path segment (`/` becomes `%2F`).
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// The REST path of a SOQL query: `query?q=SELECT+Id+FROM+Account`.
pub fn query_path(soql: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("query?q={q}")
}

/// A URL the REST API returned (`nextRecordsUrl`, `attributes.url`:
/// `/services/data/v62.0/query/01g...-2000`) made relative to the REST base
/// (`query/01g...-2000`). Anything else loses only its leading `/`.
pub fn relative_path(url: &str) -> &str {
    const BASE: &str = "/services/data/";
    match url.find(BASE) {
        Some(at) => {
            let rest = &url[at + BASE.len()..];
            rest.split_once('/').map_or("", |(_version, path)| path)
        }
        None => url.trim_start_matches('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UpstreamError;
    use serde_json::json;

    #[test]
    fn builds_paths() {
        assert_eq!(
            query_path("SELECT Id, Name FROM Account"),
            "query?q=SELECT+Id%2C+Name+FROM+Account"
        );
        assert_eq!(encode_segment("a/b c.d"), "a%2Fb%20c.d");
        assert_eq!(
            relative_path("/services/data/v62.0/query/01gX-2000"),
            "query/01gX-2000"
        );
        assert_eq!(
            relative_path("https://x.example/services/data/v62.0/sobjects/Account/001"),
            "sobjects/Account/001"
        );
        assert_eq!(relative_path("/query/1"), "query/1");
    }

    #[test]
    fn error_answers_are_the_hosts_verdicts() {
        use crate::testing::{FakeHost, response};
        let host = FakeHost::install();
        host.on(Api::Rest, "GET", "sobjects/Account/1").json(
            400,
            &json!([{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}]),
        );
        host.on(Api::Rest, "GET", "down")
            .reply(response(503, "text/html", "<html>down</html>"));
        let e = get("sobjects/Account/1").unwrap_err();
        assert!(
            matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "REQUIRED_FIELD_MISSING" && f.message == "Required fields are missing: [Name] (fields: Name)"),
            "{e:?}"
        );
        let e = get("down").unwrap_err();
        assert!(
            matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "HTTP_503" && f.message == "<html>down</html>"),
            "{e:?}"
        );
    }
}
