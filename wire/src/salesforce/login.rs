//! SOAP partner login: the request envelope, the LoginResult, and which
//! login faults stop logins (credentials), back off (rate) or are transient.

use crate::problem::UpstreamCode;
use crate::secret::Secret;
use crate::xml::{self, child_text};

use super::classify::{Outcome, Verdict, classify};
use super::{Api, Instance, scan};

/// The outcome of a login that did not produce a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginFailure {
    /// Credentials refused: stop logging in until the config changes.
    #[error("login refused: {code}: {message}")]
    Rejected { code: String, message: String },
    /// LOGIN_RATE_EXCEEDED (and OAuth "login rate exceeded"): back off.
    #[error("login rate limited: {code}: {message}")]
    RateLimited { code: String, message: String },
    /// Anything else (unexpected status or body): treat as transient.
    #[error("unexpected login response (HTTP {status}): {detail}")]
    Unexpected { status: u16, detail: String },
}

impl LoginFailure {
    /// The problem callers get (the error contract in docs/architecture.md).
    pub fn problem_code(&self) -> UpstreamCode {
        match self {
            LoginFailure::Rejected { .. } => UpstreamCode::InvalidLogin,
            LoginFailure::RateLimited { .. } => UpstreamCode::LoginRateLimited,
            LoginFailure::Unexpected { .. } => UpstreamCode::SessionUnavailable,
        }
    }
}

/// What a successful SOAP login yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginResult {
    pub session_id: Secret,
    pub instance: Instance,
    pub user_id: String,
    /// userInfo's sessionSecondsValid.
    pub session_seconds: Option<u64>,
    /// Only setPassword() works until the password is changed.
    pub password_expired: bool,
}

/// Fault codes that mean the credentials or the user's rights are wrong.
/// Everything else is transient and backed off: notably `SSO_SERVICE_DOWN`
/// (the org's delegated-authentication service is down) and
/// `API_CURRENTLY_DISABLED` ("because of a system problem, API
/// functionality is temporarily unavailable"), which say nothing about the
/// credentials and must not pause logins until the config changes.
const REJECTED: &[&str] = &[
    "INVALID_LOGIN",
    "LOGIN_MUST_USE_SECURITY_TOKEN",
    "INVALID_OPERATION_WITH_EXPIRED_PASSWORD",
    "INSUFFICIENT_ACCESS",
    "API_DISABLED_FOR_ORG",
    "INVALID_OPERATION",
    "LOGIN_CHALLENGE_ISSUED",
    "LOGIN_CHALLENGE_PENDING",
    "INVALID_SSO_GATEWAY_URL",
    "PASSWORD_LOCKOUT",
    "ORG_LOCKED",
    "INACTIVE_OWNER_OR_USER",
    "UNSUPPORTED_CLIENT",
];

/// The path of the partner login endpoint on the login host.
pub fn login_path(api_version: &str) -> String {
    format!("/services/Soap/u/{api_version}")
}

/// The partner login() envelope; `password` is the password followed by
/// the security token, if any. Both are XML-escaped.
pub fn login_envelope(username: &str, password: &Secret) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><login xmlns="urn:partner.soap.sforce.com"><username>{}</username><password>{}</password></login></soapenv:Body></soapenv:Envelope>"#,
        xml::escape(username),
        xml::escape(password.expose())
    )
}

