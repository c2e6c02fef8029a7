//! The plugin side of the error contract: the host's `UpstreamError` as the
//! WIT's typed `upstream-error`, and every way a call fails (trap, limits,
//! the workflow's own `workflow-error`) as one [`ProblemCode`].
//!
//! A workflow that passes on the `upstream-error` it got yields exactly the
//! code the host would have given it: [`wit_error`] and [`upstream_problem`]
//! agree (tested below).

use std::time::Duration;

use super::PluginError;
use super::generated::{Fault, RetryLater, UpstreamError as Wit, WorkflowError};
use crate::problem::ProblemCode;
use crate::session::SessionError;
use crate::transport::TransportError;
use crate::upstream::UpstreamError;

/// What a failed call tells the caller: a code, a detail, maybe a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginProblem {
    pub code: ProblemCode,
    pub detail: String,
    /// Seconds the caller should wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl PluginProblem {
    fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

impl PluginError {
    /// The problem callers see (docs/architecture.md, the error contract).
    pub fn problem(&self) -> PluginProblem {
        let code = match self {
            Self::Trap(_) => ProblemCode::PluginTrap,
            Self::Timeout(_) => ProblemCode::PluginTimeout,
            Self::MemoryExceeded(_) => ProblemCode::PluginMemoryExceeded,
            Self::OutputTooLarge { .. } => ProblemCode::PluginOutputTooLarge,
            Self::Workflow(e) => return workflow_problem(e),
        };
        PluginProblem::new(code, self.to_string())
    }

    /// The problem code callers see.
    pub fn problem_code(&self) -> ProblemCode {
        self.problem().code
    }
}

/// A workflow's own error: one case, one code.
fn workflow_problem(e: &WorkflowError) -> PluginProblem {
    match e {
        WorkflowError::BadRequest(detail) => PluginProblem::new(ProblemCode::BadRequest, detail),
        WorkflowError::NotFound(detail) => PluginProblem::new(ProblemCode::NotFound, detail),
        WorkflowError::UpstreamFault(fault) => {
            PluginProblem::new(ProblemCode::UpstreamFault, fault_detail(fault))
        }
        WorkflowError::Upstream(e) => upstream_problem(e),
        WorkflowError::Internal(detail) => PluginProblem::new(ProblemCode::WorkflowError, detail),
    }
}

/// An `upstream-error` (as the host built it, or as the workflow built it).
pub fn upstream_problem(e: &Wit) -> PluginProblem {
    let later = |code, r: &RetryLater| PluginProblem {
        code,
        detail: r.reason.clone(),
        retry_after: Some(u64::from(r.retry_after.max(1))),
    };
    match e {
        Wit::InvalidRequest(s) => PluginProblem::new(ProblemCode::InvalidRequest, s),
        Wit::InvalidLogin(s) => PluginProblem::new(ProblemCode::InvalidLogin, s),
        Wit::LoginRateLimited(r) => later(ProblemCode::LoginRateLimited, r),
        Wit::SessionUnavailable(r) => later(ProblemCode::SessionUnavailable, r),
        Wit::MutualAuthFailed(s) => PluginProblem::new(ProblemCode::MutualAuthenticationFailed, s),
        Wit::CertificateRejected(reason) => PluginProblem::new(
            ProblemCode::ClientCertificateRejected,
            format!("the API refused the client certificate: {reason}"),
        ),
        Wit::ApiLimitExceeded(r) => later(ProblemCode::ApiLimitExceeded, r),
        Wit::UpstreamFault(fault) => {
            PluginProblem::new(ProblemCode::UpstreamFault, fault_detail(fault))
        }
        Wit::Timeout(s) => PluginProblem::new(ProblemCode::UpstreamTimeout, s),
        Wit::TooLarge(limit) => PluginProblem::new(
            ProblemCode::UpstreamTooLarge,
            format!("the API's answer was over the {limit}-byte limit"),
        ),
        Wit::Unavailable(s) => PluginProblem::new(ProblemCode::UpstreamUnavailable, s),
    }
}

fn fault_detail(fault: &Fault) -> String {
    format!("{}: {}", fault.code, fault.message)
}

