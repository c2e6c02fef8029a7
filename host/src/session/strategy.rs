//! The four ways a tenant logs in (`[tenant.auth] kind`), each one request
//! to the login URL through the tenant's transport.

use std::time::Duration;

use bytes::Bytes;

use super::SessionSettings;
use crate::config::Auth;
use crate::salesforce::{self, Instance, LoginFailure};
use crate::secret::Secret;
use crate::transport::Exchange;

/// What a successful login yields.
pub struct Grant {
    pub session_id: Secret,
    pub instance: Instance,
    pub user_id: String,
    pub lifetime: Duration,
}

/// Logs in once with the tenant's strategy.
pub async fn login(
    tenant: &SessionSettings,
    transport: &dyn Exchange,
) -> Result<Grant, LoginFailure> {
    match &tenant.auth {
        Auth::SoapLogin {
            username,
            password,
            security_token,
        } => {
            soap_login(
                tenant,
                transport,
                username,
                &with_token(password, security_token.as_ref()),
            )
            .await
        }
        Auth::OAuthPassword {
            client_id,
            client_secret,
            username,
            password,
            security_token,
        } => {
            let password = with_token(password, security_token.as_ref());
            let form = form(&[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
                ("username", username),
                ("password", password.expose()),
            ]);
            oauth(tenant, transport, form).await
        }
        Auth::OAuthClientCredentials {
            client_id,
            client_secret,
        } => {
            let form = form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
            ]);
            oauth(tenant, transport, form).await
        }
        Auth::OAuthJwtBearer {
            client_id,
            username,
            private_key,
            audience,
        } => {
            let assertion = jwt_assertion(client_id, username, audience, private_key)?;
            let form = form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.expose()),
            ]);
            oauth(tenant, transport, form).await
        }
    }
}

fn with_token(password: &Secret, token: Option<&Secret>) -> Secret {
    match token {
        Some(token) => Secret::new(format!("{}{}", password.expose(), token.expose())),
        None => password.clone(),
    }
}

fn form(pairs: &[(&str, &str)]) -> Secret {
    Secret::new(
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
    )
}

fn url(tenant: &SessionSettings, path: &str) -> String {
    format!(
        "{}{path}",
        tenant.login_url.to_string().trim_end_matches('/')
    )
}

async fn post(
    transport: &dyn Exchange,
    url: &str,
    headers: &[(&str, &str)],
    body: Secret,
) -> Result<crate::transport::Reply, LoginFailure> {
    let mut request = http::Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Bytes::from(body.expose().to_string()))
        .map_err(|e| LoginFailure::Unexpected {
            status: 0,
            detail: format!("cannot build the login request for {url}: {e}"),
        })?;
    transport
        .exchange(request)
        .await
        .map_err(|e| LoginFailure::Unexpected {
            status: 0,
            detail: e.to_string(),
        })
}

async fn soap_login(
    tenant: &SessionSettings,
    transport: &dyn Exchange,
    username: &str,
    password: &Secret,
) -> Result<Grant, LoginFailure> {
    let url = url(tenant, &format!("/services/Soap/u/{}", tenant.api_version));
    let envelope = salesforce::login_envelope(username, password);
    let headers = [
        ("content-type", "text/xml; charset=UTF-8"),
        ("soapaction", "login"),
    ];
    let reply = post(transport, &url, &headers, Secret::new(envelope)).await?;
    let result = salesforce::parse_login_response(reply.status, &reply.body, &tenant.api_version)?;
    Ok(Grant {
        session_id: result.session_id,
        instance: result.instance,
        user_id: result.user_id,
        lifetime: Duration::from_secs(result.session_seconds.unwrap_or(tenant.session_seconds)),
    })
}

async fn oauth(
    tenant: &SessionSettings,
    transport: &dyn Exchange,
    form: Secret,
) -> Result<Grant, LoginFailure> {
    let url = url(tenant, "/services/oauth2/token");
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "application/json"),
    ];
    let reply = post(transport, &url, &headers, form).await?;
    let token = salesforce::parse_oauth_response(reply.status, &reply.body, &tenant.api_version)?;
    Ok(Grant {
        session_id: token.access_token,
        instance: token.instance,
        user_id: token.user_id,
        lifetime: Duration::from_secs(tenant.session_seconds),
    })
}

/// An RS256 assertion valid for three minutes, as Salesforce asks.
fn jwt_assertion(
    client_id: &str,
    username: &str,
    audience: &str,
    key: &Secret,
) -> Result<Secret, LoginFailure> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        exp: u64,
    }
    let bad_key = |e: jsonwebtoken::errors::Error| LoginFailure::Rejected {
        code: "invalid_private_key".into(),
        message: format!("auth.private_key_file is not a usable RSA private key in PEM: {e}"),
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.expose().as_bytes()).map_err(bad_key)?;
    let claims = Claims {
        iss: client_id,
        sub: username,
        aud: audience,
        exp: jsonwebtoken::get_current_timestamp() + 180,
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(bad_key)?;
    Ok(Secret::new(token))
}
