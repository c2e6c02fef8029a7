//! REST endpoints under `/services/data/`: versions, query with paging,
//! sObject create/read/update/delete/upsert and composite, with error arrays
//! and `Sforce-Limit-Info` as Salesforce sends them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::reply::Reply;
use super::state::{DataError, QueryPage, Record, Session};
use super::{Call, Denied, soql};

const VERSIONS: &[(&str, &str)] = &[
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
    ("63.0", "Spring '25"),
    ("64.0", "Summer '25"),
    ("65.0", "Winter '26"),
];

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

fn data_error(e: &DataError) -> Reply {
    let mut error = json!({ "message": e.message, "errorCode": e.code });
    if !e.fields.is_empty() {
        error["fields"] = json!(e.fields);
    }
    Reply::json(e.http_status, &json!([error]))
}

fn not_found() -> Reply {
    Reply::rest_error(404, "NOT_FOUND", "The requested resource does not exist")
}

/// A data error on an `sobjects/{type}/...` URL: an unknown type is a
/// resource that does not exist (404), not a bad query (INVALID_TYPE).
fn sobject_error(e: &DataError) -> Reply {
    if e.code == "INVALID_TYPE" {
        return not_found();
    }
    data_error(e)
}

/// A save result as REST writes it: `{"id":..,"errors":[],"success":true}`.
fn saved(status: u16, id: &str, created: Option<bool>) -> Reply {
    let mut body = json!({ "id": id, "errors": [], "success": true });
    if let Some(created) = created {
        body["created"] = json!(created);
    }
    Reply::json(status, &body)
}

/// The bearer token of `Authorization: Bearer x` or `Authorization: OAuth x`.
pub fn bearer(call: &Call<'_>) -> Option<String> {
    let value = call.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_string())
}

/// Handles any request under `/services/data`.
pub fn handle(call: &Call<'_>) -> Reply {
    let rest = call
        .path
        .trim_start_matches("/services/data")
        .trim_start_matches('/');
    if rest.is_empty() {
        let list: Vec<Value> = VERSIONS
            .iter()
            .map(|(v, label)| json!({ "label": label, "url": format!("/services/data/v{v}"), "version": v }))
            .collect();
        return Reply::json(200, &Value::Array(list));
    }
    let (version, resource) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(version) = version
        .strip_prefix('v')
        .filter(|v| VERSIONS.iter().any(|(known, _)| known == v))
    else {
        return not_found();
    };
    let token = bearer(call);
    let (session, usage) = match call.authorize(token.as_deref()) {
        Ok(ok) => ok,
        Err(d) => return denied(d),
    };
    let reply = route(
        call,
        &session,
        version,
        call.method.as_str(),
        resource.trim_end_matches('/'),
        &call.body,
    );
    reply.with_header(
        "sforce-limit-info",
        format!("api-usage={}/{}", usage.0, usage.1),
    )
}

