//! Problems as HTTP answers: `application/problem+json` (RFC 9457) with a
//! stable snake_case `code`, the tenant, workflow and request id, and
//! `Retry-After` when waiting helps.

use bytes::Bytes;
use http_body_util::Full;

pub use crate::problem::{Problem, ProblemCode};

/// A problem as the HTTP response callers get.
pub trait IntoResponse {
    /// The response, naming `request_id`.
    fn into_response(self, request_id: &str) -> http::Response<Full<Bytes>>;
}

impl IntoResponse for Problem {
    /// The HTTP response.
    fn into_response(self, request_id: &str) -> http::Response<Full<Bytes>> {
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
        let mut response = response
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())));
        // For the access log (gateway::access) and the dashboard's recent
        // problems (gateway::recent).
        response.extensions_mut().insert(problem.code);
        response
    }
}
