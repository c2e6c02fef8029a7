//! Test plugin `error-cases` (tests/tests/error_contract.rs): answers with
//! the error its path names, built by the workflow itself, or passes on the
//! upstream error the host gave it.
//!
//! - `/own/{bad-request|not-found|internal|upstream-fault}`: that
//!   `workflow-error`.
//! - `/own/upstream/{case}`: `workflow-error::upstream` with that
//!   `upstream-error` case (`invalid-login`, `api-limit-exceeded`, ...).
//! - `/pass/{path}`: a REST GET of `{path}` (URL-decoded), the host's
//!   `upstream-error` passed on with `?`; the API's answer as is otherwise.
//! - `/soap-results`: the request body read as a SOAP answer by the host
//!   (`soap::results`, WIT `soap`), its error passed on with `?`; else
//!   `{"results": n, "fields": m}`, the counts of results and fields.
//! - `/soap-call/{two-calls|one-call}`: the request body, a partner SOAP
//!   operation (`<urn:getUserInfo/>`), sent and its answer's `<result>`
//!   fields read, by `soap::call` and `soap::read_results` (WIT
//!   `upstream.send`, then `soap.results`) or by `soap::call_for_results`
//!   (WIT `soap.send-for-results`); errors passed on with `?`; else a JSON
//!   array of every `<result>`'s fields.

use twoway_plugin::prelude::*;
use twoway_plugin::upstream_error as fail;

struct ErrorCases;

fn own_upstream(case: &str) -> Option<UpstreamError> {
    Some(match case {
        "invalid-request" => fail::invalid_request("built by the workflow"),
        "invalid-login" => fail::invalid_login("built by the workflow"),
        "login-rate-limited" => fail::login_rate_limited("built by the workflow", 7),
        "session-unavailable" => fail::session_unavailable("built by the workflow"),
        "mutual-auth-failed" => fail::mutual_authentication_failed("built by the workflow"),
        "certificate-rejected" => fail::certificate_rejected("built by the workflow"),
        "api-limit-exceeded" => fail::api_limit_exceeded("built by the workflow", 30),
        "upstream-fault" => fail::upstream_fault("UNKNOWN_EXCEPTION", "built by the workflow"),
        "timeout" => fail::timeout("built by the workflow"),
        "refused" => fail::refused("built by the workflow"),
        "too-large" => fail::too_large(1024),
        "unavailable" => fail::unavailable("built by the workflow"),
        _ => return None,
    })
}

impl Guest for ErrorCases {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let path = request.path.trim_start_matches('/');
        if let Some(api_path) = path.strip_prefix("pass/") {
            let answer = send(&OutboundRequest {
                api: Api::Rest,
                method: "GET".into(),
                path: api_path.replace("%2E", ".").replace("%2F", "/"),
                headers: Vec::new(),
                body: Vec::new(),
            })?;
            return Ok(WorkflowResponse {
                status: answer.status,
                headers: Vec::new(),
                body: answer.body,
            });
        }
        if path == "soap-results" {
            let results = soap::results(&String::from_utf8_lossy(&request.body))?;
            let fields: usize = results.iter().map(|f| f.0.len()).sum();
            return Ok(json_response(
                200,
                &json!({ "results": results.len(), "fields": fields }),
            ));
        }
        if let Some(way) = path.strip_prefix("soap-call/") {
            let operation = String::from_utf8_lossy(&request.body);
            let results = match way {
                "two-calls" => soap::read_results(&soap::call(Api::SoapPartner, &operation)?)?,
                "one-call" => soap::call_for_results(Api::SoapPartner, &operation)?,
                other => return Err(bad_request(format!("no way to call {other:?}"))),
            };
            let all: Vec<_> = results.iter().collect();
            return Ok(json_response(200, &all));
        }
        match path {
            "own/bad-request" => Err(bad_request("built by the workflow")),
            "own/not-found" => Err(not_found("built by the workflow")),
            "own/internal" => Err(internal("built by the workflow")),
            "own/upstream-fault" => Err(upstream_fault("INVALID_FIELD", "built by the workflow")),
            other => match other.strip_prefix("own/upstream/").and_then(own_upstream) {
                Some(e) => Err(e.into()),
                None => Err(bad_request(format!("no error case {other:?}"))),
            },
        }
    }
}

twoway_plugin::export!(ErrorCases);