fn route(
    call: &Call<'_>,
    session: &Session,
    version: &str,
    method: &str,
    resource: &str,
    body: &[u8],
) -> Reply {
    // Segments are percent-decoded: an external id `new/1` arrives as `new%2F1`.
    let decoded: Vec<String> = resource
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        ("GET", []) => Reply::json(
            200,
            &json!({
                "sobjects": format!("/services/data/v{version}/sobjects"),
                "query": format!("/services/data/v{version}/query"),
                "composite": format!("/services/data/v{version}/composite"),
            }),
        ),
        ("GET", ["query"]) => match call.query_param("q") {
            Some(q) => query(call, session, version, &q),
            None => Reply::rest_error(400, "MALFORMED_QUERY", "A query string has to be specified"),
        },
        ("GET", ["query", locator]) => {
            let Some((cursor, offset)) = locator.rsplit_once('-') else {
                return Reply::rest_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
            };
            let offset = offset.parse().unwrap_or(usize::MAX);
            match call.ctx.state.page(&session.org_id, cursor, offset) {
                Ok(page) => Reply::json(200, &page_json(version, &page)),
                Err(e) => data_error(&e),
            }
        }
        ("POST", ["sobjects", object]) => match fields(body) {
            Ok(fields) => match call.ctx.state.create(&session.org_id, object, &fields) {
                Ok(id) => saved(201, &id, None),
                Err(e) => sobject_error(&e),
            },
            Err(reply) => reply,
        },
        ("GET", ["sobjects", object, id]) => {
            match call.ctx.state.get(&session.org_id, object, id) {
                Ok(record) => Reply::json(200, &record_json(version, &record, None)),
                Err(e) => sobject_error(&e),
            }
        }
        ("PATCH", ["sobjects", object, id]) => match fields(body) {
            Ok(fields) => match call
                .ctx
                .state
                .get(&session.org_id, object, id)
                .and_then(|_| call.ctx.state.update(&session.org_id, id, &fields))
            {
                Ok(()) => Reply::empty(204),
                Err(e) => sobject_error(&e),
            },
            Err(reply) => reply,
        },
        ("DELETE", ["sobjects", object, id]) => match call
            .ctx
            .state
            .get(&session.org_id, object, id)
            .and_then(|_| call.ctx.state.delete(&session.org_id, id))
        {
            Ok(()) => Reply::empty(204),
            Err(e) => sobject_error(&e),
        },
        ("PATCH", ["sobjects", object, field, value]) => match fields(body) {
            Ok(fields) => {
                match call
                    .ctx
                    .state
                    .upsert(&session.org_id, object, field, value, &fields)
                {
                    Ok((id, created)) => saved(if created { 201 } else { 200 }, &id, Some(created)),
                    Err(e) => sobject_error(&e),
                }
            }
            Err(reply) => reply,
        },
        ("POST", ["composite"]) => composite(call, session, version, body),
        _ => not_found(),
    }
}

fn query(call: &Call<'_>, session: &Session, version: &str, text: &str) -> Reply {
    let parsed = match soql::parse(text) {
        Ok(q) => q,
        Err(e) => return Reply::rest_error(400, "MALFORMED_QUERY", &e.0),
    };
    match call.ctx.state.query(&session.org_id, &parsed) {
        Ok(page) => Reply::json(200, &page_json(version, &page)),
        Err(e) => data_error(&e),
    }
}

fn page_json(version: &str, page: &QueryPage) -> Value {
    let records: Vec<Value> = page
        .records
        .iter()
        .map(|r| record_json(version, r, Some(&page.fields)))
        .collect();
    let mut out =
        json!({ "totalSize": page.total, "done": page.next.is_none(), "records": records });
    if let Some(next) = &page.next {
        out["nextRecordsUrl"] = json!(format!("/services/data/v{version}/query/{next}"));
    }
    out
}

/// A record as REST writes it; `fields` None means every field.
fn record_json(version: &str, record: &Record, fields: Option<&[String]>) -> Value {
    let mut map = Map::new();
    map.insert(
        "attributes".into(),
        json!({ "type": record.object, "url": format!("/services/data/v{version}/sobjects/{}/{}", record.object, record.id) }),
    );
    match fields {
        Some(fields) => {
            for f in fields {
                map.insert(f.clone(), record.get(f).map_or(Value::Null, |v| json!(v)));
            }
        }
        None => {
            map.insert("Id".into(), json!(record.id));
            for (k, v) in &record.fields {
                map.insert(k.clone(), json!(v));
            }
        }
    }
    Value::Object(map)
}

/// A JSON object body as field strings (numbers and booleans as text; null as "").
fn fields(body: &[u8]) -> Result<BTreeMap<String, String>, Reply> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Reply::rest_error(
            400,
            "JSON_PARSER_ERROR",
            &format!("Unexpected character in the request body: {e}"),
        )
    })?;
    object_fields(&value)
}

