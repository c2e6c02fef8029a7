//! Workflow `soql-query`: runs a SOQL query over REST and answers
//! `{"totalSize": n, "records": [...]}` with every page merged (following
//! `nextRecordsUrl`) and the `attributes` of each record removed.
//!
//! The query comes from the JSON body `{"q": "SELECT ..."}` or, without a
//! body, from the query string `?q=SELECT+...`.

use twoway_plugin::prelude::*;

struct SoqlQuery;

impl Guest for SoqlQuery {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let q = if request.body.iter().all(u8::is_ascii_whitespace) {
            request.query_param("q")
        } else {
            request.json::<Value>()?["q"].as_str().map(str::to_string)
        };
        let q = q.filter(|q| !q.trim().is_empty()).ok_or_else(|| {
            bad_request("send a SOQL query as {\"q\": \"SELECT ...\"} or ?q=SELECT+...")
        })?;

        let mut page = rest::get(&rest::query_path(&q))?;
        let total = page["totalSize"].clone();
        let mut records = Vec::new();
        loop {
            if let Value::Array(list) = page["records"].take() {
                records.extend(list.into_iter().map(without_attributes));
            }
            match page["nextRecordsUrl"].as_str() {
                Some(next) if page["done"] != json!(true) => {
                    page = rest::get(rest::relative_path(next))?;
                }
                _ => break,
            }
        }
        Ok(json_response(
            200,
            &json!({ "totalSize": total, "records": records }),
        ))
    }
}

/// A record without its `attributes`, nested (relationship and subquery) records included.
fn without_attributes(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "attributes")
                .map(|(k, v)| (k, without_attributes(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(without_attributes).collect()),
        other => other,
    }
}

twoway_plugin::export!(SoqlQuery);
