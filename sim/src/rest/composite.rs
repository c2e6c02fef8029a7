//! The composite family: `/composite` (subrequests with `@{ref.field}` and
//! allOrNone), `/composite/batch` and `/composite/tree/{type}`; the
//! `/composite/sobjects` collections are in `collections`. Under allOrNone a failure restores the org's records as
//! they were before the request (not isolated from concurrent requests).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::reply::Reply;
use super::collections::{delete_collection, retrieve_collection, save_collection};
use super::{Rest, json as rjson, not_found, object_fields, param, route as route_resource};

/// Most subrequests of `/composite` and `/composite/batch`.
const MAX_SUBREQUESTS: usize = 25;
/// Most records of a collection or a tree.
pub const MAX_RECORDS: usize = 200;

pub fn route(api: &Rest<'_, '_>, method: &str, segs: &[&str], query: &str, body: &[u8]) -> Reply {
    match (method, segs) {
        ("POST", []) => composite(api, body),
        ("POST", ["batch"]) => batch(api, body),
        ("POST", ["tree", object]) => tree(api, object, body),
        ("POST" | "PATCH", ["sobjects"]) => save_collection(api, method, None, body),
        ("PATCH", ["sobjects", object, field]) => {
            save_collection(api, method, Some((object, field)), body)
        }
        ("DELETE", ["sobjects"]) => delete_collection(api, query),
        ("GET", ["sobjects", object]) => {
            retrieve_collection(api, object, param(query, "ids"), param(query, "fields"))
        }
        ("POST", ["sobjects", object]) => {
            let Ok(request) = serde_json::from_slice::<Value>(body) else {
                return parse_error();
            };
            let join = |v: &Value| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
            };
            retrieve_collection(api, object, join(&request["ids"]), join(&request["fields"]))
        }
        _ => not_found(),
    }
}

pub fn parse_error() -> Reply {
    Reply::rest_error(
        400,
        "JSON_PARSER_ERROR",
        "The request body is not valid JSON",
    )
}

pub fn body_json(reply: &Reply) -> Value {
    if reply.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&reply.body).unwrap_or(Value::Null)
    }
}

/// Runs a subrequest URL (`/services/data/vXX.X/...` or `vXX.X/...`).
fn subrequest(api: &Rest<'_, '_>, method: &str, url: &str, body: &[u8]) -> Reply {
    let path = url
        .trim_start_matches("/services/data/")
        .trim_start_matches('/');
    let prefix = format!("v{}/", api.version);
    let Some(resource) = path.strip_prefix(&prefix) else {
        return not_found();
    };
    let (resource, query) = resource.split_once('?').unwrap_or((resource, ""));
    route_resource(api, method, resource, query, body)
}

fn too_many(what: &str, max: usize) -> Reply {
    Reply::rest_error(
        400,
        "LIMIT_EXCEEDED",
        &format!("A {what} can have at most {max} subrequests"),
    )
}

/// `/composite`: subrequests in order, `@{ref.field}` taken from earlier
/// answers; under allOrNone the first failure rolls back and every other
/// subrequest is PROCESSING_HALTED.
fn composite(api: &Rest<'_, '_>, body: &[u8]) -> Reply {
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
        return too_many("composite request", MAX_SUBREQUESTS);
    }
    let state = api.state();
    let snapshot = all_or_none.then(|| state.snapshot(api.org()));
    let mut results: Vec<Value> = Vec::new();
    let mut outputs: BTreeMap<String, Value> = BTreeMap::new();
    let mut failed = None;
    for (i, sub) in subrequests.iter().enumerate() {
        let reference = sub["referenceId"].as_str().unwrap_or("").to_string();
        if failed.is_some() {
            results.push(halted(&reference));
            continue;
        }
        let method = sub["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        let url = substitute(sub["url"].as_str().unwrap_or(""), &outputs);
        let body = sub
            .get("body")
            .map(|b| substitute(&b.to_string(), &outputs))
            .unwrap_or_default();
        let reply = subrequest(api, &method, &url, body.as_bytes());
        let body = body_json(&reply);
        if reply.status >= 400 && all_or_none {
            failed = Some(i);
        }
        outputs.insert(reference.clone(), body.clone());
        let mut headers = serde_json::Map::new();
        if reply.status == 201
            && let Some(id) = body["id"].as_str()
        {
            headers.insert(
                "Location".into(),
                json!(format!("{}/{id}", url.split('?').next().unwrap_or(""))),
            );
        }
        results.push(json!({ "body": body, "httpHeaders": headers, "httpStatusCode": reply.status, "referenceId": reference }));
    }
    if let (Some(failed), Some(snapshot)) = (failed, snapshot) {
        state.restore(api.org(), snapshot);
        for result in &mut results[..failed] {
            *result = halted(result["referenceId"].as_str().unwrap_or(""));
        }
    }
    Reply::json(200, &json!({ "compositeResponse": results }))
}

/// The result of a subrequest that allOrNone rolled back or never ran.
fn halted(reference: &str) -> Value {
    json!({
        "body": [{ "errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed." }],
        "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference,
    })
}

