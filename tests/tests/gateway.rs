//! The gateway end to end: two tenants with their own certificates and
//! keys kept apart, each problem code produced by a real cause, config
//! reload, certificate rotation under load, and graceful shutdown.

use std::time::Duration;

use twoway_tests::gateway::{
    ACME, GLOBEX, TestGateway, http, server_tls, tenant_with, with_workflow,
};
use twoway_tests::plugins::*;
use twoway_tests::{admin_post, pki, start_sim, start_sim_with};

const ACME_KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
const GLOBEX_KEY: Option<&str> = Some("globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d");

/// A gateway serving Acme and Globex, each with the workflow `user`.
async fn two_tenants(sim: &twoway_sim::Sim) -> TestGateway {
    let tenants = with_workflow(ACME, "user", "get_user_info.wasm", "")
        + &with_workflow(GLOBEX, "user", "get_user_info.wasm", "");
    TestGateway::start(sim, &tenants, &[("get_user_info.wasm", GET_USER_INFO)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_are_kept_apart() {
    let sim = start_sim().await;
    let gw = two_tenants(&sim).await;

    let acme = gw
        .call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await;
    assert_eq!(acme.status, 200, "{}", acme.body);
    assert_eq!(acme.json()["userName"], "integration@acme.example");
    // Globex's session only works on the mutual-auth port with Globex's own
    // registered certificate: a 200 here means client-b.pem was presented.
    let globex = gw
        .call("GET", "/tenants/globex/workflows/user", GLOBEX_KEY, "")
        .await;
    assert_eq!(globex.status, 200, "{}", globex.body);
    assert_eq!(globex.json()["userName"], "integration@globex.example");

    for (path, key) in [
        ("/tenants/globex/workflows/user", ACME_KEY),
        ("/tenants/acme/workflows/user", GLOBEX_KEY),
        ("/tenants/acme/workflows/user", None),
        (
            "/tenants/acme/workflows/user",
            Some("acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c"),
        ),
    ] {
        let reply = gw.call("GET", path, key, "").await;
        assert_eq!(reply.status, 401, "{path} with {key:?}");
        assert_eq!(reply.json()["code"], "unauthorized");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn routing_and_request_problems() {
    let sim = start_sim().await;
    let gw = TestGateway::with_user_workflow(&sim, "", ACME).await;
    let cases = [
        // Unknown tenants look like refused credentials (tests/tests/hostile_inbound.rs).
        ("/tenants/nobody/workflows/user", 401, "unauthorized"),
        ("/tenants/acme/workflows/nothing", 404, "unknown_workflow"),
        ("/somewhere/else", 404, "unknown_route"),
    ];
    for (path, status, code) in cases {
        let reply = gw.call("GET", path, ACME_KEY, "").await;
        assert_eq!(reply.status, status, "{path}");
        let problem = reply.json();
        assert_eq!(problem["code"], code, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(problem["request_id"].as_str(), reply.header("x-request-id"));
    }
    let big = "x".repeat(1024 * 1024 + 1);
    let reply = gw
        .call("POST", "/tenants/acme/workflows/user", ACME_KEY, &big)
        .await;
    reply.assert_problem(413, "payload_too_large");
    let many: Vec<(String, String)> = (0..150)
        .map(|i| (format!("x-filler-{i}"), "1".to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let reply = http(
        "GET",
        &format!("{}/tenants/acme/workflows/user", gw.url),
        &headers,
        "",
    )
    .await;
    assert_eq!(reply.status, 431, "too many headers");
    let traced = http(
        "GET",
        &format!("{}/tenants/acme/workflows/user", gw.url),
        &[
            (
                "authorization",
                "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            ),
            ("x-request-id", "trace-me-42"),
        ],
        "",
    )
    .await;
    assert_eq!(traced.header("x-request-id"), Some("trace-me-42"));
}

/// One tenant `acme` with a twist in its config, serving get-user-info.
async fn acme_with(sim: &twoway_sim::Sim, replace: (&str, &str)) -> TestGateway {
    let tenant = ACME.replace(replace.0, replace.1);
    TestGateway::with_user_workflow(sim, "", &tenant).await
}

async fn problem_code(gw: &TestGateway) -> (u16, String) {
    let reply = gw
        .call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await;
    let code = reply.json()["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (reply.status, code)
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_problems_have_their_codes() {
    let sim = start_sim().await;

    let gw = acme_with(&sim, ("fullcert.pem", "fullcert-b.pem")).await;
    assert_eq!(
        problem_code(&gw).await,
        (502, "client_certificate_rejected".into()),
        "Globex's certificate for Acme"
    );

    let gw = acme_with(&sim, ("mutual_auth = true", "mutual_auth = false")).await;
    assert_eq!(
        problem_code(&gw).await,
        (502, "mutual_authentication_failed".into())
    );

    let gw = acme_with(&sim, ("security_token_file = \"acme-sf-token.txt\"", "")).await;
    assert_eq!(
        problem_code(&gw).await.1,
        "invalid_login",
        "password without the security token"
    );

    let closed = twoway_tests::free_port();
    let gw = acme_with(
        &sim,
        (
            "mutual_auth_port = {mutual_port}",
            &format!("mutual_auth_port = {closed}"),
        ),
    )
    .await;
    assert_eq!(
        problem_code(&gw).await,
        (502, "upstream_unavailable".into())
    );

    let gw = acme_with(
        &sim,
        (
            "login_url = \"{login_url}\"",
            &format!("login_url = \"https://127.0.0.1:{closed}\""),
        ),
    )
    .await;
    assert_eq!(problem_code(&gw).await, (503, "session_unavailable".into()));

    let gw = acme_with(
        &sim,
        ("[tenant.auth]", "login_budget_per_hour = 1\n[tenant.auth]"),
    )
    .await;
    assert_eq!(problem_code(&gw).await.0, 200);
    admin_post(&sim, "/sessions/expire").await;
    let reply = gw
        .call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await;
    reply.assert_problem(503, "login_rate_limited");
    assert!(reply.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saturated_tenant_answers_503_with_retry_after() {
    let sim = start_sim().await;
    // No queue: a second request is refused at once.
    let tenant = tenant_with(ACME, "max_concurrency = 1\nmax_queued = 0");
    let tenants = with_workflow(&tenant, "spin", "spin_forever.wasm", "timeout_ms = 4000");
    let gw = TestGateway::start(&sim, &tenants, &[("spin_forever.wasm", SPIN_FOREVER)]).await;
    let busy = gw.spawn_get(
        "/tenants/acme/workflows/spin",
        "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
    );
    // Wait until the first request holds the one slot.
    gw.wait_for_metric("twoway_tenant_slots_in_use{tenant=\"acme\"} 1")
        .await;
    let refused = gw
        .call("GET", "/tenants/acme/workflows/spin", ACME_KEY, "")
        .await;
    refused.assert_problem(503, "overloaded");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(busy.await.unwrap().json()["code"], "plugin_timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_reload_applies_a_valid_config_and_refuses_an_invalid_one() {
    let sim = start_sim().await;
    let plugins = [
        ("get_user_info.wasm", GET_USER_INFO),
        ("version_a.wasm", VERSION_A),
    ];
    let gw = TestGateway::start(
        &sim,
        &with_workflow(ACME, "user", "get_user_info.wasm", ""),
        &plugins,
    )
    .await;
    assert_eq!(
        gw.call("GET", "/tenants/acme/workflows/v", ACME_KEY, "")
            .await
            .status,
        404
    );

    let grown = with_workflow(ACME, "user", "get_user_info.wasm", "")
        + "[[tenant.workflow]]\nname = \"v\"\nplugin = \"version_a.wasm\"\n";
    gw.write_config("", &grown);
    let mut served = false;
    for _ in 0..200 {
        if gw
            .call("GET", "/tenants/acme/workflows/v", ACME_KEY, "")
            .await
            .status
            == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(served, "the watcher applied the new config");

    std::fs::write(
        gw.config_path(),
        "[[tenant]]\nname = \"broken\"\nlogin_url = 42\n",
    )
    .unwrap();
    let reload = gw.reload().await;
    assert_eq!(reload.status, 400, "{}", reload.body);
    assert!(
        reload.body.contains("login_url"),
        "says what is wrong: {}",
        reload.body
    );
    let still = gw
        .call("GET", "/tenants/acme/workflows/v", ACME_KEY, "")
        .await;
    assert_eq!(still.status, 200, "the old config keeps serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_certificate_is_used_without_failing_a_request() {
    // Acme registers both its RSA and its ECDSA certificates.
    let sim = start_sim_with(|c| {
        let acme = c.orgs.iter_mut().find(|o| o.name == "Acme").unwrap();
        acme.certificate_files.push(pki().client_ec.clone());
    })
    .await;
    let tenant = ACME.replace("{pki}/fullcert.pem", "identity.pem");
    let tenants = with_workflow(&tenant, "user", "get_user_info.wasm", "");
    let gw = {
        // The identity file lives in the gateway's directory so it can be rotated.
        let gw = TestGateway::with_user_workflow(&sim, "", ACME).await;
        std::fs::copy(&pki().fullcert, gw.dir.path().join("identity.pem")).unwrap();
        gw.write_config("", &tenants);
        let reload = gw.reload().await;
        assert_eq!(reload.status, 200, "{}", reload.body);
        gw
    };
    let fingerprint = |status: serde_json::Value| {
        status["sessions"][0]["certificate_sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let before = fingerprint(gw.admin_get("/admin/sessions").await.json());

    let url = gw.url.clone();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(async move {
        let mut n = 0;
        while !*stop.borrow() {
            let reply = http(
                "GET",
                &format!("{url}/tenants/acme/workflows/user"),
                &[(
                    "authorization",
                    "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
                )],
                "",
            )
            .await;
            assert_eq!(
                reply.status, 200,
                "no request fails during rotation: {}",
                reply.body
            );
            n += 1;
        }
        n
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::copy(&pki().fullcert_ec, gw.dir.path().join("identity.pem")).unwrap();
    let reload = gw.reload().await;
    assert_eq!(reload.status, 200, "{}", reload.body);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(true).unwrap();
    assert!(load.await.expect("no failed request") > 0);
    let after = fingerprint(gw.admin_get("/admin/sessions").await.json());
    assert_ne!(before, after, "the rotated certificate is in use");
    let mutual_before = twoway_tests::admin_get(&sim, "/counters").await["handshakes"]["mutual"]
        .as_u64()
        .unwrap();
    let reply = gw
        .call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        mutual_before >= 2,
        "new connections were made with the new certificate"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_answers_every_accepted_request() {
    let sim = start_sim().await;
    let tenants = with_workflow(ACME, "slow", "spin_forever.wasm", "timeout_ms = 3000");
    let gw = TestGateway::start(&sim, &tenants, &[("spin_forever.wasm", SPIN_FOREVER)]).await;
    let url = gw.url.clone();
    let requests: Vec<_> = (0..10)
        .map(|_| {
            gw.spawn_get(
                "/tenants/acme/workflows/slow",
                "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            )
        })
        .collect();
    // Shut down once the gateway has accepted all ten (they are in flight).
    gw.wait_for_metric("twoway_requests_in_flight 10").await;
    gw.shutdown().await;
    for request in requests {
        let reply = request
            .await
            .expect("every accepted request gets its answer");
        reply.assert_problem(504, "plugin_timeout");
    }
    assert!(
        tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
            .await
            .is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints_report_state_and_never_secrets() {
    let sim = start_sim().await;
    let gw = two_tenants(&sim).await;
    assert_eq!(
        gw.call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
            .await
            .status,
        200
    );
    assert_eq!(gw.admin_get("/healthz").await.status, 200);
    assert_eq!(gw.admin_get("/readyz").await.status, 200);
    let plugins = gw.admin_get("/admin/plugins").await.json();
    assert_eq!(plugins["plugins"].as_array().unwrap().len(), 2);
    let sessions = gw.admin_get("/admin/sessions").await;
    assert!(
        sessions.body.contains("\"state\":\"active\""),
        "{}",
        sessions.body
    );
    let metrics = gw.admin_get("/metrics").await.body;
    assert!(
        metrics
            .contains("twoway_requests_total{tenant=\"acme\",workflow=\"user\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("twoway_logins_total{tenant=\"acme\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("twoway_client_certificate_expiry_timestamp_seconds{tenant=\"acme\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("twoway_api_requests_used{tenant=\"acme\"} 1"),
        "{metrics}"
    );
    for text in [&sessions.body, &metrics, &plugins.to_string()] {
        for secret in [
            "00D5g000004Acme!",
            "acme-password",
            "ACMETOKEN",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            "globex-client-secret",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

/// A gateway whose callers' listener speaks TLS and verifies callers
/// against `client_ca`, serving Acme with `callers` (a TOML line) instead of
/// API keys; and the HTTPS URL of its workflow `user`.
async fn tls_gateway(
    sim: &twoway_sim::Sim,
    client_ca: &str,
    callers: &str,
) -> (TestGateway, String) {
    let tenant = ACME.replace("api_keys_file = \"acme-keys.txt\"", callers);
    let gw = TestGateway::with_user_workflow(sim, &server_tls(client_ca), &tenant).await;
    let url = format!("https://{}/tenants/acme/workflows/user", gw.addr());
    (gw, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_bound_to_caller_certificates_accepts_only_those() {
    let sim = start_sim().await;
    let leaf = twoway::identity::load(&twoway::identity::IdentitySource::Pem {
        path: pki().fullcert.clone(),
    })
    .unwrap();
    let callers = format!(
        "callers = {{ fingerprints = [\"{}\"] }}",
        leaf.leaf.sha256_fingerprint
    );
    let (_gw, url) = tls_gateway(&sim, "{pki}/root-ca.pem", &callers).await;
    let ok = twoway_tests::Client::with_identity(&pki().fullcert)
        .send("GET", &url, &[], "")
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    for client in [
        twoway_tests::Client::anonymous(),
        twoway_tests::Client::with_identity(&pki().fullcert_b),
    ] {
        let refused = client.send("GET", &url, &[], "").await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(
            refused.body.contains("client certificates"),
            "{}",
            refused.body
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = start_sim().await;
    let gw = TestGateway::with_user_workflow(&sim, "header_timeout_ms = 300", ACME).await;
    let mut tcp = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    tcp.write_all(b"GET /tenants/acme/workflows/user HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the gateway closed the connection instead of waiting forever"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    // Everyone else is still served.
    assert_eq!(
        gw.call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_with_its_own_caller_ca_refuses_callers_of_another_ca() {
    let sim = start_sim().await;
    // The listener trusts two CAs; Acme accepts only callers from the test root.
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = bundle_dir.path().join("callers.pem");
    let mut text = std::fs::read_to_string(&pki().root_ca).unwrap();
    text.push_str(&std::fs::read_to_string(&pki().untrusted_ca).unwrap());
    std::fs::write(&bundle, text).unwrap();
    let callers = "callers = { ca = \"{pki}/root-ca.pem\" }";
    let (_gw, url) = tls_gateway(&sim, &bundle.display().to_string(), callers).await;
    let ok = twoway_tests::Client::with_identity(&pki().fullcert)
        .send("GET", &url, &[], "")
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let other_ca = twoway_tests::Client::with_identity(&pki().untrusted_client_fullcert)
        .send("GET", &url, &[], "")
        .await;
    assert_eq!(other_ca.status, 401, "{}", other_ca.body);
}
