//! The error contract's vocabulary: every `code` a caller can get in an
//! `application/problem+json` answer, with its HTTP status and title, and
//! the one [`Problem`] every layer that answers callers builds.
//!
//! Lower layers return typed errors that name their [`ProblemCode`]
//! (`UpstreamError::problem_code`, `PluginError::problem`); the gateway
//! turns them into answers (`gateway::Problem`). docs/problem-codes.md's code list is
//! tested against [`ProblemCode::ALL`].

/// One problem code. `code()` is the stable snake_case name callers see.
///
/// The codes an answer from the API (or the way to it) can end with are an
/// [`UpstreamCode`]: the upstream layer, the plugin boundary and the front
/// door all speak that subset, and `ProblemCode::Upstream` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    /// The path is not a route.
    UnknownRoute,
    /// A workflow's own 404.
    NotFound,
    /// The tenant has no such workflow.
    UnknownWorkflow,
    /// No such tenant, or the caller was refused.
    Unauthorized,
    /// The caller's request is wrong (the gateway's or the workflow's verdict).
    BadRequest,
    /// The body is over `[server].max_body_kb` (or says so in `Content-Length`).
    PayloadTooLarge,
    /// The request target is longer than the request head may be.
    UriTooLong,
    /// The request head has too many headers or is too large.
    HeadTooLarge,
    /// The body did not arrive within `[server].body_timeout_ms`.
    RequestTimeout,
    /// The tenant is at its concurrency limit (with `Retry-After`).
    Overloaded,
    /// The workflow's component has not loaded.
    PluginUnavailable,
    /// The tenant's policy refused the request or its answer (front door).
    PolicyRefused,
    /// Getting an answer from the API failed, or the answer was a fault.
    Upstream(UpstreamCode),
    /// The workflow crashed (or answered an invalid response).
    PluginTrap,
    /// The workflow ran out of time.
    PluginTimeout,
    /// The workflow ran out of memory.
    PluginMemoryExceeded,
    /// The workflow's response was over its output cap.
    PluginOutputTooLarge,
    /// The workflow failed (its own `internal` error).
    WorkflowError,
}

/// Why a call to the API gave no usable answer: every way a session, the
/// transport or the answer itself can fail. One case per WIT
/// `upstream-error` case (`plugin::errors`), one Salesforce error shape per
/// case at the front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamCode {
    /// The API refused the client certificate.
    ClientCertificateRejected,
    /// MUTUAL_AUTHENTICATION_FAILED: the session was used without mutual TLS.
    MutualAuthenticationFailed,
    /// The credentials were refused; logins stop until the config changes.
    InvalidLogin,
    /// Logins are rate limited (with `Retry-After`).
    LoginRateLimited,
    /// No session could be had: the login is failing, backing off.
    SessionUnavailable,
    /// The org's API request limit is spent, or the tenant's API budget (with `Retry-After`).
    ApiLimitExceeded,
    /// The API could not be reached (connect, TLS, HTTP).
    UpstreamUnavailable,
    /// The API did not answer in time.
    UpstreamTimeout,
    /// The API's answer was over `[upstream].max_response_kb`.
    UpstreamTooLarge,
    /// The API's answer broke the caps on the work an XML document may cause.
    UpstreamRefused,
    /// The API answered with a fault the workflow did not handle.
    UpstreamFault,
    /// The workflow built a request the host refused (bad path or header).
    InvalidRequest,
}

