//! Building the messages of a test: inbound requests for `handle()`,
//! upstream answers to script, default session facts, and JSON bodies read
//! back for assertions. Re-exported by [`testing`](super).

use serde_json::Value;

use crate::response::header;
use crate::{InboundRequest, SessionInfo, UpstreamResponse, Verdict};

/// The session facts a fake host reports until told otherwise.
pub fn session_info() -> SessionInfo {
    SessionInfo {
        tenant: "test".into(),
        org_id: "00D000000000001".into(),
        user_id: "005000000000001".into(),
        api_version: "62.0".into(),
    }
}

/// An upstream answer with one `content-type` header; the fake host sets
/// its `verdict` when it answers with it (the gateway's classifier judges it).
pub fn response(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> UpstreamResponse {
    UpstreamResponse {
        status,
        headers: vec![header("content-type", content_type)],
        body: body.into(),
        verdict: Verdict::Success,
    }
}

/// An inbound request: `target` is the path after the workflow's route,
/// optionally with `?query` (`"/"`, `"/?city=Chicago"`); no headers.
pub fn request(method: &str, target: &str, body: impl Into<Vec<u8>>) -> InboundRequest {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    InboundRequest {
        method: method.to_ascii_uppercase(),
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        query: query.into(),
        headers: Vec::new(),
        body: body.into(),
    }
}

/// An inbound request with a JSON body and `content-type: application/json`.
pub fn json_request(method: &str, target: &str, body: &Value) -> InboundRequest {
    let mut request = request(method, target, body.to_string());
    request
        .headers
        .push(header("content-type", "application/json"));
    request
}

/// `body` (a response's or a sent request's) parsed as JSON; panics with the
/// body's text when it is not JSON.
pub fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "expected a JSON body, got {:?} ({e})",
            String::from_utf8_lossy(body)
        )
    })
}
