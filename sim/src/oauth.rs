//! `/services/oauth2/token`: username-password, client credentials and JWT
//! bearer flows, with Salesforce's JSON success and error shapes.

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Call;
use super::config::ConnectedApp;
use super::reply::Reply;
use super::state::{LoginError, Session};

fn error(code: &str, description: &str) -> Reply {
    Reply::json(
        400,
        &json!({ "error": code, "error_description": description }),
    )
}

/// Handles a token request (a form-urlencoded POST).
pub fn handle(call: &Call<'_>) -> Reply {
    if call.method != http::Method::POST {
        return Reply::rest_error(
            405,
            "METHOD_NOT_ALLOWED",
            "HTTP Method 'GET' not allowed. Allowed are POST",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&call.body).into_owned().collect();
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match param("grant_type") {
        Some("password") => password(call, &param),
        Some("client_credentials") => client_credentials(call, &param),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            jwt_bearer(call, param("assertion").unwrap_or(""))
        }
        _ => error("unsupported_grant_type", "grant type not supported"),
    }
}

fn app<'a>(call: &'a Call<'_>, client_id: Option<&str>) -> Option<&'a ConnectedApp> {
    let client_id = client_id?;
    call.ctx
        .state
        .config
        .orgs
        .iter()
        .flat_map(|o| &o.connected_apps)
        .find(|a| a.client_id == client_id)
}

fn authenticate<'a>(
    call: &'a Call<'_>,
    param: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<&'a ConnectedApp, Reply> {
    let Some(app) = app(call, param("client_id")) else {
        return Err(error("invalid_client_id", "client identifier invalid"));
    };
    if param("client_secret") != Some(app.client_secret.as_str()) {
        return Err(error("invalid_client", "invalid client credentials"));
    }
    Ok(app)
}

fn password<'a>(call: &'a Call<'_>, param: &dyn Fn(&str) -> Option<&'a str>) -> Reply {
    let app = match authenticate(call, param) {
        Ok(app) => app,
        Err(reply) => return reply,
    };
    if !app.allow_password_flow {
        return error("invalid_grant", "authentication failure");
    }
    let username = param("username").unwrap_or("");
    match call
        .ctx
        .state
        .password_login(username, param("password").unwrap_or(""))
    {
        Ok((token, session)) => success(call, &token, &session, Some(app), None),
        Err(e) => grant_error(e),
    }
}

fn client_credentials<'a>(call: &'a Call<'_>, param: &dyn Fn(&str) -> Option<&'a str>) -> Reply {
    let app = match authenticate(call, param) {
        Ok(app) => app,
        Err(reply) => return reply,
    };
    let Some(user) = &app.run_as else {
        return error("invalid_grant", "no client credentials user enabled");
    };
    match call.ctx.state.grant_login(user) {
        Ok((token, session)) => success(call, &token, &session, Some(app), Some("api")),
        Err(e) => grant_error(e),
    }
}

fn grant_error(e: LoginError) -> Reply {
    match e {
        LoginError::RateExceeded => error("invalid_grant", "login rate exceeded"),
        LoginError::InvalidLogin | LoginError::MustUseSecurityToken => {
            error("invalid_grant", "authentication failure")
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
}

fn jwt_bearer(call: &Call<'_>, assertion: &str) -> Reply {
    let invalid = || error("invalid_grant", "invalid assertion");
    let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion) else {
        return invalid();
    };
    let Some(app) = app(call, Some(&unverified.claims.iss)) else {
        return error("invalid_client_id", "client identifier invalid");
    };
    let Some(key) = call.ctx.jwt_keys.get(&app.client_id) else {
        return invalid();
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    let login_url = call.ctx.endpoints.login_url();
    validation.set_audience(&[
        "https://login.salesforce.com",
        "https://test.salesforce.com",
        login_url.as_str(),
    ]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = match jsonwebtoken::decode::<Claims>(assertion, key, &validation) {
        Ok(data) => data.claims,
        Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidAudience) => {
            return error("invalid_grant", "audience is invalid");
        }
        Err(_) => return invalid(),
    };
    let Some((org, _)) = call.ctx.state.find_user(&claims.sub) else {
        return error("invalid_grant", "user hasn't approved this consumer");
    };
    if !org
        .connected_apps
        .iter()
        .any(|a| a.client_id == app.client_id)
    {
        return error("invalid_grant", "user hasn't approved this consumer");
    }
    match call.ctx.state.grant_login(&claims.sub) {
        Ok((token, session)) => success(call, &token, &session, None, Some("api")),
        Err(e) => grant_error(e),
    }
}

fn success(
    call: &Call<'_>,
    token: &str,
    session: &Session,
    signed_by: Option<&ConnectedApp>,
    scope: Option<&str>,
) -> Reply {
    let id = format!(
        "{}/id/{}/{}",
        call.ctx.endpoints.login_url(),
        super::ids::to_18(&session.org_id),
        session.user.id
    );
    let issued_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string();
    let mut body = json!({
        "access_token": token,
        "instance_url": call.ctx.endpoints.standard_url(),
        "id": id,
        "token_type": "Bearer",
    });
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    if let Some(app) = signed_by {
        body["issued_at"] = json!(issued_at);
        body["signature"] = Value::String(signature(&app.client_secret, &id, &issued_at));
    }
    Reply::json(200, &body)
}

/// base64(HMAC-SHA256(id + issued_at)) keyed with the client secret.
fn signature(secret: &str, id: &str, issued_at: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
