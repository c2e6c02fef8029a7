//! Bulk API 1.0 (`/services/async/{ver}/job`): jobs in XML, JSON or CSV,
//! batches run as they arrive, batch results and query result sets, with
//! errors as `exceptionCode` / `exceptionMessage` in the job's format.

mod format;
mod info;

pub use format::{parse_csv, rows_csv};

use serde_json::{Value, json};

use super::reply::Reply;
use super::state::{Batch, Job, JobKind, NewJob, Session, State};
use super::{Call, Denied, versions};
use twoway::xml::{self, child_text, escape};

pub const NS: &str = "http://www.force.com/2009/06/asyncapi/dataload";

/// The format a job, or a request without one, speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Xml,
    Json,
}

impl Format {
    fn of_request(call: &Call<'_>) -> Self {
        match call.header("content-type") {
            Some(ct) if ct.to_ascii_lowercase().contains("json") => Self::Json,
            _ => Self::Xml,
        }
    }

    pub(super) fn of_job(job: &Job) -> Self {
        if job.content_type == "JSON" {
            Self::Json
        } else {
            Self::Xml
        }
    }
}

fn error(format: Format, code: &str, message: &str) -> Reply {
    match format {
        Format::Json => Reply::json(
            400,
            &json!({ "exceptionCode": code, "exceptionMessage": message }),
        ),
        Format::Xml => Reply::xml(
            400,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="{NS}"><exceptionCode>{code}</exceptionCode><exceptionMessage>{}</exceptionMessage></error>"#,
                escape(message)
            ),
        ),
    }
}

/// The Bulk reply for a request refused before it reached the API.
pub fn denied(d: Denied) -> Reply {
    match d {
        Denied::InvalidSession => error(Format::Xml, "InvalidSessionId", "Invalid session id"),
        Denied::MutualAuthRequired => error(
            Format::Xml,
            "MutualAuthenticationFailed",
            "This session could not be mutually authenticated for use with the API",
        ),
        Denied::LimitExceeded => error(
            Format::Xml,
            "ExceededQuota",
            "TotalRequests Limit exceeded.",
        ),
        Denied::Page(reply) => reply,
    }
}

/// Handles a request under `/services/async/`.
pub fn handle(call: &Call<'_>) -> Reply {
    let rest = call.path.trim_start_matches("/services/async/");
    let (version, resource) = rest.split_once('/').unwrap_or((rest, ""));
    if versions::served(version).is_none() {
        return error(
            Format::Xml,
            "InvalidVersion",
            "Invalid api version specified on URL",
        );
    }
    // Data Loader sends `X-SFDC-Session: Bearer <id>`.
    let session_id = call.header("x-sfdc-session").map(|s| {
        s.trim()
            .trim_start_matches("Bearer ")
            .trim_start_matches("Bearer ")
            .trim()
    });
    let (session, _usage) = match call.authorize(session_id) {
        Ok(ok) => ok,
        Err(d) => return denied(d),
    };
    let segments: Vec<&str> = resource.split('/').filter(|s| !s.is_empty()).collect();
    let bulk = Bulk {
        call,
        session: &session,
        version,
        state: &call.ctx.state,
    };
    match (call.method.as_str(), segments.as_slice()) {
        ("POST", ["job"]) => bulk.create(),
        ("GET", ["job", id]) => bulk.with_job(id, |job| info::job(200, &job)),
        ("POST", ["job", id]) => bulk.with_job(id, |job| bulk.change_state(&job)),
        ("POST", ["job", id, "batch"]) => bulk.with_job(id, |job| bulk.add_batch(&job)),
        ("GET", ["job", id, "batch"]) => bulk.with_job(id, |job| info::batch_list(&job)),
        ("GET", ["job", id, "batch", batch]) => {
            bulk.with_batch(id, batch, |job, b| info::batch(200, job, b))
        }
        ("GET", ["job", id, "batch", batch, "result"]) => {
            bulk.with_batch(id, batch, |job, b| bulk.results(job, b).bulk_result())
        }
        ("GET", ["job", id, "batch", batch, "result", result]) => {
            bulk.with_batch(id, batch, |job, b| {
                bulk.result_set(job, b, result).bulk_result()
            })
        }
        _ => error(Format::of_request(call), "InvalidUrl", "unknown resource"),
    }
}

