//! Building [`UpstreamError`]s: one function per case of the WIT's
//! `upstream-error`, each one problem code at the gateway (README, "Problem
//! codes"). A workflow rarely builds one (it passes on what `send` gave it
//! with `?`); tests script them for the fake host
//! (`testing::fail` re-exports these on the native target), and a workflow may
//! answer with one, e.g. `Err(api_limit_exceeded("...", 60).into())`.

use crate::{Fault, RetryLater, UpstreamError};

fn later(reason: impl Into<String>, retry_after: u32) -> RetryLater {
    RetryLater {
        reason: reason.into(),
        retry_after,
    }
}

/// The request was refused before it left (a path leaving its base, a bad header).
pub fn invalid_request(message: impl Into<String>) -> UpstreamError {
    UpstreamError::InvalidRequest(message.into())
}

/// The credentials were refused (`invalid_login`).
pub fn invalid_login(message: impl Into<String>) -> UpstreamError {
    UpstreamError::InvalidLogin(message.into())
}

/// Logins are rate limited; try again in `retry_after` seconds.
pub fn login_rate_limited(message: impl Into<String>, retry_after: u32) -> UpstreamError {
    UpstreamError::LoginRateLimited(later(message, retry_after))
}

/// No session could be had (the login is failing, backing off); the host
/// suggests retrying in 1 second.
pub fn session_unavailable(message: impl Into<String>) -> UpstreamError {
    UpstreamError::SessionUnavailable(later(message, 1))
}

/// The API refused the client certificate; `reason` as the host reports it.
pub fn certificate_rejected(reason: impl Into<String>) -> UpstreamError {
    UpstreamError::CertificateRejected(reason.into())
}

/// MUTUAL_AUTHENTICATION_FAILED: the session was used without mutual TLS.
pub fn mutual_authentication_failed(message: impl Into<String>) -> UpstreamError {
    UpstreamError::MutualAuthFailed(message.into())
}

/// The org's API request limit is spent; try again in `retry_after` seconds.
pub fn api_limit_exceeded(message: impl Into<String>, retry_after: u32) -> UpstreamError {
    UpstreamError::ApiLimitExceeded(later(message, retry_after))
}

/// A fault the workflow does not handle (`upstream_fault`).
pub fn upstream_fault(code: impl Into<String>, message: impl Into<String>) -> UpstreamError {
    UpstreamError::UpstreamFault(Fault {
        code: code.into(),
        message: message.into(),
    })
}

/// Connecting, the handshake or the answer timed out.
pub fn timeout(message: impl Into<String>) -> UpstreamError {
    UpstreamError::Timeout(message.into())
}

/// The API could not be reached (connect, TLS, HTTP).
pub fn unavailable(message: impl Into<String>) -> UpstreamError {
    UpstreamError::Unavailable(message.into())
}

/// The answer was larger than the host's cap of `bytes`.
pub fn too_large(bytes: u64) -> UpstreamError {
    UpstreamError::TooLarge(format!("the API's answer was over the {bytes}-byte limit"))
}

/// The answer broke the host's caps on XML (nesting, attributes, names) and
/// was refused unread (`upstream_refused`).
pub fn refused(reason: impl Into<String>) -> UpstreamError {
    UpstreamError::Refused(reason.into())
}
