//! REST endpoints under `/services/data/`: the version list and resource
//! list, query and queryAll with paging, sObjects (in [`sobjects`]),
//! composite (in [`composite`]), search and limits (in [`org`]) and Bulk
//! 2.0 (in [`bulk2`]), with error arrays and `Sforce-Limit-Info` as
//! Salesforce sends them.

mod bulk2;
mod collections;
mod composite;
pub mod json;
mod org;
pub(crate) mod sobjects;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::reply::Reply;
use super::state::{DataError, QueryOptions, Session};
use super::{Call, Denied, versions};

/// The REST reply for a request refused before it reached the API.
pub fn denied(d: Denied) -> Reply {
    match d {
        Denied::InvalidSession => {
            Reply::rest_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        }
        Denied::MutualAuthRequired => Reply::rest_error(
            401,
            "MUTUAL_AUTHENTICATION_FAILED",
            "This session could not be mutually authenticated for the use with REST API",
        ),
        Denied::LimitExceeded => Reply::rest_error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ),
        Denied::Page(reply) => reply,
    }
}

/// A data error as REST's one-entry error array.
pub fn data_error(e: &DataError) -> Reply {
    Reply::json(e.http_status, &json!([json::error(e)]))
}

pub fn not_found() -> Reply {
    Reply::rest_error(404, "NOT_FOUND", "The requested resource does not exist")
}

/// The bearer token of `Authorization: Bearer x` or `Authorization: OAuth x`.
pub fn bearer(call: &Call<'_>) -> Option<String> {
    let value = call.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_string())
}

/// One authorized REST request, as the resources see it.
pub struct Rest<'a, 'c> {
    pub call: &'a Call<'c>,
    pub session: &'a Session,
    pub version: &'a str,
}

impl Rest<'_, '_> {
    pub fn org(&self) -> &str {
        &self.session.org_id
    }

    pub fn user(&self) -> &str {
        &self.session.user.id
    }

    pub fn state(&self) -> &super::state::State {
        &self.call.ctx.state
    }
}

/// Handles any request under `/services/data`.
pub fn handle(call: &Call<'_>) -> Reply {
    let rest = call
        .path
        .trim_start_matches("/services/data")
        .trim_start_matches('/');
    if rest.is_empty() {
        return Reply::json(200, &versions::list_json());
    }
    let (version, resource) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(version) = version
        .strip_prefix('v')
        .filter(|v| versions::served(v).is_some())
    else {
        return not_found();
    };
    let token = bearer(call);
    let (session, usage) = match call.authorize(token.as_deref()) {
        Ok(ok) => ok,
        Err(d) => return denied(d),
    };
    let api = Rest {
        call,
        session: &session,
        version,
    };
    let reply = route(
        &api,
        call.method.as_str(),
        resource,
        &call.query,
        &call.body,
    );
    reply.with_header(
        "sforce-limit-info",
        format!("api-usage={}/{}", usage.0, usage.1),
    )
}

/// Percent-decoded path segments: an external id `new/1` arrives as `new%2F1`.
fn segments(resource: &str) -> Vec<String> {
    resource
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// A decoded query-string parameter of `query`.
pub fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Routes a resource (also composite subrequests, which pass their own
/// method, query and body).
pub fn route(api: &Rest<'_, '_>, method: &str, resource: &str, query: &str, body: &[u8]) -> Reply {
    let decoded = segments(resource);
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (method, segs.as_slice()) {
        ("GET", []) => resources(api.version),
        ("GET", [kind @ ("query" | "queryAll")]) => match param(query, "q") {
            Some(q) if param(query, "columns").as_deref() == Some("true") => {
                match crate::soql::parse(&q) {
                    Ok(parsed) => Reply::json(200, &json::columns(&parsed)),
                    Err(e) => Reply::rest_error(400, e.code, &e.message),
                }
            }
            Some(q) => run_query(api, &q, *kind == "queryAll"),
            None => Reply::rest_error(400, "MALFORMED_QUERY", "A query string has to be specified"),
        },
        ("GET", [kind @ ("query" | "queryAll"), locator]) => {
            let Some((cursor, offset)) = locator.rsplit_once('-') else {
                return Reply::rest_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
            };
            let offset = offset.parse().unwrap_or(usize::MAX);
            match api.state().page(api.org(), cursor, offset) {
                Ok(page) => Reply::json(200, &json::page(api.version, &page, *kind == "queryAll")),
                Err(e) => data_error(&e),
            }
        }
        (_, ["sobjects", rest @ ..]) => sobjects::route(api, method, rest, query, body),
        (_, ["composite", rest @ ..]) => composite::route(api, method, rest, query, body),
        (_, ["jobs", rest @ ..]) => bulk2::route(api, method, rest, query, body),
        ("GET", ["limits"]) => org::limits(api),
        ("GET", ["search"]) => org::search(api, query),
        ("GET", ["parameterizedSearch"]) => org::parameterized_search(api, query),
        _ => not_found(),
    }
}

/// `GET /services/data/vXX.X/`: the resources of a version.
fn resources(version: &str) -> Reply {
    let base = format!("/services/data/v{version}");
    let mut map = serde_json::Map::new();
    for name in [
        "sobjects",
        "query",
        "queryAll",
        "search",
        "parameterizedSearch",
        "composite",
        "limits",
        "jobs",
    ] {
        map.insert(name.into(), json!(format!("{base}/{name}")));
    }
    Reply::json(200, &Value::Object(map))
}

fn run_query(api: &Rest<'_, '_>, text: &str, all: bool) -> Reply {
    // `Sforce-Query-Options: batchSize=500`.
    let batch_size = api
        .call
        .header("sforce-query-options")
        .and_then(|h| {
            h.split(',')
                .find_map(|kv| kv.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse().ok());
    let options = QueryOptions {
        all_rows: all,
        batch_size,
        ..Default::default()
    };
    match api.state().query(api.org(), text, options) {
        Ok(page) => Reply::json(200, &json::page(api.version, &page, all)),
        Err(e) => data_error(&e),
    }
}

/// A JSON object body as field strings (numbers and booleans as text; null as "").
pub fn fields(body: &[u8]) -> Result<BTreeMap<String, String>, Reply> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Reply::rest_error(
            400,
            "JSON_PARSER_ERROR",
            &format!("Unexpected character in the request body: {e}"),
        )
    })?;
    object_fields(&value)
}

/// The fields of one JSON record (its `attributes` left out).
pub fn object_fields(value: &Value) -> Result<BTreeMap<String, String>, Reply> {
    let Value::Object(map) = value else {
        return Err(Reply::rest_error(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sObject: the body must be a JSON object",
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "attributes") {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(Reply::rest_error(
                    400,
                    "JSON_PARSER_ERROR",
                    &format!(
                        "Cannot deserialize instance of {k}: a field's value must be a string, number, boolean or null"
                    ),
                ));
            }
        };
        out.insert(k.clone(), text);
    }
    Ok(out)
}
