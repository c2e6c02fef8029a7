//! OAuth 2.0 token replies (`/services/oauth2/token`): the access token and
//! where the org lives, or which error stops, slows or merely delays logins.

use serde_json::Value;

use crate::secret::Secret;

use super::login::LoginFailure;
use super::{Instance, scan};

/// The token endpoint's path on the login host.
pub const TOKEN_PATH: &str = "/services/oauth2/token";

/// Largest token reply read.
const MAX_BODY: usize = 64 * 1024;

/// What a successful token request yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthToken {
    pub access_token: Secret,
    pub instance: Instance,
    pub user_id: String,
    /// Epoch milliseconds.
    pub issued_at: Option<u64>,
    pub scope: Option<String>,
}

/// OAuth errors that are not about the request's credentials or client.
const TRANSIENT: &[&str] = &["server_error", "temporarily_unavailable"];

/// Reads a token reply. The instance comes from `instance_url` and
/// `api_version`; org and user ids from the `id` URL (`.../id/{org}/{user}`).
pub fn parse_oauth_response(
    status: u16,
    body: &[u8],
    api_version: &str,
) -> Result<OAuthToken, LoginFailure> {
    let unexpected = |detail: String| LoginFailure::Unexpected { status, detail };
    let value: Option<Value> = (body.len() <= MAX_BODY)
        .then(|| serde_json::from_slice(body).ok())
        .flatten();
    let Some(Value::Object(map)) = value else {
        return Err(unexpected(format!(
            "the token endpoint did not answer with a JSON object: {}",
            scan::snippet(body)
        )));
    };
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    if let Some(error) = text("error") {
        let code = scan::short(error, 100);
        let message = scan::message(text("error_description").unwrap_or(""));
        return Err(
            if message.to_ascii_lowercase().contains("rate exceeded")
                || code == "rate_limit_exceeded"
                || status == 429
            {
                LoginFailure::RateLimited { code, message }
            } else if (400..500).contains(&status) && !TRANSIENT.contains(&code.as_str()) {
                LoginFailure::Rejected { code, message }
            } else {
                LoginFailure::Unexpected {
                    status,
                    detail: format!("{code}: {message}"),
                }
            },
        );
    }
    if status != 200 {
        return Err(unexpected(format!(
            "a token reply with an error status: {}",
            scan::snippet(body)
        )));
    }
    let token = text("access_token")
        .ok_or_else(|| unexpected("the token reply has no access_token".into()))?;
    let instance_url = text("instance_url")
        .ok_or_else(|| unexpected("the token reply has no instance_url".into()))?;
    let (org, user) = text("id").and_then(id_parts).unwrap_or_default();
    let org = if org.is_empty() {
        // No id URL: the token itself starts with the org id (`00D...!...`).
        token.split_once('!').map(|(o, _)| o).unwrap_or("")
    } else {
        org
    };
    let instance = Instance::from_instance_url(instance_url, api_version, org)
        .map_err(|e| unexpected(e.to_string()))?;
    let issued_at = match map.get("issued_at") {
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    Ok(OAuthToken {
        access_token: Secret::new(token),
        instance,
        user_id: scan::cap(user, 18),
        issued_at,
        scope: text("scope").map(|s| scan::cap(s, 500)),
    })
}

/// `(org, user)` from `https://login.salesforce.com/id/{org}/{user}`.
fn id_parts(id: &str) -> Option<(&str, &str)> {
    let path = id.split(['?', '#']).next()?;
    let mut segments = path.split('/').skip_while(|s| *s != "id").skip(1);
    let org = segments.next().filter(|o| !o.is_empty())?;
    let user = segments.next().unwrap_or("");
    Some((org, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twoway_testkit::samples::OAUTH_TOKEN;

    #[test]
    fn parses_the_documented_reply() {
        let t = parse_oauth_response(200, OAUTH_TOKEN.as_bytes(), "62.0").unwrap();
        assert!(t.access_token.expose().starts_with("00Dx0000000BV7z!AR8AQ"));
        assert_eq!(t.instance.base_url, "https://na1.salesforce.com");
        assert_eq!(
            t.instance.partner_path,
            "/services/Soap/u/62.0/00Dx0000000BV7z"
        );
        assert_eq!(
            (t.instance.org_id.as_str(), t.instance.api_version.as_str()),
            ("00Dx0000000BV7z", "62.0")
        );
        assert_eq!(t.user_id, "005x00000012Q9P");
        assert_eq!(t.issued_at, Some(1278448832702));
        assert_eq!(t.scope, None);
        assert!(!format!("{t:?}").contains("AR8AQ"));
    }

    #[test]
    fn eighteen_character_org_ids_and_scope() {
        let body = r#"{"access_token":"00D5g000004AcmeAAA!tok","scope":"api","instance_url":"https://127.0.0.1:4443","id":"https://127.0.0.1:4442/id/00D5g000004AcmeEAA/0055g00000AcmeUAA","token_type":"Bearer"}"#;
        let t = parse_oauth_response(200, body.as_bytes(), "62.0").unwrap();
        assert_eq!(t.instance.org_id, "00D5g000004Acme");
        assert_eq!(t.instance.base_url, "https://127.0.0.1:4443");
        assert_eq!(t.user_id, "0055g00000AcmeUAA");
        assert_eq!(t.scope.as_deref(), Some("api"));
        let no_id = r#"{"access_token":"00D5g000004Acme!tok","instance_url":"https://x.example"}"#;
        assert_eq!(
            parse_oauth_response(200, no_id.as_bytes(), "62.0")
                .unwrap()
                .instance
                .org_id,
            "00D5g000004Acme"
        );
    }

    #[test]
    fn documented_errors() {
        let parse = |body: &str| parse_oauth_response(400, body.as_bytes(), "62.0").unwrap_err();
        assert_eq!(
            parse(r#"{"error":"invalid_grant","error_description":"authentication failure"}"#),
            LoginFailure::Rejected {
                code: "invalid_grant".into(),
                message: "authentication failure".into()
            }
        );
        for body in [
            r#"{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}"#,
            r#"{"error":"invalid_grant","error_description":"invalid assertion"}"#,
            r#"{"error":"invalid_grant","error_description":"audience is invalid"}"#,
            r#"{"error":"invalid_client_id","error_description":"client identifier invalid"}"#,
            r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
            r#"{"error":"unsupported_grant_type","error_description":"grant type not supported"}"#,
        ] {
            assert_eq!(parse(body).problem_code().code(), "invalid_login", "{body}");
        }
        assert_eq!(
            parse(r#"{"error":"invalid_grant","error_description":"login rate exceeded"}"#),
            LoginFailure::RateLimited {
                code: "invalid_grant".into(),
                message: "login rate exceeded".into()
            }
        );
        let transient = parse_oauth_response(
            503,
            br#"{"error":"temporarily_unavailable","error_description":"x"}"#,
            "62.0",
        );
        assert_eq!(
            transient.unwrap_err().problem_code().code(),
            "session_unavailable"
        );
        for status in [500, 502, 503] {
            let err = parse_oauth_response(
                status,
                br#"{"error":"invalid_grant","error_description":"x"}"#,
                "62.0",
            )
            .unwrap_err();
            assert_eq!(
                err.problem_code().code(),
                "session_unavailable",
                "HTTP {status}"
            );
        }
        let too_many = parse_oauth_response(
            429,
            br#"{"error":"invalid_request","error_description":"slow down"}"#,
            "62.0",
        );
        assert_eq!(
            too_many.unwrap_err().problem_code().code(),
            "login_rate_limited"
        );
    }

    #[test]
    fn odd_replies_are_transient_and_never_leak_the_token() {
        for (status, body) in [
            (
                404,
                r#"[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]"#,
            ),
            (200, "<html>proxy</html>"),
            (200, r#"{"instance_url":"https://x"}"#),
            (
                200,
                r#"{"access_token":"00Dx0000000BV7z!SECRETSECRET","instance_url":"not a url","id":"https://l/id/00Dx0000000BV7z/005"}"#,
            ),
            (500, r#"{"access_token":"00Dx0000000BV7z!SECRETSECRET"}"#),
        ] {
            let err = parse_oauth_response(status, body.as_bytes(), "62.0").unwrap_err();
            assert!(
                matches!(err, LoginFailure::Unexpected { .. }),
                "{body}: {err:?}"
            );
            assert!(!format!("{err} {err:?}").contains("SECRETSECRET"), "{err}");
        }
    }
}