fn object_fields(value: &Value) -> Result<BTreeMap<String, String>, Reply> {
    let Value::Object(map) = value else {
        return Err(Reply::rest_error(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sObject: the body must be a JSON object",
        ));
    };
    Ok(map
        .iter()
        .filter(|(k, _)| k.as_str() != "attributes")
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

const MAX_SUBREQUESTS: usize = 25;

/// A composite request: subrequests in order, `@{ref.field}` taken from
/// earlier answers. Under allOrNone the first failure rolls back what came
/// before it (the org's records are restored; the simulator does not isolate
/// this from concurrent requests) and every other subrequest is reported as
/// PROCESSING_HALTED.
fn composite(call: &Call<'_>, session: &Session, version: &str, body: &[u8]) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Reply::rest_error(
            400,
            "JSON_PARSER_ERROR",
            "The composite request body is not valid JSON",
        );
    };
    let all_or_none = request["allOrNone"].as_bool().unwrap_or(false);
    let Some(subrequests) = request["compositeRequest"].as_array() else {
        return Reply::rest_error(400, "INVALID_INPUT", "compositeRequest is required");
    };
    if subrequests.len() > MAX_SUBREQUESTS {
        return Reply::rest_error(
            400,
            "LIMIT_EXCEEDED",
            "A composite request can have at most 25 subrequests",
        );
    }
    let state = &call.ctx.state;
    let snapshot = all_or_none.then(|| state.snapshot(&session.org_id));
    let mut results: Vec<Value> = Vec::new();
    let mut outputs: BTreeMap<String, Value> = BTreeMap::new();
    let mut failed = None;
    for (i, sub) in subrequests.iter().enumerate() {
        let reference = sub["referenceId"].as_str().unwrap_or("").to_string();
        if failed.is_some() {
            results.push(halted(&reference));
            continue;
        }
        let (status, body) = subrequest(call, session, version, sub, &outputs);
        if status >= 400 && all_or_none {
            failed = Some(i);
        }
        outputs.insert(reference.clone(), body.clone());
        results.push(json!({ "body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference }));
    }
    if let (Some(failed), Some(snapshot)) = (failed, snapshot) {
        state.restore(&session.org_id, snapshot);
        for result in &mut results[..failed] {
            *result = halted(result["referenceId"].as_str().unwrap_or(""));
        }
    }
    Reply::json(200, &json!({ "compositeResponse": results }))
}

/// Runs one composite subrequest; returns its status and JSON body.
fn subrequest(
    call: &Call<'_>,
    session: &Session,
    version: &str,
    sub: &Value,
    outputs: &BTreeMap<String, Value>,
) -> (u16, Value) {
    let method = sub["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
    let url = substitute(sub["url"].as_str().unwrap_or(""), outputs);
    let body = sub
        .get("body")
        .map(|b| substitute(&b.to_string(), outputs))
        .unwrap_or_default();
    let prefix = format!("/services/data/v{version}/");
    let reply = match url.strip_prefix(&prefix) {
        Some(resource) => {
            let (resource, query) = resource.split_once('?').unwrap_or((resource, ""));
            let sub_call = call.with_target(&url, query);
            route(
                &sub_call,
                session,
                version,
                &method,
                resource,
                body.as_bytes(),
            )
        }
        None => not_found(),
    };
    let body = if reply.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&reply.body).unwrap_or(Value::Null)
    };
    (reply.status, body)
}

/// The result of a subrequest that allOrNone rolled back or never ran.
fn halted(reference: &str) -> Value {
    json!({
        "body": [{ "errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed." }],
        "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference,
    })
}

/// Replaces `@{ref.field}` with that field of an earlier subrequest's body.
fn substitute(text: &str, outputs: &BTreeMap<String, Value>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = &after[..end];
        let value = expr
            .split_once('.')
            .and_then(|(reference, field)| outputs.get(reference).map(|body| &body[field]))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| (!v.is_null()).then(|| v.to_string()))
            });
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 3 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_references() {
        let mut outputs = BTreeMap::new();
        outputs.insert("acct".to_string(), json!({ "id": "001x" }));
        assert_eq!(
            substitute("/sobjects/Account/@{acct.id}", &outputs),
            "/sobjects/Account/001x"
        );
        assert_eq!(substitute("@{nope.id}", &outputs), "@{nope.id}");
        assert_eq!(substitute("@{broken", &outputs), "@{broken");
    }
}
