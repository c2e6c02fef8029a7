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

#[cfg(test)]
mod tests {
    //! `handle()` run natively against the SDK's fake host.

    use super::*;
    use twoway_plugin::testing::{FakeHost, json_body, json_request, request};

    #[test]
    fn merges_every_page_and_drops_attributes() {
        let host = FakeHost::install();
        host.on_query("SELECT Id, Account.Name FROM Contact").json(
            200,
            &json!({"totalSize": 2, "done": false,
                "nextRecordsUrl": "/services/data/v62.0/query/01gQ-1",
                "records": [{"attributes": {"type": "Contact"}, "Id": "003A",
                    "Account": {"attributes": {"type": "Account"}, "Name": "Acme"}}]}),
        );
        host.on(Api::Rest, "GET", "query/01gQ-1").json(
            200,
            &json!({"totalSize": 2, "done": true,
                "records": [{"attributes": {"type": "Contact"}, "Id": "003B", "Account": null}]}),
        );
        let response = SoqlQuery::handle(json_request(
            "POST",
            "/",
            &json!({"q": "SELECT Id, Account.Name FROM Contact"}),
        ))
        .unwrap();
        assert_eq!(
            json_body(&response.body),
            json!({"totalSize": 2, "records": [
                {"Id": "003A", "Account": {"Name": "Acme"}},
                {"Id": "003B", "Account": null}
            ]})
        );
        assert_eq!(host.requests().len(), 2);
    }

    #[test]
    fn reads_the_query_string_and_refuses_no_query() {
        let host = FakeHost::install();
        host.on_query("SELECT Id FROM Account")
            .json(200, &json!({"totalSize": 0, "done": true, "records": []}));
        let response = SoqlQuery::handle(request("GET", "/?q=SELECT+Id+FROM+Account", "")).unwrap();
        assert_eq!(
            json_body(&response.body),
            json!({"totalSize": 0, "records": []})
        );
        let e = SoqlQuery::handle(request("GET", "/?q=+", "")).unwrap_err();
        assert!(matches!(e, WorkflowError::BadRequest(_)), "{e:?}");
        assert_eq!(host.requests().len(), 1);
    }
}
