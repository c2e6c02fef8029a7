//! Bulk API 2.0 under `/jobs`: ingest jobs (create, upload CSV, UploadComplete,
//! poll, successful/failed/unprocessed results, abort, delete) and query jobs
//! (create, poll, results paged by `Sforce-Locator` and `maxRecords`, with
//! `Sforce-NumberOfRecords`). Records run when the upload completes.

use serde_json::{Value, json};

use super::super::bulk::{parse_csv, rows_csv};
use super::super::reply::Reply;
use super::super::soql;
use super::super::state::{Job, JobKind, MAX_RECORDS, NewJob, QueryOptions, query_error};
use super::{Rest, data_error, not_found, param};

pub fn route(api: &Rest<'_, '_>, method: &str, segs: &[&str], query: &str, body: &[u8]) -> Reply {
    let kind = match segs.first() {
        Some(&"ingest") => JobKind::Ingest,
        Some(&"query") => JobKind::Query,
        _ => return not_found(),
    };
    match (method, &segs[1..]) {
        ("POST", []) if kind == JobKind::Ingest => create_ingest(api, body),
        ("POST", []) => create_query(api, body),
        ("GET", []) => {
            let jobs: Vec<Value> = api
                .state()
                .jobs(api.org(), kind)
                .iter()
                .map(|j| info(api, j))
                .collect();
            Reply::json(
                200,
                &json!({ "done": true, "records": jobs, "nextRecordsUrl": null }),
            )
        }
        (_, [id, rest @ ..]) => {
            let Some(job) = api.state().job(api.org(), id).filter(|j| j.kind == kind) else {
                return Reply::rest_error(
                    404,
                    "NOT_FOUND",
                    "The requested resource does not exist",
                );
            };
            match (method, rest) {
                ("GET", []) => Reply::json(200, &info(api, &job)),
                ("PATCH", []) => change_state(api, &job, body),
                ("DELETE", []) => {
                    if matches!(job.state.as_str(), "Open" | "InProgress") {
                        return invalid_state(&job);
                    }
                    api.state().delete_job(api.org(), &job.id);
                    Reply::empty(204)
                }
                ("PUT", ["batches"]) if kind == JobKind::Ingest => upload(api, &job, body),
                (
                    "GET",
                    [which @ ("successfulResults" | "failedResults" | "unprocessedrecords")],
                ) if kind == JobKind::Ingest => Reply::csv(200, results(&job, which)).bulk_result(),
                ("GET", ["results"]) if kind == JobKind::Query => {
                    query_results(&job, query).bulk_result()
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn invalid_state(job: &Job) -> Reply {
    Reply::rest_error(
        400,
        "INVALIDJOBSTATE",
        &format!(
            "Job is in state {}; the operation is not allowed",
            job.state
        ),
    )
}

fn request(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Reply::rest_error(
                400,
                "JSON_PARSER_ERROR",
                "The request body must be a JSON object",
            )
        })
}

fn create_ingest(api: &Rest<'_, '_>, body: &[u8]) -> Reply {
    let request = match request(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let operation = request["operation"].as_str().unwrap_or("");
    if !matches!(
        operation,
        "insert" | "update" | "upsert" | "delete" | "hardDelete"
    ) {
        return Reply::rest_error(
            400,
            "INVALIDJOB",
            &format!("InvalidJob : Invalid operation: {operation}"),
        );
    }
    if request["contentType"].as_str().is_some_and(|c| c != "CSV") {
        return Reply::rest_error(
            400,
            "INVALIDJOB",
            "InvalidJob : Only CSV content is supported",
        );
    }
    let external_id = request["externalIdFieldName"].as_str();
    if operation == "upsert" && external_id.is_none() {
        return Reply::rest_error(
            400,
            "INVALIDJOB",
            "InvalidJob : External ID was blank. An External ID must be specified for upsert.",
        );
    }
    let new = NewJob {
        kind: JobKind::Ingest,
        operation,
        object: request["object"].as_str().unwrap_or(""),
        content_type: "CSV",
        external_id,
        api_version: api.version,
        query: None,
    };
    match api.state().create_job(api.org(), api.user(), new) {
        Ok(job) => Reply::json(200, &info(api, &job)),
        Err(e) => Reply::rest_error(400, "INVALIDJOB", &format!("InvalidJob : {}", e.message)),
    }
}

fn create_query(api: &Rest<'_, '_>, body: &[u8]) -> Reply {
    let request = match request(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let operation = request["operation"].as_str().unwrap_or("query");
    if !matches!(operation, "query" | "queryAll") {
        return Reply::rest_error(
            400,
            "INVALIDJOB",
            &format!("InvalidJob : Invalid operation: {operation}"),
        );
    }
    let text = request["query"].as_str().unwrap_or("");
    let parsed = match soql::parse(text) {
        Ok(q) => q,
        Err(e) => return data_error(&query_error(e, text)),
    };
    if parsed
        .select
        .iter()
        .any(|s| matches!(s, soql::SelectItem::Subquery(_)))
    {
        return Reply::rest_error(
            400,
            "API_ERROR",
            "Bulk API 2.0 queries cannot have nested child queries",
        );
    }
    let check = QueryOptions {
        all_rows: operation == "queryAll",
        whole: true,
        ..Default::default()
    };
    if let Err(e) = api.state().query(api.org(), text, check) {
        return data_error(&e);
    }
    let new = NewJob {
        kind: JobKind::Query,
        operation,
        object: &parsed.object.text,
        content_type: "CSV",
        external_id: None,
        api_version: api.version,
        query: Some(text),
    };
    let job = match api.state().create_job(api.org(), api.user(), new) {
        Ok(job) => job,
        Err(e) => return data_error(&e),
    };
    api.state().run_query_batch(&job, text);
    let job = api
        .state()
        .update_job(api.org(), &job.id, |j| j.state = "JobComplete".into())
        .unwrap_or(job);
    let mut out = info(api, &job);
    // Salesforce answers the create with the job as it starts.
    out["state"] = json!("UploadComplete");
    Reply::json(200, &out)
}

fn upload(api: &Rest<'_, '_>, job: &Job, body: &[u8]) -> Reply {
    if job.state != "Open" {
        return invalid_state(job);
    }
    let (header, records) = match parse_csv(body) {
        Ok(parsed) => parsed,
        Err(message) => return Reply::rest_error(400, "INVALIDREQUEST", &message),
    };
    let total = job.batches.first().map_or(0, |b| b.records.len()) + records.len();
    if total > MAX_RECORDS {
        return Reply::rest_error(
            400,
            "INVALIDREQUEST",
            &format!("The simulator takes at most {MAX_RECORDS} records per job"),
        );
    }
    api.state().update_job(api.org(), &job.id, |j| {
        j.columns = header;
        // The upload waits, as an unprocessed batch, for UploadComplete.
        match j.batches.first_mut() {
            Some(b) => b.records.extend(records),
            None => j.batches.push(super::super::state::Batch {
                id: String::new(),
                state: "Queued".into(),
                state_message: None,
                created: String::new(),
                records,
                outcomes: Vec::new(),
                rows: Vec::new(),
            }),
        }
    });
    Reply::empty(201)
}

fn change_state(api: &Rest<'_, '_>, job: &Job, body: &[u8]) -> Reply {
    let request = match request(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let wanted = request["state"].as_str().unwrap_or("");
    let state = api.state();
    match (wanted, job.kind, job.state.as_str()) {
        ("UploadComplete", JobKind::Ingest, "Open") => {
            let records = job
                .batches
                .first()
                .map(|b| b.records.clone())
                .unwrap_or_default();
            let cleared = state.update_job(api.org(), &job.id, |j| {
                j.batches.clear();
                j.state = "UploadComplete".into();
            });
            let Some(cleared) = cleared else {
                return not_found();
            };
            state.run_batch(&cleared, api.user(), records);
            let done = state.update_job(api.org(), &job.id, |j| j.state = "JobComplete".into());
            let mut out = info(api, done.as_ref().unwrap_or(&cleared));
            out["state"] = json!("UploadComplete");
            Reply::json(200, &out)
        }
        ("Aborted", _, "Open" | "UploadComplete" | "InProgress") => {
            match state.update_job(api.org(), &job.id, |j| j.state = "Aborted".into()) {
                Some(job) => Reply::json(200, &info(api, &job)),
                None => not_found(),
            }
        }
        _ => invalid_state(job),
    }
}

/// JobInfo as Bulk 2.0 writes it.
fn info(api: &Rest<'_, '_>, job: &Job) -> Value {
    let mut out = json!({
        "id": job.id,
        "operation": job.operation,
        "object": job.object,
        "createdById": job.created_by,
        "createdDate": job.created,
        "systemModstamp": job.modified,
        "state": job.state,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": job.api_version.parse::<f64>().unwrap_or(0.0),
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
        "numberRecordsProcessed": job.records_processed(),
        "retries": 0,
        "totalProcessingTime": 0,
    });
    if job.kind == JobKind::Ingest {
        out["jobType"] = json!("V2Ingest");
        out["contentUrl"] = json!(format!(
            "services/data/v{}/jobs/ingest/{}/batches",
            api.version, job.id
        ));
        out["externalIdFieldName"] = json!(job.external_id);
        out["numberRecordsFailed"] = json!(job.records_failed());
        out["apiActiveProcessingTime"] = json!(0);
        out["apexProcessingTime"] = json!(0);
    } else {
        out["jobType"] = json!("V2Query");
    }
    out
}

fn csv_line(values: &[String]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| format!("\"{}\"", v.replace('"', "\"\"")))
        .collect();
    quoted.join(",") + "\n"
}

/// `successfulResults`, `failedResults` or `unprocessedrecords` as CSV.
fn results(job: &Job, which: &str) -> String {
    let columns = &job.columns;
    let mut head: Vec<String> = match which {
        "successfulResults" => vec!["sf__Id".into(), "sf__Created".into()],
        "failedResults" => vec!["sf__Id".into(), "sf__Error".into()],
        _ => Vec::new(),
    };
    head.extend(columns.iter().cloned());
    let mut out = csv_line(&head);
    for batch in &job.batches {
        let unprocessed = batch.outcomes.len()..batch.records.len();
        for (i, record) in batch.records.iter().enumerate() {
            let values = columns
                .iter()
                .map(|c| record.get(c).cloned().unwrap_or_default());
            let lead = match (which, batch.outcomes.get(i)) {
                ("successfulResults", Some(Ok((id, created)))) => {
                    vec![id.clone(), created.to_string()]
                }
                ("failedResults", Some(Err(e))) => {
                    vec![
                        String::new(),
                        format!("{}:{}:{} --", e.code, e.message, e.fields.join(",")),
                    ]
                }
                ("unprocessedrecords", None) if unprocessed.contains(&i) => Vec::new(),
                _ => continue,
            };
            out.push_str(&csv_line(
                &lead.into_iter().chain(values).collect::<Vec<_>>(),
            ));
        }
    }
    out
}

/// A page of a query job's results: `maxRecords` rows from `locator`.
fn query_results(job: &Job, query: &str) -> Reply {
    if job.state != "JobComplete" {
        return invalid_state(job);
    }
    let rows = job
        .batches
        .first()
        .map(|b| b.rows.as_slice())
        .unwrap_or(&[]);
    let start = match param(query, "locator").filter(|l| !l.is_empty()) {
        Some(locator) => match locator.parse::<usize>() {
            Ok(n) if n <= rows.len() => n,
            _ => {
                return Reply::rest_error(
                    400,
                    "INVALIDREQUEST",
                    &format!("Invalid locator: {locator}"),
                );
            }
        },
        None => 0,
    };
    let max = param(query, "maxRecords")
        .and_then(|m| m.parse::<usize>().ok())
        .filter(|m| *m > 0)
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(max).min(rows.len());
    let page = &rows[start..end];
    let next = if end < rows.len() {
        end.to_string()
    } else {
        "null".to_string()
    };
    Reply::csv(200, rows_csv(page))
        .with_header("sforce-locator", next)
        .with_header("sforce-numberofrecords", page.len().to_string())
}