impl UpstreamCode {
    /// Every upstream code, in docs/problem-codes.md's order.
    pub const ALL: &'static [UpstreamCode] = &[
        Self::ClientCertificateRejected,
        Self::MutualAuthenticationFailed,
        Self::InvalidLogin,
        Self::LoginRateLimited,
        Self::SessionUnavailable,
        Self::ApiLimitExceeded,
        Self::UpstreamUnavailable,
        Self::UpstreamTimeout,
        Self::UpstreamTooLarge,
        Self::UpstreamRefused,
        Self::UpstreamFault,
        Self::InvalidRequest,
    ];

    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::ClientCertificateRejected => "client_certificate_rejected",
            Self::MutualAuthenticationFailed => "mutual_authentication_failed",
            Self::InvalidLogin => "invalid_login",
            Self::LoginRateLimited => "login_rate_limited",
            Self::SessionUnavailable => "session_unavailable",
            Self::ApiLimitExceeded => "api_limit_exceeded",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamTooLarge => "upstream_too_large",
            Self::UpstreamRefused => "upstream_refused",
            Self::UpstreamFault => "upstream_fault",
            Self::InvalidRequest => "invalid_request",
        }
    }

    /// The HTTP status.
    pub const fn status(self) -> u16 {
        match self {
            Self::LoginRateLimited | Self::SessionUnavailable => 503,
            Self::ApiLimitExceeded => 429,
            Self::ClientCertificateRejected
            | Self::MutualAuthenticationFailed
            | Self::InvalidLogin
            | Self::UpstreamUnavailable
            | Self::UpstreamTooLarge
            | Self::UpstreamRefused
            | Self::UpstreamFault => 502,
            Self::UpstreamTimeout => 504,
            Self::InvalidRequest => 500,
        }
    }

    /// The problem's title.
    pub const fn title(self) -> &'static str {
        match self {
            Self::ClientCertificateRejected => "The API refused the client certificate",
            Self::MutualAuthenticationFailed => "Mutual authentication failed",
            Self::InvalidLogin => "Login refused",
            Self::LoginRateLimited => "Logins rate limited",
            Self::SessionUnavailable => "No session",
            Self::ApiLimitExceeded => "The org's API request limit is spent",
            Self::UpstreamUnavailable => "The API could not be reached",
            Self::UpstreamTimeout => "The API did not answer in time",
            Self::UpstreamTooLarge => "The API's answer was too large",
            Self::UpstreamRefused => "The API's answer was refused unread",
            Self::UpstreamFault => "The API answered with a fault",
            Self::InvalidRequest => "The workflow built an invalid request",
        }
    }
}

impl From<UpstreamCode> for ProblemCode {
    fn from(code: UpstreamCode) -> Self {
        Self::Upstream(code)
    }
}

impl ProblemCode {
    /// Every code, in docs/problem-codes.md's order.
    pub const ALL: &'static [ProblemCode] = &[
        Self::UnknownRoute,
        Self::NotFound,
        Self::UnknownWorkflow,
        Self::Unauthorized,
        Self::BadRequest,
        Self::PayloadTooLarge,
        Self::UriTooLong,
        Self::HeadTooLarge,
        Self::RequestTimeout,
        Self::Overloaded,
        Self::PluginUnavailable,
        Self::PolicyRefused,
        Self::Upstream(UpstreamCode::ClientCertificateRejected),
        Self::Upstream(UpstreamCode::MutualAuthenticationFailed),
        Self::Upstream(UpstreamCode::InvalidLogin),
        Self::Upstream(UpstreamCode::LoginRateLimited),
        Self::Upstream(UpstreamCode::SessionUnavailable),
        Self::Upstream(UpstreamCode::ApiLimitExceeded),
        Self::Upstream(UpstreamCode::UpstreamUnavailable),
        Self::Upstream(UpstreamCode::UpstreamTimeout),
        Self::Upstream(UpstreamCode::UpstreamTooLarge),
        Self::Upstream(UpstreamCode::UpstreamRefused),
        Self::Upstream(UpstreamCode::UpstreamFault),
        Self::Upstream(UpstreamCode::InvalidRequest),
        Self::PluginTrap,
        Self::PluginTimeout,
        Self::PluginMemoryExceeded,
        Self::PluginOutputTooLarge,
        Self::WorkflowError,
    ];

    /// The stable snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::UnknownRoute => "unknown_route",
            Self::NotFound => "not_found",
            Self::UnknownWorkflow => "unknown_workflow",
            Self::Unauthorized => "unauthorized",
            Self::BadRequest => "bad_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::HeadTooLarge => "head_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::Overloaded => "overloaded",
            Self::PluginUnavailable => "plugin_unavailable",
            Self::PolicyRefused => "policy_refused",
            Self::Upstream(code) => code.code(),
            Self::PluginTrap => "plugin_trap",
            Self::PluginTimeout => "plugin_timeout",
            Self::PluginMemoryExceeded => "plugin_memory_exceeded",
            Self::PluginOutputTooLarge => "plugin_output_too_large",
            Self::WorkflowError => "workflow_error",
        }
    }

    /// The HTTP status.
    pub const fn status(self) -> u16 {
        match self {
            Self::UnknownRoute | Self::NotFound | Self::UnknownWorkflow => 404,
            Self::Unauthorized => 401,
            Self::PolicyRefused => 403,
            Self::BadRequest => 400,
            Self::PayloadTooLarge => 413,
            Self::UriTooLong => 414,
            Self::HeadTooLarge => 431,
            Self::RequestTimeout => 408,
            Self::Overloaded | Self::PluginUnavailable => 503,
            Self::Upstream(code) => code.status(),
            Self::PluginTimeout => 504,
            Self::PluginTrap
            | Self::PluginMemoryExceeded
            | Self::PluginOutputTooLarge
            | Self::WorkflowError => 500,
        }
    }

    /// The problem's title.
    pub const fn title(self) -> &'static str {
        match self {
            Self::UnknownRoute => "Not a route",
            Self::NotFound => "Not found",
            Self::UnknownWorkflow => "Unknown workflow",
            Self::Unauthorized => "Unauthorized",
            Self::BadRequest => "Bad request",
            Self::PayloadTooLarge => "Payload too large",
            Self::UriTooLong => "Request target too long",
            Self::HeadTooLarge => "Request head too large",
            Self::RequestTimeout => "Request body not received in time",
            Self::Overloaded => "Tenant at its concurrency limit",
            Self::PluginUnavailable => "Workflow not loaded",
            Self::PolicyRefused => "Refused by the tenant's policy",
            Self::Upstream(code) => code.title(),
            Self::PluginTrap => "The workflow crashed",
            Self::PluginTimeout => "The workflow ran out of time",
            Self::PluginMemoryExceeded => "The workflow ran out of memory",
            Self::PluginOutputTooLarge => "The workflow's response was too large",
            Self::WorkflowError => "The workflow failed",
        }
    }
}

