//! The [`UpstreamError`]s a test can script for `send` (with
//! [`Script::fail`](super::Script::fail)) or `session` (with
//! [`FakeHost::session_error`](super::FakeHost::session_error)).
//!
//! Every upstream error the fake host hands a workflow is built here, so a
//! change of the WIT's error cases changes this file only; tests that use
//! these functions keep compiling.

use crate::UpstreamError;

/// The request was refused before it left (a path leaving its base, a bad header).
pub fn invalid_request(message: impl Into<String>) -> UpstreamError {
    UpstreamError::InvalidRequest(message.into())
}

/// No session could be had (bad credentials, login budget spent, backing off).
pub fn session_unavailable(message: impl Into<String>) -> UpstreamError {
    UpstreamError::SessionUnavailable(message.into())
}

/// The API refused the client certificate; `reason` as the host reports it.
pub fn certificate_rejected(reason: impl Into<String>) -> UpstreamError {
    UpstreamError::ClientCertificateRejected(reason.into())
}

/// MUTUAL_AUTHENTICATION_FAILED: the session was used without mutual TLS.
pub fn mutual_authentication_failed(message: impl Into<String>) -> UpstreamError {
    UpstreamError::MutualAuthenticationFailed(message.into())
}

/// Connecting, the handshake or the wait for the answer failed or timed out.
pub fn unavailable(message: impl Into<String>) -> UpstreamError {
    UpstreamError::Unavailable(message.into())
}

/// The answer was larger than the host's cap of `bytes`.
pub fn too_large(bytes: u64) -> UpstreamError {
    UpstreamError::TooLarge(bytes)
}
