//! Building [`WorkflowError`]s: the gateway writes each as an
//! `application/problem+json` answer (bad-request 400, not-found 404,
//! upstream-fault 502, internal 500; upstream errors as the host decides).
//!
//! `?` on a [`UpstreamError`] (from [`send`](crate::send)) gives
//! `WorkflowError::Upstream`.

use crate::{Fault, UpstreamError, WorkflowError};

/// The caller's input is wrong (HTTP 400); say what and how to fix it.
pub fn bad_request(message: impl Into<String>) -> WorkflowError {
    WorkflowError::BadRequest(message.into())
}

/// What the caller asked for does not exist (HTTP 404).
pub fn not_found(message: impl Into<String>) -> WorkflowError {
    WorkflowError::NotFound(message.into())
}

/// Anything else that went wrong in the workflow (HTTP 500).
pub fn internal(message: impl Into<String>) -> WorkflowError {
    WorkflowError::Internal(message.into())
}

/// The API answered with a fault (HTTP 502): Salesforce's code and message.
pub fn upstream_fault(code: impl Into<String>, message: impl Into<String>) -> WorkflowError {
    WorkflowError::UpstreamFault(Fault {
        code: code.into(),
        message: message.into(),
    })
}

impl From<UpstreamError> for WorkflowError {
    /// Passes the host's error on unchanged.
    fn from(e: UpstreamError) -> Self {
        WorkflowError::Upstream(e)
    }
}
