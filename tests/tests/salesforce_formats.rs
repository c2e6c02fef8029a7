//! `twoway::salesforce` against the simulator's real answers: login and
//! OAuth replies parse, `resolve` + `inject` build calls the simulator
//! accepts over mutual TLS, and `classify` recognises the Certificate Error
//! page, MUTUAL_AUTHENTICATION_FAILED and INVALID_SESSION_ID (SOAP, REST, Bulk).

use twoway::salesforce::{
    self, Api, Instance, LoginFailure, Outcome, Verdict, api_usage, classify, inject, resolve,
};
use twoway::secret::Secret;
use twoway_tests::{
    ACME_ORG, ACME_PASSWORD, ACME_USER, Client, Response, get_user_info_envelope, pki, start_sim,
};

/// Sends `body` to `url` with the headers `inject` produced.
async fn send(
    client: &Client,
    method: &str,
    url: &http::Uri,
    headers: &http::HeaderMap,
    body: Vec<u8>,
) -> Response {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().expect("ASCII header")))
        .collect();
    client.send(method, &url.to_string(), &pairs, body).await
}

/// A getUserInfo as a plugin writes it (with a SessionHeader of its own),
/// with the host's session injected.
fn get_user_info(session: &Secret) -> (http::HeaderMap, Vec<u8>) {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "text/xml; charset=UTF-8".parse().unwrap());
    headers.insert("soapaction", "example".parse().unwrap());
    let plugin_wrote = get_user_info_envelope("plugin-must-not-choose-the-session");
    let body = inject(
        Api::SoapPartner,
        session,
        &mut headers,
        plugin_wrote.as_bytes(),
    )
    .expect("inject into the seed's getUserInfo");
    (headers, body)
}

fn classify_response(api: Api, r: &Response) -> Outcome {
    classify(api, r.status, &r.headers, r.body.as_bytes())
}

