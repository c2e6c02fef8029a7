//! What the gateway makes of a scripted answer: the host's own classifier
//! (crate `twoway-wire`) judges it, so a workflow's test sees what
//! production would. A success or a fault the workflow handles comes back
//! with its `verdict`; the answers the host acts on itself become the
//! `upstream-error` the host gives (REQUEST_LIMIT_EXCEEDED is
//! `api-limit-exceeded`, an INVALID_SESSION_ID that survived the host's
//! re-login is `session-unavailable`, ...).

use twoway_wire::salesforce::{self, Outcome};

use crate::upstream_error as fail;
use crate::{Api, Fault, UpstreamError, UpstreamResponse, Verdict};

/// Seconds the host asks a workflow to wait after REQUEST_LIMIT_EXCEEDED.
const API_LIMIT_RETRY_SECS: u32 = 60;

/// `response` to a request to `api`, judged as the gateway would.
pub(crate) fn judged(
    api: Api,
    mut response: UpstreamResponse,
) -> Result<UpstreamResponse, UpstreamError> {
    let mut headers = http::HeaderMap::new();
    for h in &response.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(h.name.as_bytes()),
            http::HeaderValue::from_str(&h.value),
        ) {
            headers.append(name, value);
        }
    }
    match salesforce::classify(wire_api(api), response.status, &headers, &response.body) {
        Outcome::Answer(verdict) => {
            response.verdict = match verdict.fault() {
                Some((code, message)) => Verdict::Fault(Fault { code, message }),
                None => match verdict {
                    salesforce::Verdict::UnexpectedBody { snippet, .. } => {
                        Verdict::Unexpected(snippet)
                    }
                    _ => Verdict::Success,
                },
            };
            Ok(response)
        }
        Outcome::InvalidSession { message } => Err(fail::session_unavailable(format!(
            "the API rejected a fresh session too: {message}"
        ))),
        Outcome::MutualAuthFailed { message } => Err(fail::mutual_authentication_failed(format!(
            "MUTUAL_AUTHENTICATION_FAILED: {message}"
        ))),
        Outcome::CertificateRejected { reason } => Err(fail::certificate_rejected(format!(
            "the API refused the client certificate: {reason}"
        ))),
        Outcome::RequestLimitExceeded { message } => Err(fail::api_limit_exceeded(
            format!("REQUEST_LIMIT_EXCEEDED: {message}"),
            API_LIMIT_RETRY_SECS,
        )),
        Outcome::Refused { reason } => Err(fail::refused(format!(
            "the API's answer was refused unread: {reason}"
        ))),
    }
}

fn wire_api(api: Api) -> salesforce::Api {
    match api {
        Api::SoapPartner => salesforce::Api::SoapPartner,
        Api::SoapEnterprise => salesforce::Api::SoapEnterprise,
        Api::SoapMetadata => salesforce::Api::SoapMetadata,
        Api::Rest => salesforce::Api::Rest,
        Api::Bulk => salesforce::Api::Bulk,
        Api::ApexRest => salesforce::Api::ApexRest,
    }
}
