//! The sObject Collections under `/composite/sobjects`: create, update and
//! upsert of up to 200 records, delete by ids and retrieve by ids, with
//! allOrNone rolling every record back on one failure.

use serde_json::{Value, json};

use super::super::reply::Reply;
use super::super::state::DataError;
use super::composite::{MAX_RECORDS, body_json, parse_error};
use super::{Rest, data_error, json as rjson, not_found, object_fields, param};

/// POST (create) and PATCH (update, or upsert on `object/field`) of up to 200 records.
pub fn save_collection(
    api: &Rest<'_, '_>,
    method: &str,
    upsert: Option<(&str, &str)>,
    body: &[u8],
) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return parse_error();
    };
    let all_or_none = request["allOrNone"].as_bool().unwrap_or(false);
    let Some(records) = request["records"].as_array() else {
        return Reply::rest_error(400, "INVALID_INPUT", "records is required");
    };
    if records.len() > MAX_RECORDS {
        return Reply::rest_error(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }
    let state = api.state();
    let snapshot = all_or_none.then(|| state.snapshot(api.org()));
    let mut outcomes: Vec<Result<(String, Option<bool>), DataError>> = Vec::new();
    for record in records {
        let outcome = object_fields(record)
            .map_err(|reply| {
                DataError::new(
                    "JSON_PARSER_ERROR",
                    400,
                    body_json(&reply)[0]["message"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .and_then(|mut fields| {
                let object = record["attributes"]["type"]
                    .as_str()
                    .map(str::to_string)
                    .or(upsert.map(|(o, _)| o.to_string()));
                match (method, upsert) {
                    ("PATCH", Some((object, field))) => {
                        let value = fields.get(field).cloned().unwrap_or_default();
                        state
                            .upsert(api.org(), api.user(), object, field, &value, &fields)
                            .map(|(id, created)| (id, Some(created)))
                    }
                    ("PATCH", None) => {
                        let id = fields.remove("Id").unwrap_or_default();
                        if id.is_empty() {
                            return Err(DataError::new(
                                "MISSING_ARGUMENT",
                                400,
                                "Id not specified in an update call",
                            ));
                        }
                        state
                            .update(api.org(), api.user(), &id, &fields)
                            .map(|()| (id, None))
                    }
                    _ => match object {
                        Some(object) => state
                            .create(api.org(), api.user(), &object, &fields)
                            .map(|id| (id, None)),
                        None => Err(DataError::new(
                            "INVALID_TYPE",
                            400,
                            "Must send a concrete entity type.",
                        )),
                    },
                }
            });
        outcomes.push(outcome);
    }
    Reply::json(200, &json!(collection_results(api, snapshot, outcomes)))
}

/// Save results of a collection; under allOrNone (a snapshot) one failure
/// rolls back every record.
fn collection_results(
    api: &Rest<'_, '_>,
    snapshot: Option<Vec<super::super::state::Record>>,
    outcomes: Vec<Result<(String, Option<bool>), DataError>>,
) -> Vec<Value> {
    let failed = outcomes.iter().any(Result::is_err);
    let rolled_back = failed && snapshot.is_some();
    if let (true, Some(snapshot)) = (rolled_back, snapshot) {
        api.state().restore(api.org(), snapshot);
    }
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(_) if rolled_back => json!({ "id": null, "success": false, "errors": [{ "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": [] }] }),
            Ok((id, created)) => {
                let mut v = json!({ "id": id, "success": true, "errors": [] });
                if let Some(created) = created {
                    v["created"] = json!(created);
                }
                v
            }
            Err(e) => json!({ "id": null, "success": false, "errors": [rjson::collection_error(&e)] }),
        })
        .collect()
}

/// `DELETE /composite/sobjects?ids=a,b&allOrNone=false`.
pub fn delete_collection(api: &Rest<'_, '_>, query: &str) -> Reply {
    let ids = param(query, "ids").unwrap_or_default();
    let ids: Vec<&str> = ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.len() > MAX_RECORDS {
        return Reply::rest_error(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }
    let all_or_none = param(query, "allOrNone").is_some_and(|v| v == "true");
    let state = api.state();
    let snapshot = all_or_none.then(|| state.snapshot(api.org()));
    let outcomes = ids
        .iter()
        .map(|id| {
            state
                .delete(api.org(), api.user(), id)
                .map(|()| (id.to_string(), None))
        })
        .collect();
    let mut results = collection_results(api, snapshot, outcomes);
    for (result, id) in results.iter_mut().zip(&ids) {
        if result["success"] == json!(false)
            && result["errors"][0]["statusCode"] != "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        {
            result["id"] = json!(id);
        }
    }
    Reply::json(200, &json!(results))
}

/// `GET /composite/sobjects/{type}?ids=..&fields=..`: records in order, null when missing.
pub fn retrieve_collection(
    api: &Rest<'_, '_>,
    object: &str,
    ids: Option<String>,
    fields: Option<String>,
) -> Reply {
    let state = api.state();
    let Some(schema) = state.config.object(object) else {
        return not_found();
    };
    let (Some(ids), Some(fields)) = (ids, fields) else {
        return Reply::rest_error(400, "MISSING_ARGUMENT", "ids and fields are required");
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    if let Some(bad) = wanted.iter().find(|f| schema.field(f).is_none()) {
        return data_error(&DataError::new(
            "INVALID_FIELD",
            400,
            format!("No such column '{bad}' on sobject of type {}", schema.name),
        ));
    }
    let records: Vec<Value> = ids
        .split(',')
        .take(2000)
        .map(|id| match state.get(api.org(), &schema.name, id.trim()) {
            Ok(r) => rjson::record(api.version, schema, &r, Some(&wanted)),
            Err(_) => Value::Null,
        })
        .collect();
    Reply::json(200, &json!(records))
}
