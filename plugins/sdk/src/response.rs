//! Building the [`WorkflowResponse`] a workflow answers its caller with.

use serde_json::Value;

use crate::{Header, WorkflowResponse};

/// A JSON answer (`content-type: application/json`).
pub fn json_response(status: u16, body: &Value) -> WorkflowResponse {
    text_response(status, "application/json", body.to_string())
}

/// An answer with any content type and body.
pub fn text_response(
    status: u16,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> WorkflowResponse {
    WorkflowResponse {
        status,
        headers: vec![header("content-type", content_type)],
        body: body.into(),
    }
}

/// A header; the name is lower-cased as the WIT contract asks.
pub fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_ascii_lowercase(),
        value: value.to_string(),
    }
}
