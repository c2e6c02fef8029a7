//! Errors as callers see them: `application/problem+json` (RFC 9457) with
//! a stable snake_case `code`, the tenant, workflow and request id.

use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;

pub use crate::problem::ProblemCode;

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
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://twoway.dev/problems/{}", code.code()),
            title: code.title(),
            status: code.status(),
            detail: detail.into(),
            code: code.code(),
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
