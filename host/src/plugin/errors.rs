//! The plugin side of the error contract: the host's `UpstreamError` as the
//! WIT's typed `upstream-error`, the host's verdict as the WIT's `verdict`,
//! and every way a call fails (trap, limits, the workflow's own
//! `workflow-error`) as one [`Problem`].
//!
//! An upstream error gets its code once (`UpstreamError::problem_code`);
//! the WIT case is chosen by that code ([`wit_case`]) and read back by
//! [`wit_code`], its inverse (tested over every [`UpstreamCode`]). So a
//! workflow that passes on the `upstream-error` it got yields exactly the
//! code the host would have given.

use std::time::Duration;

use super::PluginError;
use super::generated::{
    Fault, RetryLater, UpstreamError as Wit, Verdict as WitVerdict, WorkflowError,
};
use crate::problem::{Problem, ProblemCode, UpstreamCode};
use crate::salesforce::Verdict;
use crate::upstream::UpstreamError;

impl PluginError {
    /// The problem callers see (docs/architecture.md, the error contract).
    pub fn problem(&self) -> Problem {
        let code = match self {
            Self::Trap(_) => ProblemCode::PluginTrap,
            Self::Timeout(_) => ProblemCode::PluginTimeout,
            Self::MemoryExceeded(_) => ProblemCode::PluginMemoryExceeded,
            Self::OutputTooLarge { .. } => ProblemCode::PluginOutputTooLarge,
            Self::Workflow(e) => return workflow_problem(e),
        };
        Problem::new(code, self.to_string())
    }
}

/// A workflow's own error: one case, one code.
fn workflow_problem(e: &WorkflowError) -> Problem {
    match e {
        WorkflowError::BadRequest(detail) => Problem::new(ProblemCode::BadRequest, detail),
        WorkflowError::NotFound(detail) => Problem::new(ProblemCode::NotFound, detail),
        WorkflowError::Upstream(e) => upstream_problem(e),
        WorkflowError::Internal(detail) => Problem::new(ProblemCode::WorkflowError, detail),
    }
}

/// An `upstream-error` (as the host built it, or as the workflow built it).
pub fn upstream_problem(e: &Wit) -> Problem {
    let problem = Problem::new(wit_code(e), wit_detail(e));
    match e {
        Wit::LoginRateLimited(r) | Wit::SessionUnavailable(r) | Wit::ApiLimitExceeded(r) => {
            problem.retry_after(u64::from(r.retry_after))
        }
        _ => problem,
    }
}

/// The code of a WIT `upstream-error` case: the inverse of [`wit_case`].
pub fn wit_code(e: &Wit) -> UpstreamCode {
    match e {
        Wit::InvalidRequest(_) => UpstreamCode::InvalidRequest,
        Wit::InvalidLogin(_) => UpstreamCode::InvalidLogin,
        Wit::LoginRateLimited(_) => UpstreamCode::LoginRateLimited,
        Wit::SessionUnavailable(_) => UpstreamCode::SessionUnavailable,
        Wit::MutualAuthFailed(_) => UpstreamCode::MutualAuthenticationFailed,
        Wit::CertificateRejected(_) => UpstreamCode::ClientCertificateRejected,
        Wit::ApiLimitExceeded(_) => UpstreamCode::ApiLimitExceeded,
        Wit::UpstreamFault(_) => UpstreamCode::UpstreamFault,
        Wit::Refused(_) => UpstreamCode::UpstreamRefused,
        Wit::Timeout(_) => UpstreamCode::UpstreamTimeout,
        Wit::TooLarge(_) => UpstreamCode::UpstreamTooLarge,
        Wit::Unavailable(_) => UpstreamCode::UpstreamUnavailable,
    }
}

/// What a WIT `upstream-error` says, for people.
fn wit_detail(e: &Wit) -> String {
    match e {
        Wit::InvalidRequest(s)
        | Wit::InvalidLogin(s)
        | Wit::MutualAuthFailed(s)
        | Wit::CertificateRejected(s)
        | Wit::Refused(s)
        | Wit::Timeout(s)
        | Wit::TooLarge(s)
        | Wit::Unavailable(s) => s.clone(),
        Wit::LoginRateLimited(r) | Wit::SessionUnavailable(r) | Wit::ApiLimitExceeded(r) => {
            r.reason.clone()
        }
        Wit::UpstreamFault(fault) => format!("{}: {}", fault.code, fault.message),
    }
}

/// The WIT case of `code`, saying `detail`, asking to wait `retry_after`
/// seconds where the case carries a wait. The one mapping from an upstream
/// code to the WIT.
pub fn wit_case(code: UpstreamCode, detail: String, retry_after: u32) -> Wit {
    let later = |reason| RetryLater {
        reason,
        retry_after: retry_after.max(1),
    };
    match code {
        UpstreamCode::InvalidRequest => Wit::InvalidRequest(detail),
        UpstreamCode::InvalidLogin => Wit::InvalidLogin(detail),
        UpstreamCode::LoginRateLimited => Wit::LoginRateLimited(later(detail)),
        UpstreamCode::SessionUnavailable => Wit::SessionUnavailable(later(detail)),
        UpstreamCode::MutualAuthenticationFailed => Wit::MutualAuthFailed(detail),
        UpstreamCode::ClientCertificateRejected => Wit::CertificateRejected(detail),
        UpstreamCode::ApiLimitExceeded => Wit::ApiLimitExceeded(later(detail)),
        // Salesforce's own code for a fault of no known kind.
        UpstreamCode::UpstreamFault => Wit::UpstreamFault(Fault {
            code: "UNKNOWN_EXCEPTION".into(),
            message: detail,
        }),
        UpstreamCode::UpstreamRefused => Wit::Refused(detail),
        UpstreamCode::UpstreamTimeout => Wit::Timeout(detail),
        UpstreamCode::UpstreamTooLarge => Wit::TooLarge(detail),
        UpstreamCode::UpstreamUnavailable => Wit::Unavailable(detail),
    }
}

