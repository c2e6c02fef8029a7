//! Errors the front door raises, in the format of the client's API, so the
//! client's own handling runs (an expired token is INVALID_SESSION_ID as
//! each client detects expiry; a wrong login is INVALID_LOGIN or
//! `invalid_grant`). Every [`ProblemCode`] is mapped once, in
//! [`salesforce_code`], one exhaustive `match`.

use bytes::Bytes;

use super::route::Family;
use crate::problem::{ProblemCode, UpstreamCode};
use crate::salesforce::Api;
use crate::xml;

/// A front-door error: the code, what happened (never a secret), and how
/// long to wait when waiting helps.
#[derive(Debug, Clone)]
pub struct FrontDoorError {
    pub code: ProblemCode,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl FrontDoorError {
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

/// How Salesforce names one of the gateway's codes.
struct SalesforceCode {
    /// The SOAP `ExceptionCode` (a WSDL enum value: WSC checks it).
    soap: &'static str,
    /// The REST `errorCode`.
    rest: &'static str,
    /// The Bulk 1.0 `AsyncExceptionCode` (an enum value too).
    bulk: &'static str,
    /// OAuth's `error`.
    oauth: &'static str,
    /// Salesforce's own message, when the gateway's detail must not show.
    message: Option<&'static str>,
}

/// The one mapping from the gateway's vocabulary to Salesforce's.
fn salesforce_code(code: ProblemCode) -> SalesforceCode {
    let sf = |soap, rest, bulk, oauth| SalesforceCode {
        soap,
        rest,
        bulk,
        oauth,
        message: None,
    };
    let unavailable = sf(
        "SERVER_UNAVAILABLE",
        "SERVER_UNAVAILABLE",
        "InternalServerError",
        "temporarily_unavailable",
    );
    let internal = sf(
        "UNKNOWN_EXCEPTION",
        "UNKNOWN_EXCEPTION",
        "InternalServerError",
        "server_error",
    );
    match code {
        ProblemCode::UnknownRoute | ProblemCode::NotFound | ProblemCode::UnknownWorkflow => {
            SalesforceCode {
                message: Some("The requested resource does not exist"),
                ..sf(
                    "UNKNOWN_EXCEPTION",
                    "NOT_FOUND",
                    "InvalidUrl",
                    "invalid_request",
                )
            }
        }
        ProblemCode::Unauthorized => SalesforceCode {
            message: Some("Session expired or invalid"),
            ..sf(
                "INVALID_SESSION_ID",
                "INVALID_SESSION_ID",
                "InvalidSessionId",
                "invalid_grant",
            )
        },
        ProblemCode::BadRequest => sf(
            "UNKNOWN_EXCEPTION",
            "INVALID_REQUEST",
            "ClientInputError",
            "invalid_request",
        ),
        ProblemCode::PayloadTooLarge | ProblemCode::UriTooLong | ProblemCode::HeadTooLarge => sf(
            "EXCEEDED_MAX_SIZE_REQUEST",
            "EXCEEDED_MAX_SIZE_REQUEST",
            "ClientInputError",
            "invalid_request",
        ),
        ProblemCode::RequestTimeout => sf(
            "UNKNOWN_EXCEPTION",
            "REQUEST_TIMEOUT",
            "Timeout",
            "invalid_request",
        ),
        ProblemCode::Overloaded | ProblemCode::PluginUnavailable => unavailable,
        // A tenant's policy refused the request: Salesforce's own refusal.
        ProblemCode::PolicyRefused => sf(
            "INSUFFICIENT_ACCESS",
            "INSUFFICIENT_ACCESS",
            "InvalidOperation",
            "invalid_request",
        ),
        ProblemCode::Upstream(code) => match code {
            UpstreamCode::ApiLimitExceeded => sf(
                "REQUEST_LIMIT_EXCEEDED",
                "REQUEST_LIMIT_EXCEEDED",
                "ExceededQuota",
                "temporarily_unavailable",
            ),
            UpstreamCode::UpstreamTimeout => sf(
                "REQUEST_RUNNING_TOO_LONG",
                "REQUEST_RUNNING_TOO_LONG",
                "Timeout",
                "temporarily_unavailable",
            ),
            UpstreamCode::InvalidRequest => sf(
                "UNKNOWN_EXCEPTION",
                "INVALID_REQUEST",
                "ClientInputError",
                "invalid_request",
            ),
            // The gateway's own side: nothing the client can change.
            UpstreamCode::ClientCertificateRejected
            | UpstreamCode::MutualAuthenticationFailed
            | UpstreamCode::InvalidLogin
            | UpstreamCode::LoginRateLimited
            | UpstreamCode::SessionUnavailable
            | UpstreamCode::UpstreamUnavailable
            | UpstreamCode::UpstreamTooLarge
            | UpstreamCode::UpstreamRefused
            | UpstreamCode::UpstreamFault => unavailable,
        },
        ProblemCode::PluginTrap
        | ProblemCode::PluginTimeout
        | ProblemCode::PluginMemoryExceeded
        | ProblemCode::PluginOutputTooLarge
        | ProblemCode::WorkflowError => internal,
    }
}

/// The answer for `error` on a route of `family`; `login` when the request
/// was a login (a refusal is then INVALID_LOGIN, not INVALID_SESSION_ID).
pub fn response(
    family: Family,
    login: bool,
    error: &FrontDoorError,
    request_id: &str,
) -> http::Response<crate::transport::Body> {
    let sf = salesforce_code(error.code);
    let refused_login = login && error.code == ProblemCode::Unauthorized;
    let message = sf.message.unwrap_or(&error.detail);
    let (status, content_type, body) = match family {
        Family::Soap(api) => {
            let (code, message, detail_type) = if refused_login {
                (
                    "INVALID_LOGIN",
                    "Invalid username, password, security token; or user locked out.",
                    "LoginFault",
                )
            } else if error.code == ProblemCode::Unauthorized {
                (
                    sf.soap,
                    "Invalid Session ID found in SessionHeader: Illegal Session",
                    "UnexpectedErrorFault",
                )
            } else {
                (sf.soap, message, "UnexpectedErrorFault")
            };
            (
                500,
                "text/xml;charset=UTF-8",
                soap_fault(api, code, message, detail_type),
            )
        }
        Family::Rest => {
            let status = match error.code {
                ProblemCode::Unauthorized => 401,
                ProblemCode::BadRequest | ProblemCode::Upstream(UpstreamCode::InvalidRequest) => {
                    400
                }
                code => code.status(),
            };
            let body = serde_json::json!([{ "message": message, "errorCode": sf.rest }]);
            (status, "application/json;charset=UTF-8", body.to_string())
        }
        Family::Bulk => {
            let status = match error.code {
                ProblemCode::Unauthorized => 400,
                code => code.status(),
            };
            let message = match error.code {
                ProblemCode::Unauthorized => "Invalid session id",
                _ => message,
            };
            let body = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>{}</exceptionCode><exceptionMessage>{}</exceptionMessage></error>"#,
                sf.bulk,
                xml::escape(message)
            );
            (status, "application/xml", body)
        }
        Family::OAuth => {
            let (status, description) = match error.code {
                ProblemCode::Unauthorized => (400, "authentication failure"),
                ProblemCode::BadRequest | ProblemCode::Upstream(UpstreamCode::InvalidRequest) => {
                    (400, message)
                }
                code => (code.status(), message),
            };
            let body = serde_json::json!({ "error": sf.oauth, "error_description": description });
            (status, "application/json;charset=UTF-8", body.to_string())
        }
    };
    let mut response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header("x-request-id", request_id);
    if let Some(seconds) = error.retry_after {
        response = response.header(http::header::RETRY_AFTER, seconds.max(1).to_string());
    }
    let mut response = response
        .body(crate::transport::whole(Bytes::from(body)))
        .unwrap_or_else(|_| http::Response::new(crate::transport::whole(Bytes::new())));
    // For the access log (gateway::access).
    response.extensions_mut().insert(error.code);
    response
}

/// The fault namespace of a SOAP API.
fn fault_namespace(api: Api) -> &'static str {
    match api {
        Api::SoapEnterprise => "urn:fault.enterprise.soap.sforce.com",
        Api::SoapMetadata => "http://soap.sforce.com/2006/04/metadata",
        Api::SoapTooling => "urn:fault.tooling.soap.sforce.com",
        Api::SoapApex => "http://soap.sforce.com/2006/08/apex",
        _ => "urn:fault.partner.soap.sforce.com",
    }
}