struct Bulk<'a, 'c> {
    call: &'a Call<'c>,
    session: &'a Session,
    version: &'a str,
    state: &'a State,
}

/// The id of a query batch's one result set.
fn result_id(batch: &Batch) -> String {
    format!("752{}", &batch.id[3..])
}

impl Bulk<'_, '_> {
    fn org(&self) -> &str {
        &self.session.org_id
    }

    fn with_job(&self, id: &str, f: impl FnOnce(Job) -> Reply) -> Reply {
        match self
            .state
            .job(self.org(), id)
            .filter(|j| j.kind == JobKind::V1)
        {
            Some(job) => f(job),
            None => error(
                Format::of_request(self.call),
                "InvalidJob",
                &format!("Unable to find object: {id}"),
            ),
        }
    }

    fn with_batch(&self, id: &str, batch: &str, f: impl FnOnce(&Job, &Batch) -> Reply) -> Reply {
        self.with_job(id, |job| match job.batches.iter().find(|b| b.id == batch) {
            Some(b) => f(&job, b),
            None => error(
                Format::of_job(&job),
                "InvalidBatch",
                &format!("Unable to find object: {batch}"),
            ),
        })
    }

    /// `POST job`: a jobInfo in XML or JSON.
    fn create(&self) -> Reply {
        let format = Format::of_request(self.call);
        let fields = match read_fields(format, &self.call.body, "jobInfo") {
            Ok(f) => f,
            Err((code, message)) => return error(format, code, &message),
        };
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let operation = get("operation").unwrap_or("");
        if !matches!(
            operation,
            "insert" | "update" | "upsert" | "delete" | "hardDelete" | "query" | "queryAll"
        ) {
            return error(
                format,
                "InvalidJob",
                &format!("Invalid operation: {operation}"),
            );
        }
        let content_type = get("contentType").unwrap_or("CSV");
        if !matches!(content_type, "CSV" | "XML" | "JSON") {
            return error(
                format,
                "InvalidJob",
                &format!("Unsupported content type: {content_type}"),
            );
        }
        let external_id = get("externalIdFieldName");
        if operation == "upsert" && external_id.is_none() {
            return error(
                format,
                "InvalidJob",
                "External ID was blank for Account. An External ID must be specified for upsert.",
            );
        }
        let new = NewJob {
            kind: JobKind::V1,
            operation,
            object: get("object").unwrap_or(""),
            content_type,
            external_id,
            api_version: self.version,
            query: None,
        };
        match self
            .state
            .create_job(self.org(), &self.session.user.id, new)
        {
            Ok(job) => info::job(201, &job),
            Err(e) => error(format, "InvalidJob", &e.message),
        }
    }

    fn change_state(&self, job: &Job) -> Reply {
        let format = Format::of_request(self.call);
        let fields = match read_fields(format, &self.call.body, "jobInfo") {
            Ok(f) => f,
            Err((code, message)) => return error(format, code, &message),
        };
        let wanted = fields
            .iter()
            .find(|(n, _)| n == "state")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if !matches!(wanted.as_str(), "Closed" | "Aborted") {
            return error(
                format,
                "InvalidJobState",
                &format!("Invalid state: {wanted}"),
            );
        }
        if job.state != "Open" {
            return error(
                format,
                "InvalidJobState",
                &format!("Job is already {}", job.state),
            );
        }
        match self
            .state
            .update_job(self.org(), &job.id, |j| j.state = wanted)
        {
            Some(job) => info::job(200, &job),
            None => error(format, "InvalidJob", "Unable to find the job"),
        }
    }