/// Whole seconds, rounded up, at least 1.
fn seconds(wait: Option<Duration>) -> u32 {
    let wait = wait.unwrap_or(Duration::from_secs(1));
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

impl From<UpstreamError> for Wit {
    fn from(e: UpstreamError) -> Self {
        wit_case(e.problem_code(), e.to_string(), seconds(e.retry_after()))
    }
}

impl From<Verdict> for WitVerdict {
    fn from(verdict: Verdict) -> Self {
        if let Some((code, message)) = verdict.fault() {
            return WitVerdict::Fault(Fault { code, message });
        }
        match verdict {
            Verdict::UnexpectedBody { snippet, .. } => WitVerdict::Unexpected(snippet),
            _ => WitVerdict::Success,
        }
    }
}

/// The error a workflow gets instead of the results of an answer that is
/// not a success (WIT `soap.send-for-results`): the fault the verdict
/// names; `HTTP_{status}` with the verdict's text for an unexpected body;
/// `HTTP_{status}` without a message for a success that is not a 2xx.
/// `None` for a 2xx success.
pub fn unsuccessful(status: u16, verdict: WitVerdict) -> Option<Wit> {
    let fault = match verdict {
        WitVerdict::Fault(fault) => fault,
        WitVerdict::Unexpected(snippet) => Fault {
            code: format!("HTTP_{status}"),
            message: snippet,
        },
        WitVerdict::Success if !(200..300).contains(&status) => Fault {
            code: format!("HTTP_{status}"),
            message: String::new(),
        },
        WitVerdict::Success => return None,
    };
    Some(Wit::UpstreamFault(fault))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upstream_code_has_one_wit_case_and_back() {
        for &code in UpstreamCode::ALL {
            let case = wit_case(code, "why".into(), 3);
            assert_eq!(wit_code(&case), code);
            let problem = upstream_problem(&case);
            assert_eq!(problem.code, ProblemCode::Upstream(code));
            assert_eq!(problem.status, code.status());
        }
    }

    #[test]
    fn a_passed_on_host_error_keeps_its_code_detail_and_wait() {
        let e = UpstreamError::ApiBudget(crate::upstream::Refusal {
            used: 100,
            limit: 15000,
            threshold: 100,
            retry_after: Duration::from_millis(2500),
        });
        let (code, detail) = (e.problem_code(), e.to_string());
        let problem = workflow_problem(&WorkflowError::Upstream(Wit::from(e)));
        assert_eq!(problem.code, ProblemCode::Upstream(code));
        assert_eq!(problem.detail, detail);
        assert_eq!(problem.retry_after, Some(3), "2.5 s rounds up to 3");
        let limit = Wit::from(UpstreamError::ApiLimitExceeded {
            message: "TotalRequests Limit exceeded.".into(),
        });
        assert!(
            matches!(&limit, Wit::ApiLimitExceeded(r) if r.retry_after == 60 && r.reason.contains("REQUEST_LIMIT_EXCEEDED")),
            "{limit:?}"
        );
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
        ];
        for (e, code) in cases {
            assert_eq!(PluginError::Workflow(e).problem().code, code);
        }
        let limited = workflow_problem(&WorkflowError::Upstream(Wit::ApiLimitExceeded(
            RetryLater {
                reason: "spent".into(),
                retry_after: 0,
            },
        )));
        assert_eq!(limited.retry_after, Some(1), "at least one second");
    }

    #[test]
    fn verdicts_cross_the_boundary_as_faults_or_unexpected() {
        let fault = WitVerdict::from(Verdict::BulkError {
            code: "InvalidBatch".into(),
            message: "bad".into(),
        });
        assert!(
            matches!(&fault, WitVerdict::Fault(f) if f.code == "InvalidBatch" && f.message == "bad")
        );
        let page = WitVerdict::from(Verdict::UnexpectedBody {
            status: 503,
            content_type: "text/html".into(),
            snippet: "<html>down</html>".into(),
        });
        assert!(matches!(&page, WitVerdict::Unexpected(s) if s == "<html>down</html>"));
        assert!(matches!(
            WitVerdict::from(Verdict::Success),
            WitVerdict::Success
        ));
    }

    #[test]
    fn an_answer_that_is_not_a_success_is_the_fault_a_workflow_would_read() {
        let fault = |code: &str, message: &str| {
            Some(Wit::UpstreamFault(Fault {
                code: code.into(),
                message: message.into(),
            }))
        };
        let named = WitVerdict::Fault(Fault {
            code: "INVALID_FIELD".into(),
            message: "bad".into(),
        });
        assert_eq!(unsuccessful(500, named), fault("INVALID_FIELD", "bad"));
        let page = WitVerdict::Unexpected("<html>down</html>".into());
        assert_eq!(
            unsuccessful(503, page),
            fault("HTTP_503", "<html>down</html>")
        );
        assert_eq!(
            unsuccessful(302, WitVerdict::Success),
            fault("HTTP_302", "")
        );
        for status in [200, 201, 299] {
            assert_eq!(unsuccessful(status, WitVerdict::Success), None);
        }
    }
}