/// A fault as Salesforce writes it: `sf:` codes, faultcode before
/// faultstring, and a typed detail (what WSC needs to renew a session).
fn soap_fault(api: Api, code: &str, message: &str, detail_type: &str) -> String {
    let message = xml::escape(message);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail><sf:{detail_type} xsi:type="sf:{detail_type}"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{message}</sf:exceptionMessage></sf:{detail_type}></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
        ns = fault_namespace(api)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn answer(family: Family, login: bool, code: ProblemCode) -> (u16, String) {
        let error = FrontDoorError::new(code, "what happened");
        let response = response(family, login, &error, "rid");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_expired_token_is_invalid_session_id_as_each_client_detects_it() {
        let (status, body) = answer(Family::Rest, false, ProblemCode::Unauthorized).await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#
        );
        // jsforce: 500 and <faultcode>xx:INVALID_SESSION_ID</faultcode>; WSC:
        // "Illegal Session" in faultstring and a typed detail.
        let (status, body) = answer(
            Family::Soap(Api::SoapPartner),
            false,
            ProblemCode::Unauthorized,
        )
        .await;
        assert_eq!(status, 500);
        assert!(body.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring>"), "{body}");
        assert!(body.contains(r#"<sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault">"#));
        let (status, body) = answer(Family::Bulk, false, ProblemCode::Unauthorized).await;
        assert_eq!(status, 400);
        assert!(
            body.contains("<exceptionCode>InvalidSessionId</exceptionCode>"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_refused_login_is_invalid_login_or_invalid_grant() {
        let (status, body) = answer(
            Family::Soap(Api::SoapPartner),
            true,
            ProblemCode::Unauthorized,
        )
        .await;
        assert_eq!(status, 500);
        assert!(
            body.contains("<faultcode>sf:INVALID_LOGIN</faultcode>"),
            "{body}"
        );
        assert!(
            body.contains(r#"<sf:LoginFault xsi:type="sf:LoginFault">"#),
            "{body}"
        );
        assert!(body.contains(r#"xmlns:sf="urn:fault.partner.soap.sforce.com""#));
        let (status, body) = answer(Family::OAuth, true, ProblemCode::Unauthorized).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            r#"{"error":"invalid_grant","error_description":"authentication failure"}"#
        );
    }

    #[tokio::test]
    async fn every_code_has_an_answer_in_every_family() {
        for &code in ProblemCode::ALL {
            for family in [
                Family::Soap(Api::SoapEnterprise),
                Family::Rest,
                Family::Bulk,
                Family::OAuth,
            ] {
                let (status, body) = answer(family, false, code).await;
                assert!(status >= 400, "{code:?} {family:?}");
                match family {
                    Family::Soap(_) => assert!(xml::parse(body.as_bytes()).is_ok(), "{body}"),
                    Family::Bulk => assert!(body.contains("dataload"), "{body}"),
                    _ => assert!(
                        serde_json::from_str::<serde_json::Value>(&body).is_ok(),
                        "{body}"
                    ),
                }
            }
        }
        let (status, body) =
            answer(Family::Rest, false, UpstreamCode::ApiLimitExceeded.into()).await;
        assert_eq!(status, 429);
        assert!(body.contains("REQUEST_LIMIT_EXCEEDED"));
        let (status, body) = answer(Family::Rest, false, ProblemCode::UnknownRoute).await;
        assert_eq!(status, 404);
        assert!(body.contains("NOT_FOUND"));
    }
}
