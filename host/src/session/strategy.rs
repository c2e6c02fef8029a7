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

/// The one reading of [`Auth`]: the values that make a login, and the
/// request that sends them.
pub(super) struct Plan<'a> {
    /// Every value of the auth settings, secrets included, in a fixed order
    /// (an optional one as `some`, value or `none`): what
    /// [`SessionSettings::fingerprint`] hashes.
    pub values: Vec<&'a str>,
    request: Request<'a>,
}

/// What a login sends.
enum Request<'a> {
    /// Partner SOAP `login()`; the password carries the security token.
    Soap { username: &'a str, password: Secret },
    /// An OAuth token request with this form.
    OAuth(Secret),
    /// An OAuth token request with an assertion signed when it is sent.
    JwtBearer {
        client_id: &'a str,
        username: &'a str,
        audience: &'a str,
        private_key: &'a Secret,
    },
}

/// How `auth` logs in.
pub(super) fn plan(auth: &Auth) -> Plan<'_> {
    let mut values = Vec::new();
    let request = match auth {
        Auth::SoapLogin {
            username,
            password,
            security_token,
        } => {
            values.extend([username.as_str(), password.expose()]);
            optional(&mut values, security_token.as_ref());
            Request::Soap {
                username,
                password: with_token(password, security_token.as_ref()),
            }
        }
        Auth::OAuthPassword {
            client_id,
            client_secret,
            username,
            password,
            security_token,
        } => {
            values.extend([
                client_id.as_str(),
                client_secret.expose(),
                username,
                password.expose(),
            ]);
            optional(&mut values, security_token.as_ref());
            let password = with_token(password, security_token.as_ref());
            Request::OAuth(form(&[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
                ("username", username),
                ("password", password.expose()),
            ]))
        }
        Auth::OAuthClientCredentials {
            client_id,
            client_secret,
        } => {
            values.extend([client_id.as_str(), client_secret.expose()]);
            Request::OAuth(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
            ]))
        }
        Auth::OAuthJwtBearer {
            client_id,
            username,
            private_key,
            audience,
        } => {
            values.extend([client_id.as_str(), username, private_key.expose(), audience]);
            Request::JwtBearer {
                client_id,
                username,
                audience,
                private_key,
            }
        }
    };
    Plan { values, request }
}

/// An optional value: absent and empty differ.
fn optional<'a>(values: &mut Vec<&'a str>, value: Option<&'a Secret>) {
    match value {
        Some(value) => values.extend(["some", value.expose()]),
        None => values.push("none"),
    }
}

/// Logs in once with the tenant's strategy.
pub async fn login(
    tenant: &SessionSettings,
    transport: &dyn Exchange,
) -> Result<Grant, LoginFailure> {
    match plan(&tenant.auth).request {
        Request::Soap { username, password } => {
            soap_login(tenant, transport, username, &password).await
        }
        Request::OAuth(form) => oauth(tenant, transport, form).await,
        Request::JwtBearer {
            client_id,
            username,
            audience,
            private_key,
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
