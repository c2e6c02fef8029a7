//! Bulk API 1.0 jobs (`/services/async/{ver}/job`): enough to show
//! `X-SFDC-Session` injection and the InvalidSessionId error.

use super::reply::Reply;
use super::{Call, Denied};
use twoway::xml::{self, child_text, escape};

const NS: &str = "http://www.force.com/2009/06/asyncapi/dataload";

fn error(code: &str, message: &str) -> Reply {
    Reply::xml(
        400,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="{NS}"><exceptionCode>{code}</exceptionCode><exceptionMessage>{}</exceptionMessage></error>"#,
            escape(message)
        ),
    )
}

/// The Bulk reply for a request refused before it reached the API.
pub fn denied(d: Denied) -> Reply {
    match d {
        Denied::InvalidSession => error("InvalidSessionId", "Invalid session id"),
        Denied::MutualAuthRequired => error(
            "MutualAuthenticationFailed",
            "This session could not be mutually authenticated for use with the API",
        ),
        Denied::LimitExceeded => error("ExceededQuota", "TotalRequests Limit exceeded."),
        Denied::Page(reply) => reply,
    }
}

/// Handles a request under `/services/async/`.
pub fn handle(call: &Call<'_>) -> Reply {
    let rest = call.path.trim_start_matches("/services/async/");
    let (version, resource) = rest.split_once('/').unwrap_or((rest, ""));
    if super::versions::served(version).is_none() {
        return error("InvalidVersion", "Invalid api version specified on URL");
    }
    let session_header = call.header("x-sfdc-session");
    let (session, _usage) = match call.authorize(session_header) {
        Ok(ok) => ok,
        Err(d) => return denied(d),
    };
    let state = &call.ctx.state;
    let job = match (call.method.as_str(), resource.trim_end_matches('/')) {
        ("POST", "job") => {
            let doc = match xml::parse(&call.body) {
                Ok(doc) => doc,
                Err(e) => return error("InvalidXML", &e.to_string()),
            };
            let info = doc.root_element();
            if !info.has_tag_name((NS, "jobInfo")) {
                return error(
                    "InvalidJob",
                    "Expected a jobInfo element in the dataload namespace",
                );
            }
            let operation = child_text(info, "operation").unwrap_or("");
            if !matches!(
                operation,
                "insert" | "update" | "upsert" | "delete" | "query"
            ) {
                return error("InvalidJob", &format!("Invalid operation: {operation}"));
            }
            let object = child_text(info, "object").unwrap_or("");
            let content_type = child_text(info, "contentType").unwrap_or("CSV");
            match state.create_job(
                &session.org_id,
                &session.user.id,
                operation,
                object,
                content_type,
            ) {
                Ok(job) => (201, job),
                Err(e) => return error("InvalidJob", &e.message),
            }
        }
        ("GET", path) if path.starts_with("job/") => match state.job(&path[4..]) {
            Some(job) => (200, job),
            None => return error("InvalidJob", "Unable to find the job"),
        },
        _ => return error("InvalidUrl", "unknown resource"),
    };
    let (status, job) = job;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Reply::xml(
        status,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{NS}"><id>{}</id><operation>{}</operation><object>{}</object><createdById>{}</createdById><createdDate>{now}</createdDate><systemModstamp>{now}</systemModstamp><state>Open</state><concurrencyMode>Parallel</concurrencyMode><contentType>{}</contentType><numberBatchesQueued>0</numberBatchesQueued><numberBatchesInProgress>0</numberBatchesInProgress><numberBatchesCompleted>0</numberBatchesCompleted><numberBatchesFailed>0</numberBatchesFailed><numberBatchesTotal>0</numberBatchesTotal><numberRecordsProcessed>0</numberRecordsProcessed><numberRetries>0</numberRetries><apiVersion>{}</apiVersion></jobInfo>"#,
            job.id,
            escape(&job.operation),
            escape(&job.object),
            job.created_by,
            escape(&job.content_type),
            escape(version)
        ),
    )
}