async fn soap_login(login_url: &str) -> salesforce::LoginResult {
    let envelope = salesforce::login_envelope(ACME_USER, &Secret::new(ACME_PASSWORD));
    let url = format!("{login_url}{}", salesforce::login_path("62.0"));
    let response = Client::anonymous().soap(&url, &envelope).await;
    salesforce::parse_login_response(response.status, response.body.as_bytes(), "62.0")
        .expect("the simulator's loginResponse parses")
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_login_inject_and_classify() {
    let sim = start_sim().await;
    let endpoints = sim.endpoints();
    let login = soap_login(&endpoints.login_url()).await;
    assert_eq!(login.instance.base_url, endpoints.standard_url().as_str());
    assert_eq!(login.instance.org_id, ACME_ORG);
    assert_eq!(
        login.instance.partner_path,
        format!("/services/Soap/u/62.0/{ACME_ORG}")
    );
    assert_eq!(login.session_seconds, Some(7200));
    assert!(login.user_id.starts_with("005"));
    assert!(!login.password_expired);
    assert!(!format!("{login:?}").contains(login.session_id.expose()));

    let mutual_port = endpoints.mutual.port();
    let on_mutual = resolve(Api::SoapPartner, "", &login.instance, Some(mutual_port)).unwrap();
    assert_eq!(
        on_mutual.to_string(),
        format!("{}{}", endpoints.mutual_url(), login.instance.partner_path)
    );
    let (headers, body) = get_user_info(&login.session_id);

    // With the client identity on the mutual-auth port: the API answers.
    let identity = Client::with_identity(&pki().fullcert);
    let ok = send(&identity, "POST", &on_mutual, &headers, body.clone()).await;
    assert_eq!(
        classify_response(Api::SoapPartner, &ok),
        Outcome::Answer(Verdict::Success),
        "{}",
        ok.body
    );
    assert!(
        ok.body
            .contains("<userName>integration@acme.example</userName>")
    );
    let (used, limit) = api_usage(&ok.headers, ok.body.as_bytes()).expect("LimitInfoHeader");
    assert!(used >= 1 && limit == 15_000, "{used}/{limit}");

    // Without a client certificate: the seed's HTML page.
    let page = send(
        &Client::anonymous(),
        "POST",
        &on_mutual,
        &headers,
        body.clone(),
    )
    .await;
    assert_eq!(
        classify_response(Api::SoapPartner, &page),
        Outcome::CertificateRejected {
            reason: "No client certificate provided.".into()
        }
    );

    // On the standard port (no port rewrite): MUTUAL_AUTHENTICATION_FAILED.
    let standard = resolve(Api::SoapPartner, "", &login.instance, None).unwrap();
    let fault = send(&Client::anonymous(), "POST", &standard, &headers, body).await;
    assert_eq!(
        classify_response(Api::SoapPartner, &fault),
        Outcome::MutualAuthFailed {
            message: "This session could not be mutually authenticated for use with the API".into()
        }
    );

    // A session the simulator does not know: INVALID_SESSION_ID.
    let (headers, body) = get_user_info(&Secret::new(format!("{ACME_ORG}!not-a-session")));
    let invalid = send(&identity, "POST", &on_mutual, &headers, body).await;
    let outcome = classify_response(Api::SoapPartner, &invalid);
    assert!(
        matches!(outcome, Outcome::InvalidSession { .. }),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_and_bulk_sessions() {
    let sim = start_sim().await;
    let endpoints = sim.endpoints();
    let login = soap_login(&endpoints.login_url()).await;
    let identity = Client::with_identity(&pki().fullcert);
    let port = Some(endpoints.mutual.port());

    let query = resolve(
        Api::Rest,
        "query?q=SELECT+Id+FROM+Account",
        &login.instance,
        port,
    )
    .unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", "Bearer plugin-token".parse().unwrap());
    inject(Api::Rest, &login.session_id, &mut headers, b"").unwrap();
    let ok = send(&identity, "GET", &query, &headers, Vec::new()).await;
    assert_eq!(
        classify_response(Api::Rest, &ok),
        Outcome::Answer(Verdict::Success),
        "{}",
        ok.body
    );
    assert!(api_usage(&ok.headers, b"").is_some_and(|(_, limit)| limit == 15_000));

    let mut headers = http::HeaderMap::new();
    inject(
        Api::Rest,
        &Secret::new("00D5g000004Acme!expired"),
        &mut headers,
        b"",
    )
    .unwrap();
    let expired = send(&identity, "GET", &query, &headers, Vec::new()).await;
    assert_eq!(
        classify_response(Api::Rest, &expired),
        Outcome::InvalidSession {
            message: "Session expired or invalid".into()
        }
    );

    let standard = resolve(
        Api::Rest,
        "query?q=SELECT+Id+FROM+Account",
        &login.instance,
        None,
    )
    .unwrap();
    let mut headers = http::HeaderMap::new();
    inject(Api::Rest, &login.session_id, &mut headers, b"").unwrap();
    let refused = send(&Client::anonymous(), "GET", &standard, &headers, Vec::new()).await;
    let outcome = classify_response(Api::Rest, &refused);
    assert!(
        matches!(outcome, Outcome::MutualAuthFailed { .. }),
        "{outcome:?}"
    );

    let job = resolve(Api::Bulk, "job", &login.instance, port).unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/xml".parse().unwrap());
    let body = inject(
        Api::Bulk,
        &Secret::new("00D5g000004Acme!expired"),
        &mut headers,
        b"<x/>",
    )
    .unwrap();
    let bulk = send(&identity, "POST", &job, &headers, body).await;
    assert_eq!(
        classify_response(Api::Bulk, &bulk),
        Outcome::InvalidSession {
            message: "Invalid session id".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_replies_and_login_faults() {
    let sim = start_sim().await;
    let endpoints = sim.endpoints();
    let token_url = format!("{}{}", endpoints.login_url(), salesforce::TOKEN_PATH);
    let granted = Client::anonymous()
        .form(
            &token_url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "acme-connected-app"),
                ("client_secret", "acme-client-secret"),
            ],
        )
        .await;
    let token = salesforce::parse_oauth_response(granted.status, granted.body.as_bytes(), "62.0")
        .expect("the simulator's token reply parses");
    let expected =
        Instance::from_instance_url(&endpoints.standard_url(), "62.0", ACME_ORG).unwrap();
    assert_eq!(token.instance, expected);
    assert!(token.user_id.starts_with("005"));
    assert_eq!(token.scope.as_deref(), Some("api"));
    assert!(token.issued_at.is_some());
    assert!(!format!("{token:?}").contains(token.access_token.expose()));

    // The token works as the session of a getUserInfo over mutual TLS.
    let url = resolve(
        Api::SoapPartner,
        "",
        &token.instance,
        Some(endpoints.mutual.port()),
    )
    .unwrap();
    let (headers, body) = get_user_info(&token.access_token);
    let ok = send(
        &Client::with_identity(&pki().fullcert),
        "POST",
        &url,
        &headers,
        body,
    )
    .await;
    assert_eq!(
        classify_response(Api::SoapPartner, &ok),
        Outcome::Answer(Verdict::Success),
        "{}",
        ok.body
    );

    let refused = Client::anonymous()
        .form(
            &token_url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
            ],
        )
        .await;
    assert_eq!(
        salesforce::parse_oauth_response(refused.status, refused.body.as_bytes(), "62.0")
            .unwrap_err(),
        LoginFailure::Rejected {
            code: "invalid_client_id".into(),
            message: "client identifier invalid".into()
        }
    );

    let envelope = salesforce::login_envelope(ACME_USER, &Secret::new("wrong-password"));
    let url = format!(
        "{}{}",
        endpoints.login_url(),
        salesforce::login_path("62.0")
    );
    let bad = Client::anonymous().soap(&url, &envelope).await;
    assert_eq!(
        salesforce::parse_login_response(bad.status, bad.body.as_bytes(), "62.0").unwrap_err(),
        LoginFailure::Rejected {
            code: "INVALID_LOGIN".into(),
            message: "Invalid username, password, security token; or user locked out.".into()
        }
    );
}