/// Whole seconds, rounded up, at least 1.
fn seconds(wait: Option<Duration>) -> u32 {
    let wait = wait.unwrap_or(Duration::from_secs(1));
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

/// How long a workflow is asked to wait after REQUEST_LIMIT_EXCEEDED.
/// Salesforce says nothing (the limit is a rolling 24-hour window), so
/// callers are asked to come back in a minute rather than hammer the org.
pub const API_LIMIT_RETRY_SECS: u32 = 60;

/// REQUEST_LIMIT_EXCEEDED (an answer the API gave, classified by
/// `salesforce::classify`) as the WIT's `api-limit-exceeded`.
pub fn api_limit_exceeded(message: &str) -> Wit {
    Wit::ApiLimitExceeded(RetryLater {
        reason: format!("REQUEST_LIMIT_EXCEEDED: {message}"),
        retry_after: API_LIMIT_RETRY_SECS,
    })
}

/// The host's error as the WIT's `upstream-error`; its problem code is the
/// host error's (`UpstreamError::problem_code`).
pub fn wit_error(e: UpstreamError) -> Wit {
    let retry = seconds(e.retry_after());
    let later = |reason: String| RetryLater {
        reason,
        retry_after: retry,
    };
    match e {
        UpstreamError::InvalidRequest(reason) => Wit::InvalidRequest(reason),
        UpstreamError::Session(e @ SessionError::InvalidLogin { .. }) => {
            Wit::InvalidLogin(e.to_string())
        }
        UpstreamError::Session(e @ SessionError::RateLimited { .. }) => {
            Wit::LoginRateLimited(later(e.to_string()))
        }
        UpstreamError::Session(e @ SessionError::Unavailable { .. }) => {
            Wit::SessionUnavailable(later(e.to_string()))
        }
        e @ UpstreamError::SessionRejected(_) => Wit::SessionUnavailable(later(e.to_string())),
        e @ UpstreamError::AnswerRefused { .. } => Wit::UpstreamFault(Fault {
            code: "ANSWER_REFUSED".into(),
            message: e.to_string(),
        }),
        UpstreamError::ClientCertificateRejected { reason } => Wit::CertificateRejected(reason),
        e @ UpstreamError::MutualAuthenticationFailed { .. } => {
            Wit::MutualAuthFailed(e.to_string())
        }
        UpstreamError::Transport(TransportError::TooLarge { limit }) => Wit::TooLarge(limit as u64),
        UpstreamError::Transport(e @ TransportError::Timeout { .. }) => Wit::Timeout(e.to_string()),
        UpstreamError::Transport(e) => Wit::Unavailable(e.to_string()),
        e @ UpstreamError::ApiBudget(_) => Wit::ApiLimitExceeded(later(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_errors() -> Vec<UpstreamError> {
        let wait = Duration::from_millis(2500);
        vec![
            UpstreamError::InvalidRequest("bad path".into()),
            UpstreamError::Session(SessionError::InvalidLogin {
                code: "INVALID_LOGIN".into(),
                message: "no".into(),
            }),
            UpstreamError::Session(SessionError::RateLimited {
                reason: "budget".into(),
                retry_after: wait,
            }),
            UpstreamError::Session(SessionError::Unavailable {
                reason: "down".into(),
                retry_after: wait,
            }),
            UpstreamError::SessionRejected("again".into()),
            UpstreamError::AnswerRefused {
                reason: "too deep".into(),
            },
            UpstreamError::ClientCertificateRejected {
                reason: "expired".into(),
            },
            UpstreamError::MutualAuthenticationFailed {
                message: "no cert".into(),
                hint: "use the mutual-auth port",
            },
            UpstreamError::Transport(TransportError::TooLarge { limit: 10 }),
            UpstreamError::Transport(TransportError::Timeout {
                phase: "connect",
                target: "x".into(),
                after: wait,
            }),
            UpstreamError::Transport(TransportError::Http("reset".into())),
            UpstreamError::ApiBudget(crate::upstream::Refusal {
                used: 100,
                limit: 15000,
                threshold: 100,
                retry_after: wait,
            }),
        ]
    }

    #[test]
    fn a_passed_on_upstream_error_keeps_the_host_code() {
        for e in host_errors() {
            let code = e.problem_code();
            let retry = e.retry_after().map(|_| 3);
            let problem = upstream_problem(&wit_error(e));
            assert_eq!(problem.code, code);
            if retry.is_some() {
                assert_eq!(problem.retry_after, retry, "{code}: 2.5 s rounds up to 3");
            }
        }
    }

    #[test]
    fn workflow_errors_map_one_to_one() {
        let cases = [
            (
                WorkflowError::BadRequest("x".into()),
                ProblemCode::BadRequest,
            ),
            (WorkflowError::NotFound("x".into()), ProblemCode::NotFound),
            (
                WorkflowError::Internal("x".into()),
                ProblemCode::WorkflowError,
            ),
            (
                WorkflowError::UpstreamFault(Fault {
                    code: "INVALID_FIELD".into(),
                    message: "m".into(),
                }),
                ProblemCode::UpstreamFault,
            ),
            (
                WorkflowError::Upstream(Wit::ApiLimitExceeded(RetryLater {
                    reason: "spent".into(),
                    retry_after: 0,
                })),
                ProblemCode::ApiLimitExceeded,
            ),
        ];
        for (e, code) in cases {
            let problem = PluginError::Workflow(e).problem();
            assert_eq!(problem.code, code);
        }
        let limited = workflow_problem(&WorkflowError::Upstream(Wit::ApiLimitExceeded(
            RetryLater {
                reason: "spent".into(),
                retry_after: 0,
            },
        )));
        assert_eq!(limited.retry_after, Some(1), "at least one second");
    }
}
