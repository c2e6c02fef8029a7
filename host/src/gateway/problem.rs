//! Errors as callers see them: `application/problem+json` (RFC 9457) with
//! a stable snake_case `code`, the tenant, workflow and request id.

use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;

/// One problem answer.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    pub request_id: String,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with `code`; status and title follow from the code.
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        let (status, title) = status_and_title(code);
        Self {
            kind: format!("https://twoway.dev/problems/{code}"),
            title,
            status,
            detail: detail.into(),
            code,
            tenant: None,
            workflow: None,
            request_id: String::new(),
            retry_after: None,
        }
    }

    /// Names the tenant and workflow it happened in.
    pub fn at(mut self, tenant: Option<&str>, workflow: Option<&str>) -> Self {
        self.tenant = tenant.map(str::to_string);
        self.workflow = workflow.map(str::to_string);
        self
    }

    /// Asks the caller to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The HTTP response.
    pub fn into_response(self, request_id: &str) -> http::Response<Full<Bytes>> {
        let mut problem = self;
        problem.request_id = request_id.to_string();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = http::Response::builder()
            .status(problem.status)
            .header(http::header::CONTENT_TYPE, "application/problem+json")
            .header("x-request-id", request_id);
        if let Some(seconds) = problem.retry_after {
            response = response.header(http::header::RETRY_AFTER, seconds.to_string());
        }
        response
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
    }
}

/// The HTTP status and title of each code (the error contract in
/// docs/architecture.md).
fn status_and_title(code: &str) -> (u16, &'static str) {
    match code {
        "unknown_route" => (404, "Not a route"),
        "not_found" => (404, "Not found"),
        "unknown_workflow" => (404, "Unknown workflow"),
        "unauthorized" => (401, "Unauthorized"),
        "bad_request" => (400, "Bad request"),
        "payload_too_large" => (413, "Payload too large"),
        "request_timeout" => (408, "Request body not received in time"),
        "overloaded" => (503, "Tenant at its concurrency limit"),
        "shutting_down" => (503, "Shutting down"),
        "plugin_unavailable" => (503, "Workflow not loaded"),
        "client_certificate_rejected" => (502, "The API refused the client certificate"),
        "mutual_authentication_failed" => (502, "Mutual authentication failed"),
        "invalid_login" => (502, "Login refused"),
        "login_rate_limited" => (503, "Logins rate limited"),
        "session_unavailable" => (503, "No session"),
        "upstream_unavailable" => (502, "The API could not be reached"),
        "upstream_too_large" => (502, "The API's answer was too large"),
        "upstream_fault" => (502, "The API answered with a fault"),
        "invalid_request" => (500, "The workflow built an invalid request"),
        "plugin_trap" => (500, "The workflow crashed"),
        "plugin_timeout" => (504, "The workflow ran out of time"),
        "plugin_memory_exceeded" => (500, "The workflow ran out of memory"),
        "plugin_output_too_large" => (500, "The workflow's response was too large"),
        "workflow_error" => (500, "The workflow failed"),
        _ => (500, "Internal error"),
    }
}