    fn add_batch(&self, job: &Job) -> Reply {
        let format = Format::of_job(job);
        if job.state != "Open" {
            return error(
                format,
                "InvalidJobState",
                &format!("Job is not open: {}", job.state),
            );
        }
        let body = &self.call.body;
        let batch = if matches!(job.operation.as_str(), "query" | "queryAll") {
            let soql = String::from_utf8_lossy(body).into_owned();
            self.state.run_query_batch(job, &soql)
        } else {
            let records = match job.content_type.as_str() {
                "JSON" => format::parse_json(body),
                "XML" => format::parse_xml(body),
                _ => format::parse_csv(body).map(|(_, records)| records),
            };
            match records {
                Ok(records) => self.state.run_batch(job, &self.session.user.id, records),
                Err(message) => return error(format, "InvalidBatch", &message),
            }
        };
        match batch {
            Some(batch) => info::batch(201, job, &batch),
            None => error(format, "InvalidJob", "Unable to find the job"),
        }
    }

    /// A DML batch's save results, or a query batch's result-set ids.
    fn results(&self, job: &Job, batch: &Batch) -> Reply {
        let format = Format::of_job(job);
        if batch.state == "Failed" {
            return error(
                format,
                "InvalidBatch",
                batch.state_message.as_deref().unwrap_or("Batch failed"),
            );
        }
        if matches!(job.operation.as_str(), "query" | "queryAll") {
            let id = result_id(batch);
            return match format {
                Format::Json => Reply::json(200, &json!([id])),
                Format::Xml => Reply::xml(
                    200,
                    format!(
                        r#"<?xml version="1.0" encoding="UTF-8"?><result-list xmlns="{NS}"><result>{id}</result></result-list>"#
                    ),
                ),
            };
        }
        match job.content_type.as_str() {
            "JSON" => Reply::json(200, &format::outcomes_json(&batch.outcomes)),
            "XML" => Reply::xml(200, format::outcomes_xml(&batch.outcomes)),
            _ => Reply::csv(200, format::outcomes_csv(&batch.outcomes)),
        }
    }

    /// A query batch's records, in the job's format.
    fn result_set(&self, job: &Job, batch: &Batch, result: &str) -> Reply {
        if result != result_id(batch) {
            return error(
                Format::of_job(job),
                "InvalidBatch",
                &format!("Unable to find object: {result}"),
            );
        }
        match job.content_type.as_str() {
            "JSON" => {
                let records: Vec<Value> = batch
                    .rows
                    .iter()
                    .map(|r| super::rest::json::row(self.version, r))
                    .collect();
                Reply::json(200, &Value::Array(records))
            }
            "XML" => Reply::xml(200, format::rows_xml(&batch.rows)),
            _ if batch.rows.is_empty() => {
                Reply::csv(200, "Records not found for this query".into())
            }
            _ => Reply::csv(200, rows_csv(&batch.rows)),
        }
    }
}

/// The children of a jobInfo (XML) or the members of a JSON object, as text.
/// Errors name their exception code: InvalidXML for XML that does not parse.
fn read_fields(
    format: Format,
    body: &[u8],
    root: &str,
) -> Result<Vec<(String, String)>, (&'static str, String)> {
    match format {
        Format::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ("InvalidJob", format!("Invalid JSON: {e}")))?;
            let Value::Object(map) = value else {
                return Err(("InvalidJob", "The body must be a JSON object".into()));
            };
            Ok(map
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Null => None,
                    other => Some((k, other.to_string())),
                })
                .collect())
        }
        Format::Xml => {
            let doc = xml::parse(body).map_err(|e| ("InvalidXML", e.to_string()))?;
            let info = doc.root_element();
            if !info.has_tag_name((NS, root)) {
                return Err((
                    "InvalidJob",
                    format!("Expected a {root} element in the dataload namespace"),
                ));
            }
            Ok(xml::elements(info)
                .map(|c| {
                    (
                        c.tag_name().name().to_string(),
                        child_text(info, c.tag_name().name())
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect())
        }
    }
}
