//! jobInfo, batchInfo and batchInfoList of Bulk API 1.0, in XML or JSON
//! as the job speaks, with the counts of batches and records.

use serde_json::{Value, json};
use twoway::xml::escape;

use super::super::reply::Reply;
use super::super::state::{Batch, Job};
use super::{Format, NS};

/// A jobInfo in the job's format.
pub fn job(status: u16, job: &Job) -> Reply {
    let count = |state: &str| job.batches.iter().filter(|b| b.state == state).count();
    let (completed, failed) = (count("Completed"), count("Failed"));
    let info = [
        ("id", job.id.clone()),
        ("operation", job.operation.clone()),
        ("object", job.object.clone()),
        ("createdById", job.created_by.clone()),
        ("createdDate", job.created.clone()),
        ("systemModstamp", job.modified.clone()),
        ("state", job.state.clone()),
        (
            "externalIdFieldName",
            job.external_id.clone().unwrap_or_default(),
        ),
        ("concurrencyMode", "Parallel".into()),
        ("contentType", job.content_type.clone()),
        ("numberBatchesQueued", "0".into()),
        ("numberBatchesInProgress", "0".into()),
        ("numberBatchesCompleted", completed.to_string()),
        ("numberBatchesFailed", failed.to_string()),
        ("numberBatchesTotal", job.batches.len().to_string()),
        (
            "numberRecordsProcessed",
            job.records_processed().to_string(),
        ),
        ("numberRetries", "0".into()),
        ("apiVersion", job.api_version.clone()),
        ("numberRecordsFailed", job.records_failed().to_string()),
        ("totalProcessingTime", "0".into()),
        ("apiActiveProcessingTime", "0".into()),
        ("apexProcessingTime", "0".into()),
    ];
    let numeric = |k: &str| k.starts_with("number") || k.ends_with("Time") || k == "apiVersion";
    match Format::of_job(job) {
        Format::Json => {
            let map: serde_json::Map<String, Value> = info
                .iter()
                .map(|(k, v)| {
                    let value = match (*k, v.as_str()) {
                        ("externalIdFieldName", "") => Value::Null,
                        (k, v) if numeric(k) => v
                            .parse::<f64>()
                            .map(|n| {
                                if k == "apiVersion" {
                                    json!(n)
                                } else {
                                    json!(n as u64)
                                }
                            })
                            .unwrap_or(Value::Null),
                        (_, v) => json!(v),
                    };
                    (k.to_string(), value)
                })
                .collect();
            Reply::json(status, &Value::Object(map))
        }
        Format::Xml => {
            let body: String = info
                .iter()
                .filter(|(k, v)| !(*k == "externalIdFieldName" && v.is_empty()))
                .map(|(k, v)| format!("<{k}>{}</{k}>", escape(v)))
                .collect();
            Reply::xml(
                status,
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{NS}">{body}</jobInfo>"#
                ),
            )
        }
    }
}

fn batch_fields(job: &Job, batch: &Batch) -> Vec<(&'static str, String)> {
    let processed = batch.outcomes.len() + batch.rows.len();
    let failed = batch.outcomes.iter().filter(|o| o.is_err()).count();
    let mut fields = vec![
        ("id", batch.id.clone()),
        ("jobId", job.id.clone()),
        ("state", batch.state.clone()),
    ];
    if let Some(message) = &batch.state_message {
        fields.push(("stateMessage", message.clone()));
    }
    fields.extend([
        ("createdDate", batch.created.clone()),
        ("systemModstamp", batch.created.clone()),
        ("numberRecordsProcessed", processed.to_string()),
        ("numberRecordsFailed", failed.to_string()),
        ("totalProcessingTime", "0".into()),
        ("apiActiveProcessingTime", "0".into()),
        ("apexProcessingTime", "0".into()),
    ]);
    fields
}

fn batch_json(job: &Job, batch: &Batch) -> Value {
    let map: serde_json::Map<String, Value> = batch_fields(job, batch)
        .into_iter()
        .map(|(k, v)| {
            let value = if k.starts_with("number") || k.ends_with("Time") {
                json!(v.parse::<u64>().unwrap_or(0))
            } else {
                json!(v)
            };
            (k.to_string(), value)
        })
        .collect();
    Value::Object(map)
}

fn batch_xml(job: &Job, batch: &Batch) -> String {
    let body: String = batch_fields(job, batch)
        .iter()
        .map(|(k, v)| format!("<{k}>{}</{k}>", escape(v)))
        .collect();
    format!("<batchInfo>{body}</batchInfo>")
}

/// A batchInfo in the job's format.
pub fn batch(status: u16, job: &Job, batch: &Batch) -> Reply {
    match Format::of_job(job) {
        Format::Json => Reply::json(status, &batch_json(job, batch)),
        Format::Xml => Reply::xml(
            status,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>{}"#,
                batch_xml(job, batch).replacen(
                    "<batchInfo>",
                    &format!(r#"<batchInfo xmlns="{NS}">"#),
                    1
                )
            ),
        ),
    }
}

/// A job's batchInfoList.
pub fn batch_list(job: &Job) -> Reply {
    match Format::of_job(job) {
        Format::Json => {
            let list: Vec<Value> = job.batches.iter().map(|b| batch_json(job, b)).collect();
            Reply::json(200, &json!({ "batchInfo": list }))
        }
        Format::Xml => {
            let list: String = job.batches.iter().map(|b| batch_xml(job, b)).collect();
            Reply::xml(
                200,
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><batchInfoList xmlns="{NS}">{list}</batchInfoList>"#
                ),
            )
        }
    }
}
