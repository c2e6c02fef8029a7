//! The front door end to end: a client that speaks Salesforce logs in to
//! the gateway with a tenant credential, gets a gateway token, and calls
//! SOAP and REST through it to the simulator over mutual TLS; the gateway's
//! errors come back in each API's own format; the real session never
//! reaches the client; nothing unmappable reaches Salesforce.

use twoway_tests::gateway::TestGateway;
use twoway_tests::{
    ACME_ORG, Client, Response, admin_get, api_envelope, front_door, get_user_info_envelope,
    login_envelope, start_sim, xml_text,
};

/// The simulator's sessions for acme start so; none may reach a client.
fn real_session_prefix() -> String {
    format!("{ACME_ORG}!")
}

#[track_caller]
fn assert_no_real_session(response: &Response) {
    let canary = real_session_prefix();
    assert!(
        !response.body.contains(&canary),
        "the real session leaked: {}",
        response.body
    );
    for (name, value) in &response.headers {
        let value = value.to_str().unwrap_or("");
        assert!(
            !value.contains(&canary),
            "the real session leaked in {name}: {value}"
        );
    }
}

async fn gateway(sim: &twoway_sim::Sim) -> (TestGateway, String) {
    front_door::start(sim, "", "", &[]).await
}

/// A SOAP login to the gateway as tenant acme with its first key.
async fn acme_login(client: &Client, origin: &str) -> Response {
    let envelope = login_envelope("acme", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
    client
        .soap(&format!("{origin}/services/Soap/u/62.0"), &envelope)
        .await
}

async fn api_requests(sim: &twoway_sim::Sim) -> u64 {
    admin_get(sim, "/counters").await["api_requests"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_login_then_soap_and_rest_through_the_gateway() {
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let client = Client::anonymous();

    // Login with username = tenant, password = one of its API keys.
    let login = acme_login(&client, &origin).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_no_real_session(&login);
    let token = xml_text(&login.body, "sessionId").expect("sessionId");
    assert!(token.starts_with("00DGATEWAYTOKEN!"), "{token}");
    let server_url = xml_text(&login.body, "serverUrl").expect("serverUrl");
    assert_eq!(
        server_url,
        format!("{origin}/services/Soap/u/62.0/{ACME_ORG}")
    );
    assert_eq!(
        xml_text(&login.body, "organizationId").as_deref(),
        Some(ACME_ORG)
    );

    // SOAP at serverUrl: the token is swapped for the tenant's session.
    let info = client
        .soap(&server_url, &get_user_info_envelope(&token))
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert!(info.body.contains("getUserInfoResponse"), "{}", info.body);
    assert_no_real_session(&info);

    // REST with the same token, at the bare origin.
    let query = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account"),
            &token,
            None,
        )
        .await;
    assert_eq!(query.status, 200, "{}", query.body);
    assert!(
        query.json()["totalSize"].as_u64().unwrap() > 0,
        "{}",
        query.body
    );
    assert_no_real_session(&query);

    // Clients that write `//services` and trailing slashes.
    let versions = client
        .rest("GET", &format!("{origin}//services/data/"), &token, None)
        .await;
    assert_eq!(versions.status, 200, "{}", versions.body);

    // An API key presented directly works too (X-SFDC-Session, doubled prefix).
    let direct = client
        .send(
            "GET",
            &format!("{origin}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"),
            &[(
                "x-sfdc-session",
                "Bearer Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            )],
            "",
        )
        .await;
    assert_eq!(direct.status, 200, "{}", direct.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_grants_answer_with_the_gateway_as_instance() {
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let client = Client::anonymous();
    let token_url = format!("{origin}/services/oauth2/token");
    for fields in [
        vec![
            ("grant_type", "password"),
            ("client_id", "x"),
            ("client_secret", "y"),
            ("username", "acme"),
            ("password", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "acme"),
            ("client_secret", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
        ],
    ] {
        let answer = client.form(&token_url, &fields).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_no_real_session(&answer);
        let json = answer.json();
        assert_eq!(json["instance_url"], origin.as_str());
        assert_eq!(json["token_type"], "Bearer");
        let id = json["id"].as_str().unwrap();
        assert!(id.starts_with(&format!("{origin}/id/{ACME_ORG}/")), "{id}");
        let token = json["access_token"].as_str().unwrap();
        let query = client
            .rest(
                "GET",
                &format!("{origin}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"),
                token,
                None,
            )
            .await;
        assert_eq!(query.status, 200, "{}", query.body);
    }
    let wrong = client
        .form(
            &token_url,
            &[
                ("grant_type", "password"),
                ("username", "acme"),
                ("password", "nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.json(),
        serde_json::json!({"error": "invalid_grant", "error_description": "authentication failure"})
    );
    let grant = client
        .form(&token_url, &[("grant_type", "refresh_token")])
        .await;
    assert_eq!(grant.status, 400);
    assert_eq!(grant.json()["error"], "unsupported_grant_type");
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_errors_come_in_each_clients_format_and_reach_nothing() {
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let client = Client::anonymous();
    let before = api_requests(&sim).await;

    // A wrong login: Salesforce's INVALID_LOGIN fault.
    for (user, key) in [
        ("acme", "acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c"),
        ("nobody", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
    ] {
        let login = client
            .soap(
                &format!("{origin}/services/Soap/u/62.0"),
                &login_envelope(user, key),
            )
            .await;
        assert_eq!(login.status, 500, "{}", login.body);
        assert!(
            login
                .body
                .contains("<faultcode>sf:INVALID_LOGIN</faultcode>"),
            "{}",
            login.body
        );
        assert!(
            login.body.contains(r#"xsi:type="sf:LoginFault""#),
            "{}",
            login.body
        );
    }

    // An unknown token: INVALID_SESSION_ID as each client detects expiry.
    let unknown = format!("00DGATEWAYTOKEN!{}", "0".repeat(64));
    let rest = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/limits"),
            &unknown,
            None,
        )
        .await;
    assert_eq!(rest.status, 401);
    assert_eq!(
        rest.json(),
        serde_json::json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let soap = client
        .soap(
            &format!("{origin}/services/Soap/u/62.0/{ACME_ORG}"),
            &get_user_info_envelope(&unknown),
        )
        .await;
    assert_eq!(soap.status, 500);
    assert!(
        soap.body
            .contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"),
        "{}",
        soap.body
    );
    assert!(soap.body.contains("Illegal Session"), "{}", soap.body);
    let bulk = client
        .send(
            "POST",
            &format!("{origin}/services/async/62.0/job"),
            &[("x-sfdc-session", &unknown)],
            "<jobInfo/>",
        )
        .await;
    assert_eq!(bulk.status, 400);
    assert!(
        bulk.body
            .contains("<exceptionCode>InvalidSessionId</exceptionCode>"),
        "{}",
        bulk.body
    );

    // A path the front door does not map: Salesforce's NOT_FOUND.
    let lost = client
        .rest(
            "GET",
            &format!("{origin}/services/nothing/here"),
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            None,
        )
        .await;
    assert_eq!(lost.status, 404);
    assert_eq!(lost.json()[0]["errorCode"], "NOT_FOUND");
    let escape = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/%2e%2e/%2e%2e/secur/frontdoor.jsp"),
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            None,
        )
        .await;
    assert_eq!(escape.status, 404, "{}", escape.body);

    assert_eq!(
        api_requests(&sim).await,
        before,
        "nothing may reach Salesforce"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_key_revokes_its_tokens() {
    let sim = start_sim().await;
    let (gw, origin) = gateway(&sim).await;
    let client = Client::anonymous();
    let login = acme_login(&client, &origin).await;
    let token = xml_text(&login.body, "sessionId").expect("sessionId");
    let url = format!("{origin}/services/data/v62.0/query?q=SELECT+Id+FROM+Account");
    assert_eq!(client.rest("GET", &url, &token, None).await.status, 200);

    std::fs::write(
        gw.dir.path().join("acme-keys.txt"),
        "acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c",
    )
    .unwrap();
    let reloaded = gw.reload().await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    let after = client.rest("GET", &url, &token, None).await;
    assert_eq!(after.status, 401, "{}", after.body);
    assert_eq!(after.json()[0]["errorCode"], "INVALID_SESSION_ID");
}

/// curl as the seed runs it, against the gateway (verifying it against the
/// test root, never -k): `(status, body)`.
fn curl(url: &str, headers: &[&str], body: Option<&str>) -> (u16, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "--cacert"])
        .arg(&twoway_tests::pki().root_ca)
        .arg(url);
    for header in headers {
        cmd.args(["-H", header]);
    }
    if let Some(body) = body {
        cmd.args(["--data-binary", body]);
    }
    cmd.args(["-w", "\n%{http_code}"]);
    let out = cmd
        .output()
        .expect("the curl binary is needed for this test (scripts/test installs it)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let (body, status) = text.rsplit_once('\n').expect("status trailer");
    (status.parse().expect("status"), body.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_session_with_curl_through_the_gateway() {
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let run = |url: String, headers: Vec<String>, body: Option<String>| {
        tokio::task::spawn_blocking(move || {
            let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
            curl(&url, &headers, body.as_deref())
        })
    };
    let soap = |action: &str| {
        vec![
            "Content-Type: text/xml; charset=UTF-8".to_string(),
            format!("SOAPAction: {action}"),
        ]
    };

    // The seed's login, with the tenant's name and API key.
    let (status, login) = run(
        format!("{origin}/services/Soap/u/41.0"),
        soap("login"),
        Some(login_envelope(
            "acme",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
        )),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{login}");
    let session = xml_text(&login, "sessionId").expect("sessionId");
    assert!(!login.contains(&real_session_prefix()));

    // The seed's getUserInfo, at the same path, no certificate needed: the
    // gateway presents the tenant's on the mutual-auth port.
    let (status, info) = run(
        format!("{origin}/services/Soap/u/41.0"),
        soap("example"),
        Some(get_user_info_envelope(&session)),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{info}");
    assert!(info.contains("<getUserInfoResponse>"), "{info}");
    assert!(info.contains("<LimitInfoHeader>"), "{info}");
    assert!(!info.contains(&real_session_prefix()));

    // REST with the same session, as the blog did on 8443.
    let (status, query) = run(
        format!("{origin}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"),
        vec![format!("Authorization: Bearer {session}")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{query}");
    assert!(query.contains("\"totalSize\""), "{query}");
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_tooling_and_apex_through_the_gateway() {
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let client = Client::anonymous();
    let login = acme_login(&client, &origin).await;
    let token = xml_text(&login.body, "sessionId").expect("sessionId");
    let execute = |ns: &str| {
        format!(
            r#"<executeAnonymous xmlns="{ns}"><String>System.debug(1);</String></executeAnonymous>"#
        )
    };

    // Apex SOAP and tooling: the token swapped for the session in the
    // SessionHeader of each API's namespace.
    let apex = "http://soap.sforce.com/2006/08/apex";
    let tooling = "urn:tooling.soap.sforce.com";
    for (path, ns) in [("s", apex), ("T", tooling)] {
        let url = format!("{origin}/services/Soap/{path}/62.0");
        let answer = client.soap(&url, &api_envelope(&token, &execute(ns))).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(xml_text(&answer.body, "success").as_deref(), Some("true"));
        assert_no_real_session(&answer);
    }
    let query = client
        .soap(
            &format!("{origin}/services/Soap/T/62.0"),
            &api_envelope(
                &token,
                &format!(r#"<query xmlns="{tooling}"><queryString>SELECT Id, Name FROM Account</queryString></query>"#),
            ),
        )
        .await;
    assert_eq!(query.status, 200, "{}", query.body);
    assert!(query.body.contains("<queryResponse>"), "{}", query.body);

    // A token the gateway never issued: the tooling API's own fault.
    let refused = client
        .soap(
            &format!("{origin}/services/Soap/T/62.0"),
            &api_envelope("00DGATEWAYTOKEN!nope", &execute(tooling)),
        )
        .await;
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert_eq!(
        xml_text(&refused.body, "faultcode").as_deref(),
        Some("sf:INVALID_SESSION_ID")
    );
    assert!(
        refused.body.contains("urn:fault.tooling.soap.sforce.com"),
        "{}",
        refused.body
    );
}
