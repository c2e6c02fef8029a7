//! Login termination: SOAP `login()` (partner and enterprise) and the OAuth
//! token endpoint (password and client-credentials grants) take a tenant
//! credential (username or client_id = the tenant, password or
//! client_secret = one of its API keys) and answer in Salesforce's shapes
//! with a gateway-issued token and URLs at the gateway's own origin. The
//! tenant's real session never leaves the gateway.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::salesforce::Api;
use crate::upstream::SessionFacts;
use crate::xml;

/// What a login names.
#[derive(Debug, PartialEq, Eq)]
pub struct LoginRequest {
    pub tenant: String,
    pub key: String,
}

/// Why a token request is not a login the front door serves.
#[derive(Debug, PartialEq, Eq)]
pub enum OAuthRefusal {
    /// `unsupported_grant_type`.
    Grant(String),
    /// `invalid_request`: a field is missing.
    Missing(&'static str),
}

/// The username and password of a SOAP `login` envelope; `None` when the
/// Body's operation is not `login` (an API call).
pub fn soap_login(doc: &roxmltree::Document<'_>) -> Option<LoginRequest> {
    let operation = xml::soap_body_element(doc)?;
    if operation.tag_name().name() != "login" {
        return None;
    }
    Some(LoginRequest {
        tenant: xml::child_text(operation, "username")
            .unwrap_or("")
            .trim()
            .to_string(),
        key: xml::child_text(operation, "password")
            .unwrap_or("")
            .to_string(),
    })
}

/// The credential of an OAuth token request (form-encoded).
pub fn oauth_login(body: &[u8]) -> Result<LoginRequest, OAuthRefusal> {
    let field = |name: &str| {
        form_urlencoded::parse(body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (user, secret) = match field("grant_type").as_deref() {
        Some("password") => ("username", "password"),
        Some("client_credentials") => ("client_id", "client_secret"),
        Some(other) => return Err(OAuthRefusal::Grant(other.chars().take(64).collect())),
        None => return Err(OAuthRefusal::Missing("grant_type")),
    };
    Ok(LoginRequest {
        tenant: field(user).ok_or(OAuthRefusal::Missing(user))?,
        key: field(secret).ok_or(OAuthRefusal::Missing(secret))?,
    })
}

/// A SOAP `loginResponse` for `api` (partner or enterprise) at `version`,
/// every URL at `origin`, with `token` as the session and a `userInfo`
/// whose `sessionSecondsValid` is the token's life. Its user is the
/// Salesforce user the tenant logs in as (what getUserInfo through the
/// gateway says too), or the tenant when the config does not name one;
/// the organization's name is the tenant's.
pub fn soap_response(
    api: Api,
    version: &str,
    origin: &str,
    token: &str,
    tenant: &str,
    facts: &SessionFacts,
    ttl: Duration,
) -> String {
    let (ns, letter) = match api {
        Api::SoapEnterprise => ("urn:enterprise.soap.sforce.com", "c"),
        _ => ("urn:partner.soap.sforce.com", "u"),
    };
    let org = xml::escape(&facts.org_id);
    let user = xml::escape(&facts.user_id);
    let tenant = xml::escape(tenant);
    let user_name = facts
        .user_name
        .as_deref()
        .map_or(tenant.clone(), xml::escape);
    let token = xml::escape(token);
    let seconds = ttl.as_secs();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>{origin}/services/Soap/m/{version}/{org}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{origin}/services/Soap/{letter}/{version}/{org}</serverUrl><sessionId>{token}</sessionId><userId>{user}</userId><userInfo><accessibilityMode>false</accessibilityMode><chatterExternal>false</chatterExternal><currencySymbol xsi:nil="true"/><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode xsi:nil="true"/><orgDefaultCurrencyLocale xsi:nil="true"/><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments><orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{org}</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>{tenant}</organizationName><profileId xsi:nil="true"/><roleId xsi:nil="true"/><sessionSecondsValid>{seconds}</sessionSecondsValid><userDefaultCurrencyIsoCode xsi:nil="true"/><userEmail xsi:nil="true"/><userFullName>{user_name}</userFullName><userId>{user}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>{user_name}</userName><userTimeZone>GMT</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"#
    )
}

/// An OAuth token answer: `instance_url` is the bare origin, `id` the
/// identity URL at the gateway.
pub fn oauth_response(origin: &str, token: &str, facts: &SessionFacts) -> String {
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    serde_json::json!({
        "access_token": token,
        "instance_url": origin,
        "id": format!("{origin}/id/{}/{}", facts.org_id, facts.user_id),
        "token_type": "Bearer",
        "issued_at": issued_at.to_string(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> SessionFacts {
        SessionFacts {
            org_id: "00D000000000001".into(),
            user_id: "005000000000001AAA".into(),
            user_name: Some("integration@acme.example".into()),
            origins: vec![],
        }
    }

    #[test]
    fn soap_logins_are_told_from_calls() {
        let login = r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>acme</n1:username><n1:password>k&amp;1</n1:password></n1:login></env:Body></env:Envelope>"#;
        let doc = xml::parse(login.as_bytes()).unwrap();
        assert_eq!(
            soap_login(&doc),
            Some(LoginRequest {
                tenant: "acme".into(),
                key: "k&1".into()
            })
        );
        let call = r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><getUserInfo xmlns="urn:partner.soap.sforce.com"/></env:Body></env:Envelope>"#;
        assert_eq!(soap_login(&xml::parse(call.as_bytes()).unwrap()), None);
    }

    #[test]
    fn oauth_grants() {
        assert_eq!(
            oauth_login(
                b"grant_type=password&client_id=x&client_secret=y&username=acme&password=k%2B1"
            ),
            Ok(LoginRequest {
                tenant: "acme".into(),
                key: "k+1".into()
            })
        );
        assert_eq!(
            oauth_login(b"grant_type=client_credentials&client_id=acme&client_secret=k"),
            Ok(LoginRequest {
                tenant: "acme".into(),
                key: "k".into()
            })
        );
        assert_eq!(
            oauth_login(b"grant_type=refresh_token"),
            Err(OAuthRefusal::Grant("refresh_token".into()))
        );
        assert_eq!(
            oauth_login(b"grant_type=password&username=a"),
            Err(OAuthRefusal::Missing("password"))
        );
        assert_eq!(oauth_login(b""), Err(OAuthRefusal::Missing("grant_type")));
    }

    #[test]
    fn answers_point_at_the_gateway_origin() {
        let soap = soap_response(
            Api::SoapPartner,
            "62.0",
            "https://gw:8443",
            "00DX!t",
            "acme",
            &facts(),
            Duration::from_secs(7200),
        );
        let doc = xml::parse(soap.as_bytes()).unwrap();
        let result = xml::child(xml::soap_body_element(&doc).unwrap(), "result").unwrap();
        assert_eq!(
            xml::child_text(result, "serverUrl"),
            Some("https://gw:8443/services/Soap/u/62.0/00D000000000001")
        );
        assert_eq!(
            xml::child_text(result, "metadataServerUrl"),
            Some("https://gw:8443/services/Soap/m/62.0/00D000000000001")
        );
        assert_eq!(xml::child_text(result, "sessionId"), Some("00DX!t"));
        let info = xml::child(result, "userInfo").unwrap();
        assert_eq!(
            xml::child_text(info, "organizationId"),
            Some("00D000000000001")
        );
        assert_eq!(xml::child_text(info, "sessionSecondsValid"), Some("7200"));
        assert_eq!(
            xml::child_text(info, "userName"),
            Some("integration@acme.example")
        );
        assert_eq!(xml::child_text(info, "organizationName"), Some("acme"));
        // Client credentials name no user: the tenant stands in.
        let anonymous = SessionFacts {
            user_name: None,
            ..facts()
        };
        let soap = soap_response(
            Api::SoapEnterprise,
            "62.0",
            "https://gw:8443",
            "00DX!t",
            "a&b",
            &anonymous,
            Duration::from_secs(60),
        );
        let doc = xml::parse(soap.as_bytes()).unwrap();
        let result = xml::child(xml::soap_body_element(&doc).unwrap(), "result").unwrap();
        assert_eq!(
            xml::child_text(result, "serverUrl"),
            Some("https://gw:8443/services/Soap/c/62.0/00D000000000001")
        );
        let info = xml::child(result, "userInfo").unwrap();
        assert_eq!(xml::child_text(info, "userName"), Some("a&b"));
        let oauth: serde_json::Value =
            serde_json::from_str(&oauth_response("https://gw:8443", "00DX!t", &facts())).unwrap();
        assert_eq!(oauth["instance_url"], "https://gw:8443");
        assert_eq!(
            oauth["id"],
            "https://gw:8443/id/00D000000000001/005000000000001AAA"
        );
        assert_eq!(oauth["access_token"], "00DX!t");
    }
}
