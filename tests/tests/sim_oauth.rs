//! OAuth `/services/oauth2/token` on the simulator: the username-password,
//! client-credentials and JWT bearer flows with their exact JSON shapes,
//! the signature, every error as HTTP 400 JSON, and the token as a REST
//! bearer and a SOAP sessionId over mutual TLS.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{KeyInit, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use twoway_tests::{
    ACME_ORG, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, Client, GLOBEX_USER,
    Response, admin_get, get_user_info_envelope, pki, start_sim, start_sim_with, xml_text,
};

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn token_url(base: &str) -> String {
    format!("{base}/services/oauth2/token")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Asserts an OAuth error: HTTP 400 and exactly `{"error":..,"error_description":..}`.
fn assert_oauth_error(response: &Response, error: &str, description: &str) {
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(
        response.body,
        json!({ "error": error, "error_description": description }).to_string()
    );
}

/// Acme's connected app: client id and secret.
const ACME_APP: (&str, &str) = ("acme-connected-app", "acme-client-secret");

/// The first keys of every token response, in Salesforce's order.
const TOKEN_KEYS: &[&str] = &["access_token", "instance_url", "id", "token_type"];

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// An RS256 assertion signed with the key in `key_file`.
fn assertion(key_file: &std::path::Path, claims: &Value) -> String {
    let pem = std::fs::read(key_file).expect("key file");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign JWT")
}

fn claims(iss: &str, sub: &str, aud: &str, exp: u64) -> Value {
    json!({ "iss": iss, "sub": sub, "aud": aud, "exp": exp })
}

async fn jwt_grant(login: &str, assertion: &str) -> Response {
    Client::anonymous()
        .form(
            &token_url(login),
            &[("grant_type", JWT_GRANT), ("assertion", assertion)],
        )
        .await
}

async fn password_grant(
    login: &str,
    client_id: &str,
    secret: &str,
    user: &str,
    password: &str,
) -> Response {
    Client::anonymous()
        .form(
            &token_url(login),
            &[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("username", user),
                ("password", password),
            ],
        )
        .await
}

/// The token is a session: REST bearer and SOAP sessionId on the mutual-auth port.
async fn assert_token_works(sim: &twoway_sim::Sim, token: &str, username: &str) {
    let mutual = sim.endpoints().mutual_url();
    let client = Client::with_identity(&pki().fullcert);
    let rest = client
        .rest(
            "GET",
            &format!("{mutual}/services/data/v62.0/query?q=SELECT+Name+FROM+Account+LIMIT+1"),
            token,
            None,
        )
        .await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(rest.json()["totalSize"], 1);
    let soap = client
        .soap(
            &format!("{mutual}/services/Soap/u/62.0"),
            &get_user_info_envelope(token),
        )
        .await;
    assert_eq!(soap.status, 200, "{}", soap.body);
    assert_eq!(xml_text(&soap.body, "userName").unwrap(), username);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_flow_returns_the_documented_json_with_a_valid_signature() {
    let sim = start_sim().await;
    let (login, standard) = (sim.endpoints().login_url(), sim.endpoints().standard_url());
    let response = password_grant(&login, ACME_APP.0, ACME_APP.1, ACME_USER, ACME_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let body = response.json();
    assert_eq!(
        keys(&body),
        [TOKEN_KEYS, &["issued_at", "signature"]].concat()
    );
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{ACME_ORG}!")), "{token}");
    assert_eq!(body["instance_url"], standard);
    assert_eq!(body["token_type"], "Bearer");
    // id is `{login}/id/{18-char org id}/{user id}`.
    let id = body["id"].as_str().unwrap();
    let tail = id.strip_prefix(&format!("{login}/id/")).expect("id URL");
    let (org, user) = tail.split_once('/').expect("org/user");
    assert!(org.len() == 18 && org.starts_with(ACME_ORG), "{org}");
    assert!(user.len() == 18 && user.starts_with("005"), "{user}");
    // issued_at is a string of epoch milliseconds (of about now, not seconds).
    let issued_at = body["issued_at"].as_str().expect("issued_at is a string");
    let millis: u64 = issued_at.parse().expect("digits");
    assert!(millis / 1000 + 3600 >= now() && millis / 1000 <= now() + 3600);
    // signature = base64(HMAC-SHA256(id + issued_at)) keyed with the client secret.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"acme-client-secret").unwrap();
    mac.update(format!("{id}{issued_at}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(body["signature"], expected);
    assert!(body.get("refresh_token").is_none());

    assert_token_works(&sim, token, ACME_USER).await;
    assert_eq!(
        admin_get(&sim, "/counters").await["logins_by_user"][ACME_USER],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn password_flow_errors() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    let app = ACME_APP;
    let wrong = password_grant(&login, app.0, app.1, ACME_USER, "wrong").await;
    assert_oauth_error(&wrong, "invalid_grant", "authentication failure");
    let no_token = password_grant(&login, app.0, app.1, ACME_USER, "acme-password").await;
    assert_oauth_error(&no_token, "invalid_grant", "authentication failure");
    let bad_secret = password_grant(&login, app.0, "nope", ACME_USER, ACME_PASSWORD).await;
    assert_oauth_error(&bad_secret, "invalid_client", "invalid client credentials");
    let unknown_app = password_grant(&login, "who", app.1, ACME_USER, ACME_PASSWORD).await;
    assert_oauth_error(
        &unknown_app,
        "invalid_client_id",
        "client identifier invalid",
    );
    // Globex's app does not allow the username-password flow.
    let blocked = password_grant(
        &login,
        "globex-connected-app",
        "globex-client-secret",
        GLOBEX_USER,
        "globex-password",
    )
    .await;
    assert_oauth_error(&blocked, "invalid_grant", "authentication failure");
}

#[tokio::test(flavor = "multi_thread")]
async fn password_flow_works_for_a_user_without_token_on_the_standard_port() {
    let sim = start_sim().await;
    let standard = sim.endpoints().standard_url();
    let response = password_grant(
        &standard,
        ACME_APP.0,
        ACME_APP.1,
        ANALYST_USER,
        ANALYST_PASSWORD,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let token = response.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The analyst is not enforced: the token works on the standard port.
    let rest = Client::anonymous()
        .rest(
            "GET",
            &format!("{standard}/services/data/v62.0/sobjects/Account/001x"),
            &token,
            None,
        )
        .await;
    assert_eq!(rest.status, 404, "{}", rest.body);
    assert!(rest.header("sforce-limit-info").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_run_as_the_apps_user() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    let response = Client::anonymous()
        .form(
            &token_url(&login),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "acme-connected-app"),
                ("client_secret", "acme-client-secret"),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(
        keys(&body),
        [TOKEN_KEYS, &["scope", "issued_at", "signature"]].concat()
    );
    assert_eq!(body["scope"], "api");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    assert_token_works(&sim, token, ACME_USER).await;

    let bad_secret = Client::anonymous()
        .form(
            &token_url(&login),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "acme-connected-app"),
                ("client_secret", "guess"),
            ],
        )
        .await;
    assert_oauth_error(&bad_secret, "invalid_client", "invalid client credentials");
    let no_client = Client::anonymous()
        .form(&token_url(&login), &[("grant_type", "client_credentials")])
        .await;
    assert_oauth_error(&no_client, "invalid_client_id", "client identifier invalid");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_grant_types_are_refused() {
    let sim = start_sim().await;
    let url = token_url(&sim.endpoints().login_url());
    for form in [
        vec![("grant_type", "authorization_code"), ("code", "x")],
        vec![("grant_type", "refresh_token")],
        vec![],
    ] {
        let response = Client::anonymous().form(&url, &form).await;
        assert_oauth_error(
            &response,
            "unsupported_grant_type",
            "grant type not supported",
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_bearer_with_an_assertion_signed_by_the_registered_key() {
    let sim = start_sim().await;
    let (login, standard) = (sim.endpoints().login_url(), sim.endpoints().standard_url());
    for aud in ["https://login.salesforce.com", login.as_str()] {
        let jwt = assertion(
            &pki().client_key,
            &claims("acme-connected-app", ACME_USER, aud, now() + 300),
        );
        let response = jwt_grant(&login, &jwt).await;
        assert_eq!(response.status, 200, "{aud}: {}", response.body);
        let body = response.json();
        assert_eq!(keys(&body), [TOKEN_KEYS, &["scope"]].concat());
        assert_eq!(body["instance_url"], standard);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "api");
        let token = body["access_token"].as_str().unwrap();
        assert!(token.starts_with(&format!("{ACME_ORG}!")));
        assert_token_works(&sim, token, ACME_USER).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_bearer_errors() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    let aud = "https://login.salesforce.com";
    let app = "acme-connected-app";
    let key = &pki().client_key;

    let wrong_aud = assertion(
        key,
        &claims(app, ACME_USER, "https://evil.example", now() + 300),
    );
    assert_oauth_error(
        &jwt_grant(&login, &wrong_aud).await,
        "invalid_grant",
        "audience is invalid",
    );

    let expired = assertion(key, &claims(app, ACME_USER, aud, now() - 3600));
    assert_oauth_error(
        &jwt_grant(&login, &expired).await,
        "invalid_grant",
        "invalid assertion",
    );

    let other_key = assertion(
        &pki().client_b_key,
        &claims(app, ACME_USER, aud, now() + 300),
    );
    assert_oauth_error(
        &jwt_grant(&login, &other_key).await,
        "invalid_grant",
        "invalid assertion",
    );

    let unknown_iss = assertion(key, &claims("who-is-this", ACME_USER, aud, now() + 300));
    assert_oauth_error(
        &jwt_grant(&login, &unknown_iss).await,
        "invalid_client_id",
        "client identifier invalid",
    );

    let no_exp = assertion(key, &json!({ "iss": app, "sub": ACME_USER, "aud": aud }));
    assert_oauth_error(
        &jwt_grant(&login, &no_exp).await,
        "invalid_grant",
        "invalid assertion",
    );

    assert_oauth_error(
        &jwt_grant(&login, "not.a.jwt").await,
        "invalid_grant",
        "invalid assertion",
    );
    assert_oauth_error(
        &jwt_grant(&login, "").await,
        "invalid_grant",
        "invalid assertion",
    );

    // A user the app does not serve (another org), and a user that does not exist.
    let other_org = assertion(key, &claims(app, GLOBEX_USER, aud, now() + 300));
    assert_oauth_error(
        &jwt_grant(&login, &other_org).await,
        "invalid_grant",
        "user hasn't approved this consumer",
    );
    let nobody = assertion(key, &claims(app, "nobody@acme.example", aud, now() + 300));
    assert_oauth_error(
        &jwt_grant(&login, &nobody).await,
        "invalid_grant",
        "user hasn't approved this consumer",
    );

    // Globex's app has no certificate: it accepts no assertion.
    let globex = assertion(
        key,
        &claims("globex-connected-app", GLOBEX_USER, aud, now() + 300),
    );
    assert_oauth_error(
        &jwt_grant(&login, &globex).await,
        "invalid_grant",
        "invalid assertion",
    );

    assert_eq!(admin_get(&sim, "/counters").await["logins"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_is_not_served_on_the_mutual_auth_port() {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "acme-connected-app"),
        ("client_secret", "acme-client-secret"),
    ];
    let sim = start_sim().await;
    let client = Client::with_identity(&pki().fullcert);
    let refused = client
        .form(&token_url(&sim.endpoints().mutual_url()), &form)
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert_eq!(
        refused.body,
        r#"[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]"#
    );

    let sim = start_sim_with(|c| c.limits.allow_login_on_mutual_port = true).await;
    let allowed = client
        .form(&token_url(&sim.endpoints().mutual_url()), &form)
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_logins_share_the_login_rate_budget() {
    let sim = start_sim_with(|c| c.limits.logins_per_hour = 1).await;
    let url = token_url(&sim.endpoints().login_url());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "acme-connected-app"),
        ("client_secret", "acme-client-secret"),
    ];
    assert_eq!(Client::anonymous().form(&url, &form).await.status, 200);
    let refused = Client::anonymous().form(&url, &form).await;
    assert_oauth_error(&refused, "invalid_grant", "login rate exceeded");
}
