//! Workflow `upsert-account`: a REST upsert
//! (`PATCH sobjects/Account/{field}/{value}`) of the inbound JSON object,
//! answered `{"id": "001...", "created": true|false}` (201 when created).
//!
//! Plugin config (all optional):
//! - `external_id_field`: the Account's external id field (`External_Id__c`);
//! - `external_id_input`: the inbound field holding its value (`id`);
//! - `field_map`: inbound field = Account field, comma-separated
//!   (default below). Inbound fields not in the map are refused (400).

use twoway_plugin::prelude::*;

const DEFAULT_FIELD_MAP: &str =
    "name=Name,number=AccountNumber,industry=Industry,phone=Phone,website=Website,city=BillingCity";

struct UpsertAccount;

impl Guest for UpsertAccount {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let external_field = config_or("external_id_field", "External_Id__c");
        let id_input = config_or("external_id_input", "id");
        let map = field_map(&config_or("field_map", DEFAULT_FIELD_MAP))?;

        let input: serde_json::Map<String, Value> = request.json()?;
        let id = match input.get(&id_input) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(bad_request(format!(
                    "`{id_input}` is required: the account's external id"
                )));
            }
        };
        let unmapped: Vec<&str> = input
            .keys()
            .filter(|k| **k != id_input && !map.iter().any(|(from, _)| from == *k))
            .map(String::as_str)
            .collect();
        if !unmapped.is_empty() {
            let known: Vec<&str> = map.iter().map(|(from, _)| from.as_str()).collect();
            return Err(bad_request(format!(
                "unknown fields: {}; expected `{id_input}` and any of: {}",
                unmapped.join(", "),
                known.join(", ")
            )));
        }

        let mut fields = serde_json::Map::new();
        for (from, to) in &map {
            match input.get(from) {
                Some(Value::Array(_) | Value::Object(_)) => {
                    return Err(bad_request(format!(
                        "`{from}` must be a string, number, boolean or null"
                    )));
                }
                Some(value) => {
                    fields.insert(to.clone(), value.clone());
                }
                None => {}
            }
        }

        let path = format!(
            "sobjects/Account/{}/{}",
            rest::encode_segment(&external_field),
            rest::encode_segment(&id)
        );
        let answer = rest::request(Api::Rest, "PATCH", &path, Some(&Value::Object(fields)))?;
        let created = answer.body["created"]
            .as_bool()
            .unwrap_or(answer.status == 201);
        let status = if created { 201 } else { 200 };
        Ok(json_response(
            status,
            &json!({ "id": answer.body["id"], "created": created }),
        ))
    }
}

/// `name=Name,city=BillingCity` as (inbound, Salesforce) pairs.
fn field_map(text: &str) -> Result<Vec<(String, String)>, WorkflowError> {
    text.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                Ok((from.trim().to_string(), to.trim().to_string()))
            }
            _ => Err(internal(format!(
                "plugin config `field_map` has a bad entry `{entry}`; write inbound=SalesforceField, comma-separated"
            ))),
        })
        .collect()
}

twoway_plugin::export!(UpsertAccount);