/// Reads a login() reply. `api_version` is used when serverUrl carries none.
pub fn parse_login_response(
    status: u16,
    body: &[u8],
    api_version: &str,
) -> Result<LoginResult, LoginFailure> {
    let unexpected = |detail: String| LoginFailure::Unexpected { status, detail };
    let doc = match xml::parse(body) {
        Ok(doc) => doc,
        Err(_) => return Err(failure(status, body)),
    };
    let Some(result) = xml::soap_body_element(&doc)
        .filter(|op| op.tag_name().name() == "loginResponse")
        .and_then(|op| xml::child(op, "result"))
    else {
        return Err(failure(status, body));
    };
    if !(200..300).contains(&status) {
        return Err(unexpected("a loginResponse with an error status".into()));
    }
    let text = |name: &str| {
        child_text(result, name)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let session_id =
        text("sessionId").ok_or_else(|| unexpected("the loginResponse has no sessionId".into()))?;
    let server_url =
        text("serverUrl").ok_or_else(|| unexpected("the loginResponse has no serverUrl".into()))?;
    let instance = Instance::from_server_url(server_url, text("metadataServerUrl"), api_version)
        .map_err(|e| unexpected(e.to_string()))?;
    let user_info = xml::child(result, "userInfo");
    let session_seconds = user_info
        .and_then(|u| child_text(u, "sessionSecondsValid"))
        .and_then(|s| s.trim().parse().ok());
    Ok(LoginResult {
        session_id: Secret::new(session_id),
        instance,
        user_id: text("userId").map(|u| scan::cap(u, 18)).unwrap_or_default(),
        session_seconds,
        password_expired: text("passwordExpired") == Some("true"),
    })
}

/// Why a login reply that is not a loginResponse failed.
fn failure(status: u16, body: &[u8]) -> LoginFailure {
    let headers = http::HeaderMap::new();
    match classify(Api::SoapPartner, status, &headers, body) {
        Outcome::Answer(Verdict::Fault(fault)) => {
            let code = fault.exception_code.unwrap_or(fault.faultcode);
            if code == "LOGIN_RATE_EXCEEDED" {
                LoginFailure::RateLimited {
                    code,
                    message: fault.message,
                }
            } else if REJECTED.contains(&code.as_str()) {
                LoginFailure::Rejected {
                    code,
                    message: fault.message,
                }
            } else {
                LoginFailure::Unexpected {
                    status,
                    detail: format!("{code}: {}", fault.message),
                }
            }
        }
        Outcome::RequestLimitExceeded { message } => LoginFailure::RateLimited {
            code: "REQUEST_LIMIT_EXCEEDED".into(),
            message,
        },
        Outcome::CertificateRejected { reason } => LoginFailure::Unexpected {
            status,
            detail: format!(
                "the login URL answered with the Certificate Error page ({reason}); \
                 Salesforce's login service does not speak mutual TLS: use the standard port in login_url"
            ),
        },
        Outcome::Answer(Verdict::Success) => LoginFailure::Unexpected {
            status,
            detail: format!(
                "a SOAP reply that is not a loginResponse: {}",
                scan::snippet(body)
            ),
        },
        other => LoginFailure::Unexpected {
            status,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twoway_testkit::samples::*;

    #[test]
    fn parses_the_captured_login_response() {
        let r = parse_login_response(200, LOGIN_RESPONSE.as_bytes(), "62.0").unwrap();
        assert_eq!(r.session_id.expose(), LOGIN_SESSION_ID);
        assert_eq!(r.instance.base_url, "https://na30.salesforce.com");
        assert_eq!(
            r.instance.partner_path,
            "/services/Soap/u/41.0/00D36000000bLGT"
        );
        assert_eq!(r.instance.api_version, "41.0");
        assert_eq!(r.instance.org_id, "00D36000000bLGT");
        assert_eq!(r.user_id, "00536000006Z51jAAC");
        assert_eq!(r.session_seconds, Some(7200));
        assert!(!r.password_expired);
    }

    #[test]
    fn debug_never_shows_the_session_id() {
        let r = parse_login_response(200, LOGIN_RESPONSE.as_bytes(), "62.0");
        let text = format!("{r:?}");
        assert!(!text.contains("AQQAQMlp30Zpiy6_"), "{text}");
        assert!(text.contains("[redacted]"));
    }

    #[test]
    fn password_expired_and_enterprise() {
        let expired = LOGIN_RESPONSE.replace("<passwordExpired>false", "<passwordExpired>true");
        assert!(
            parse_login_response(200, expired.as_bytes(), "62.0")
                .unwrap()
                .password_expired
        );
        let enterprise = LOGIN_RESPONSE
            .replace(
                "urn:partner.soap.sforce.com",
                "urn:enterprise.soap.sforce.com",
            )
            .replace(
                "/services/Soap/u/41.0/00D36000000bLGT<",
                "/services/Soap/c/41.0/00D36000000bLGT/0DF000000000001<",
            );
        let r = parse_login_response(200, enterprise.as_bytes(), "62.0").unwrap();
        assert_eq!(
            r.instance.partner_path,
            "/services/Soap/u/41.0/00D36000000bLGT"
        );
    }

    #[test]
    fn the_exact_invalid_login_fault_is_rejected() {
        assert_eq!(
            parse_login_response(500, INVALID_LOGIN.as_bytes(), "62.0").unwrap_err(),
            LoginFailure::Rejected {
                code: "INVALID_LOGIN".into(),
                message: "Invalid username, password, security token; or user locked out.".into(),
            }
        );
        let old =
            parse_login_response(500, INVALID_LOGIN_UNPREFIXED.as_bytes(), "62.0").unwrap_err();
        assert_eq!(old.problem_code().code(), "invalid_login");
    }

    #[test]
    fn other_login_faults() {
        let fault = |code: &str, message: &str| {
            INVALID_LOGIN.replace("INVALID_LOGIN", code).replace(
                "Invalid username, password, security token; or user locked out.",
                message,
            )
        };
        let token = fault(
            "LOGIN_MUST_USE_SECURITY_TOKEN",
            "Invalid username, password, security token; or user locked out. Are you at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of your company\u{2019}s trusted networks, you must add a security token to your password to log in.",
        );
        assert!(
            matches!(parse_login_response(500, token.as_bytes(), "62.0"), Err(LoginFailure::Rejected { code, message }) if code == "LOGIN_MUST_USE_SECURITY_TOKEN" && message.contains("company\u{2019}s"))
        );
        let rate = fault("LOGIN_RATE_EXCEEDED", "Login Rate Exceeded.");
        assert_eq!(
            parse_login_response(500, rate.as_bytes(), "62.0").unwrap_err(),
            LoginFailure::RateLimited {
                code: "LOGIN_RATE_EXCEEDED".into(),
                message: "Login Rate Exceeded.".into()
            }
        );
        for code in [
            "API_DISABLED_FOR_ORG",
            "INSUFFICIENT_ACCESS",
            "INVALID_OPERATION_WITH_EXPIRED_PASSWORD",
        ] {
            assert_eq!(
                parse_login_response(500, fault(code, "m").as_bytes(), "62.0")
                    .unwrap_err()
                    .problem_code()
                    .code(),
                "invalid_login"
            );
        }
        for code in ["SSO_SERVICE_DOWN", "API_CURRENTLY_DISABLED"] {
            let err =
                parse_login_response(500, fault(code, "down").as_bytes(), "62.0").unwrap_err();
            assert!(
                matches!(&err, LoginFailure::Unexpected { status: 500, detail } if detail.starts_with(code)),
                "{code} is transient: {err:?}"
            );
        }
        let server = fault("SERVER_UNAVAILABLE", "try later");
        assert_eq!(
            parse_login_response(500, server.as_bytes(), "62.0")
                .unwrap_err()
                .problem_code()
                .code(),
            "session_unavailable"
        );
        assert!(matches!(
            parse_login_response(500, PREMATURE_EOF.as_bytes(), "62.0"),
            Err(LoginFailure::Unexpected { status: 500, .. })
        ));
    }

    #[test]
    fn odd_replies_are_transient() {
        for (status, body) in [
            (200, "<html>proxy</html>"),
            (502, "Bad Gateway"),
            (200, ""),
            (400, CERTIFICATE_ERROR_PAGE),
            (200, GET_USER_INFO_RESPONSE),
        ] {
            let err = parse_login_response(status, body.as_bytes(), "62.0").unwrap_err();
            assert!(
                matches!(err, LoginFailure::Unexpected { .. }),
                "{body}: {err:?}"
            );
        }
        let err = parse_login_response(400, CERTIFICATE_ERROR_PAGE.as_bytes(), "62.0").unwrap_err();
        assert!(
            err.to_string().contains("No client certificate provided."),
            "{err}"
        );
        let no_session = LOGIN_RESPONSE.replace(LOGIN_SESSION_ID, "");
        assert!(
            parse_login_response(200, no_session.as_bytes(), "62.0")
                .unwrap_err()
                .to_string()
                .contains("no sessionId")
        );
    }

    #[test]
    fn the_envelope_escapes_credentials() {
        let env = login_envelope("a&b@x.example", &Secret::new("p<w>d'TOKEN"));
        let doc = xml::parse(env.as_bytes()).unwrap();
        let op = xml::soap_body_element(&doc).unwrap();
        assert!(op.has_tag_name(("urn:partner.soap.sforce.com", "login")));
        assert_eq!(child_text(op, "username"), Some("a&b@x.example"));
        assert_eq!(child_text(op, "password"), Some("p<w>d'TOKEN"));
        assert_eq!(login_path("62.0"), "/services/Soap/u/62.0");
    }
}