/// One problem, as callers get it (RFC 9457 `application/problem+json`):
/// the code decides the status and title; the gateway names the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: ProblemCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    pub request_id: String,
    /// Seconds the caller should wait (`Retry-After`), at least 1.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with `code`; status and title follow from the code.
    pub fn new(code: impl Into<ProblemCode>, detail: impl Into<String>) -> Self {
        let code = code.into();
        Self {
            kind: format!("https://twoway.dev/problems/{}", code.code()),
            title: code.title(),
            status: code.status(),
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

    /// Asks the caller to retry after `seconds` (at least 1).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl serde::Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::fmt::Display for UpstreamCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::{ProblemCode, UpstreamCode};

    /// docs/problem-codes.md's table between the `problem-codes` markers:
    /// (code, status).
    fn documented_codes() -> Vec<(String, u16)> {
        let doc = include_str!("../../docs/problem-codes.md");
        let start = doc
            .find("<!-- problem-codes:start -->")
            .expect("docs/problem-codes.md has a <!-- problem-codes:start --> marker");
        let end = doc
            .find("<!-- problem-codes:end -->")
            .expect("docs/problem-codes.md has a <!-- problem-codes:end --> marker");
        doc[start..end]
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let status = cells.get(2)?.parse().ok()?;
                Some((code.to_string(), status))
            })
            .collect()
    }

    #[test]
    fn the_doc_lists_every_code_with_its_status() {
        let expected: Vec<(String, u16)> = ProblemCode::ALL
            .iter()
            .map(|c| (c.code().to_string(), c.status()))
            .collect();
        assert_eq!(
            documented_codes(),
            expected,
            "docs/problem-codes.md's table must equal ProblemCode::ALL (codes, statuses, order)"
        );
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ProblemCode::ALL {
            assert!(seen.insert(code.code()), "{code} twice");
            assert!(
                code.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }

    #[test]
    fn every_upstream_code_is_listed_once_among_all_codes() {
        for code in UpstreamCode::ALL {
            let listed = ProblemCode::ALL
                .iter()
                .filter(|c| **c == ProblemCode::Upstream(*code))
                .count();
            assert_eq!(listed, 1, "{code} in ProblemCode::ALL");
        }
        let upstream = ProblemCode::ALL
            .iter()
            .filter(|c| matches!(c, ProblemCode::Upstream(_)))
            .count();
        assert_eq!(upstream, UpstreamCode::ALL.len());
    }
}