/// Replaces `@{ref.field}` (or `@{ref.records[0].Id}`) with that value of an earlier subrequest's body.
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
            .and_then(|(reference, path)| lookup(outputs.get(reference)?, path));
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 3 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `records[0].Id` in a JSON value, as text.
fn lookup(value: &Value, path: &str) -> Option<String> {
    let mut current = value;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (part, None),
        };
        current = current.get(name)?;
        if let Some(i) = index {
            current = current.get(i)?;
        }
    }
    current
        .as_str()
        .map(str::to_string)
        .or_else(|| (!current.is_null()).then(|| current.to_string()))
}

/// `/composite/batch`: independent subrequests; haltOnError stops at the first failure.
fn batch(api: &Rest<'_, '_>, body: &[u8]) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return parse_error();
    };
    let halt = request["haltOnError"].as_bool().unwrap_or(false);
    let Some(subrequests) = request["batchRequests"].as_array() else {
        return Reply::rest_error(400, "INVALID_INPUT", "batchRequests is required");
    };
    if subrequests.len() > MAX_SUBREQUESTS {
        return too_many("batch", MAX_SUBREQUESTS);
    }
    let mut results = Vec::new();
    let mut has_errors = false;
    for sub in subrequests {
        if halt && has_errors {
            results.push(json!({ "statusCode": 412, "result": [{ "errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request" }] }));
            continue;
        }
        let method = sub["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        let body = sub
            .get("richInput")
            .map(Value::to_string)
            .unwrap_or_default();
        let reply = subrequest(
            api,
            &method,
            sub["url"].as_str().unwrap_or(""),
            body.as_bytes(),
        );
        has_errors |= reply.status >= 400;
        results.push(json!({ "statusCode": reply.status, "result": body_json(&reply) }));
    }
    Reply::json(200, &json!({ "hasErrors": has_errors, "results": results }))
}

/// `/composite/tree/{type}`: records with nested child records, all or none.
fn tree(api: &Rest<'_, '_>, object: &str, body: &[u8]) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return parse_error();
    };
    let Some(records) = request["records"].as_array() else {
        return Reply::rest_error(400, "INVALID_INPUT", "records is required");
    };
    if count_tree(records) > MAX_RECORDS {
        return Reply::rest_error(
            400,
            "LIMIT_EXCEEDED",
            "A tree request can have at most 200 records",
        );
    }
    let state = api.state();
    let snapshot = state.snapshot(api.org());
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        insert_tree(api, object, record, None, &mut results, &mut errors);
    }
    if errors.is_empty() {
        Reply::json(201, &json!({ "hasErrors": false, "results": results }))
    } else {
        state.restore(api.org(), snapshot);
        Reply::json(400, &json!({ "hasErrors": true, "results": errors }))
    }
}

fn count_tree(records: &[Value]) -> usize {
    records
        .iter()
        .map(|r| {
            1 + r.as_object().map_or(0, |m| {
                m.values()
                    .filter_map(|v| v["records"].as_array())
                    .map(|c| count_tree(c))
                    .sum()
            })
        })
        .sum()
}

fn insert_tree(
    api: &Rest<'_, '_>,
    object: &str,
    record: &Value,
    parent: Option<(&str, &str)>,
    results: &mut Vec<Value>,
    errors: &mut Vec<Value>,
) {
    let reference = record["attributes"]["referenceId"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let object_name = record["attributes"]["type"].as_str().unwrap_or(object);
    let Some(schema) = api.state().config.object(object_name) else {
        errors.push(json!({ "referenceId": reference, "errors": [{ "statusCode": "INVALID_TYPE", "message": format!("sObject type '{object_name}' is not supported."), "fields": [] }] }));
        return;
    };
    let mut plain = serde_json::Map::new();
    let mut children = Vec::new();
    for (k, v) in record.as_object().into_iter().flatten() {
        match schema.child(k) {
            Some(rel) if v.get("records").is_some() => {
                children.push((rel.clone(), v["records"].clone()))
            }
            _ => {
                plain.insert(k.clone(), v.clone());
            }
        }
    }
    let mut fields = match object_fields(&Value::Object(plain)) {
        Ok(f) => f,
        Err(reply) => {
            errors.push(json!({ "referenceId": reference, "errors": body_json(&reply) }));
            return;
        }
    };
    if let Some((field, id)) = parent {
        fields.insert(field.to_string(), id.to_string());
    }
    match api
        .state()
        .create(api.org(), api.user(), &schema.name, &fields)
    {
        Ok(id) => {
            results.push(json!({ "referenceId": reference, "id": id }));
            for (rel, records) in children {
                for child in records.as_array().into_iter().flatten() {
                    insert_tree(
                        api,
                        &rel.child,
                        child,
                        Some((&rel.field, &id)),
                        results,
                        errors,
                    );
                }
            }
        }
        Err(e) => errors
            .push(json!({ "referenceId": reference, "errors": [rjson::collection_error(&e)] })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_references() {
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "acct".to_string(),
            json!({ "id": "001x", "records": [{ "Id": "003y" }] }),
        );
        assert_eq!(
            substitute("/sobjects/Account/@{acct.id}", &outputs),
            "/sobjects/Account/001x"
        );
        assert_eq!(substitute("@{acct.records[0].Id}", &outputs), "003y");
        assert_eq!(substitute("@{nope.id}", &outputs), "@{nope.id}");
        assert_eq!(substitute("@{broken", &outputs), "@{broken");
    }
}
