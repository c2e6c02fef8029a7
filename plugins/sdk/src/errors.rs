//! Building [`WorkflowError`]s: the gateway writes each as an
//! `application/problem+json` answer (bad-request 400, not-found 404,
//! internal 500; upstream errors, faults included, as the host decides).
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

/// The API answered with a fault the workflow does not handle (HTTP 502
/// `upstream_fault`): Salesforce's code and message.
pub fn upstream_fault(code: impl Into<String>, message: impl Into<String>) -> WorkflowError {
    WorkflowError::Upstream(crate::upstream_error::upstream_fault(code, message))
}

/// A fault the API answered with (an answer's `verdict`), passed on.
pub fn fault(fault: Fault) -> WorkflowError {
    WorkflowError::Upstream(UpstreamError::UpstreamFault(fault))
}

impl From<UpstreamError> for WorkflowError {
    /// Passes the host's error on unchanged.
    fn from(e: UpstreamError) -> Self {
        WorkflowError::Upstream(e)
    }
}
