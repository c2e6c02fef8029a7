//! The error contract end to end (issue 13): a workflow's own
//! `workflow-error` and `upstream-error` cases each give exactly their
//! problem code (no side channel decides), and an upstream error the host
//! produced and the workflow passed on keeps the host's code (a SOAP
//! answer the host could not read for it too), over real sockets, TLS and
//! the `error-cases` test plugin.

use twoway_tests::gateway::{ACME, Reply, TestGateway};
use twoway_tests::plugins::ERROR_CASES;
use twoway_tests::start_sim;

const ACME_KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");

fn tenants(tenant: &str) -> String {
    format!("{tenant}[[tenant.workflow]]\nname = \"errors\"\nplugin = \"error_cases.wasm\"\n")
}

async fn gateway(sim: &twoway_sim::Sim, server_extra: &str, tenant: &str) -> TestGateway {
    TestGateway::start_with(
        sim,
        server_extra,
        &tenants(tenant),
        &[("error_cases.wasm", ERROR_CASES)],
    )
    .await
}

async fn call(gw: &TestGateway, path: &str) -> Reply {
    gw.call(
        "GET",
        &format!("/tenants/acme/workflows/errors/{path}"),
        ACME_KEY,
        "",
    )
    .await
}

/// Asserts a problem answer with `status` and `code`, and returns it.
/// A problem answer of the `errors` workflow (`what` names the case).
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, code: &str, what: &str) -> serde_json::Value {
    let problem = reply.assert_problem(status, code);
    assert_eq!(problem["workflow"], "errors", "{what}");
    problem
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_a_workflow_builds_keep_their_codes() {
    let sim = start_sim().await;
    let gw = gateway(&sim, "", ACME).await;

    let own = [
        ("own/bad-request", 400, "bad_request"),
        ("own/not-found", 404, "not_found"),
        ("own/internal", 500, "workflow_error"),
        ("own/upstream-fault", 502, "upstream_fault"),
    ];
    for (path, status, code) in own {
        let problem = assert_problem(&call(&gw, path).await, status, code, path);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("built by the workflow")),
            "{path}: the workflow's own detail: {problem}"
        );
    }

    // (upstream-error case, status, code, Retry-After)
    let upstream = [
        ("invalid-request", 500, "invalid_request", None),
        ("invalid-login", 502, "invalid_login", None),
        ("login-rate-limited", 503, "login_rate_limited", Some("7")),
        ("session-unavailable", 503, "session_unavailable", Some("1")),
        (
            "mutual-auth-failed",
            502,
            "mutual_authentication_failed",
            None,
        ),
        (
            "certificate-rejected",
            502,
            "client_certificate_rejected",
            None,
        ),
        ("api-limit-exceeded", 429, "api_limit_exceeded", Some("30")),
        ("upstream-fault", 502, "upstream_fault", None),
        ("refused", 502, "upstream_refused", None),
        ("timeout", 504, "upstream_timeout", None),
        ("too-large", 502, "upstream_too_large", None),
        ("unavailable", 502, "upstream_unavailable", None),
    ];
    for (case, status, code, retry_after) in upstream {
        let reply = call(&gw, &format!("own/upstream/{case}")).await;
        assert_problem(&reply, status, code, case);
        assert_eq!(reply.header("retry-after"), retry_after, "{case}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_errors_passed_on_keep_the_host_code() {
    let sim = start_sim().await;

    // A working tenant: the API's answer comes through; a path leaving its
    // base is refused by the host before it leaves.
    let gw = gateway(&sim, "", ACME).await;
    let ok = call(&gw, "pass/limits").await;
    assert_ne!(
        ok.header("content-type"),
        Some("application/problem+json"),
        "{}",
        ok.body
    );
    let refused = call(&gw, "pass/..%2F..%2F..%2Fsecret").await;
    assert_problem(&refused, 500, "invalid_request", "path leaving its base");
    gw.shutdown().await;

    // Globex's certificate for Acme: the API refuses it.
    let gw = gateway(&sim, "", &ACME.replace("fullcert.pem", "fullcert-b.pem")).await;
    let reply = call(&gw, "pass/limits").await;
    assert_problem(
        &reply,
        502,
        "client_certificate_rejected",
        "wrong certificate",
    );
    gw.shutdown().await;

    // No login service: 503 with a wait.
    let closed = twoway_tests::free_port();
    let gw = gateway(
        &sim,
        "",
        &ACME.replace(
            "login_url = \"{login_url}\"",
            &format!("login_url = \"https://127.0.0.1:{closed}\""),
        ),
    )
    .await;
    let reply = call(&gw, "pass/limits").await;
    assert_problem(&reply, 503, "session_unavailable", "no login service");
    assert!(reply.header("retry-after").is_some(), "{}", reply.body);
    gw.shutdown().await;

    // An API port that accepts but never answers the handshake: a timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let gw = gateway(
        &sim,
        "[upstream]\nhandshake_timeout_ms = 300\n",
        &ACME.replace(
            "mutual_auth_port = {mutual_port}",
            &format!("mutual_auth_port = {port}"),
        ),
    )
    .await;
    let reply = call(&gw, "pass/limits").await;
    assert_problem(&reply, 504, "upstream_timeout", "silent API port");
    gw.shutdown().await;
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_api_limit_is_429_with_retry_after() {
    let sim = twoway_tests::start_sim_with(|c| c.limits.api_requests_per_day = 1).await;
    let gw = gateway(&sim, "", ACME).await;
    let first = call(&gw, "pass/").await;
    assert_eq!(first.status, 200, "{}", first.body);
    let spent = call(&gw, "pass/").await;
    let problem = assert_problem(&spent, 429, "api_limit_exceeded", "limit spent");
    assert_eq!(spent.header("retry-after"), Some("60"));
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("REQUEST_LIMIT_EXCEEDED")),
        "{problem}"
    );
    gw.shutdown().await;
}

/// The `errors` workflow's reading of `body` as a SOAP answer, by the host
/// (WIT `soap.results`).
async fn soap_results(gw: &TestGateway, body: &str) -> Reply {
    gw.call(
        "POST",
        "/tenants/acme/workflows/errors/soap-results",
        ACME_KEY,
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_answers_the_host_reads_for_a_workflow_keep_their_codes() {
    use twoway_testkit::hostile;
    let sim = start_sim().await;
    let gw = gateway(&sim, "", ACME).await;

    let two = hostile::envelope(
        "",
        "<createResponse><result><id>1</id><success>true</success></result>\
         <result><id>2</id><success>true</success><created>true</created></result></createResponse>",
    );
    let reply = soap_results(&gw, &two).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json(), serde_json::json!({"results": 2, "fields": 5}));

    // Over 64 KiB: read on the blocking pool, the same answer.
    let large = hostile::query_response(300 * 1024);
    assert!(large.len() > 64 * 1024);
    let reply = soap_results(&gw, &large).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["results"], 1);
    assert!(
        reply.json()["fields"].as_u64().unwrap() > 1000,
        "{}",
        reply.body
    );

    let doctype = r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
    let problem = assert_problem(
        &soap_results(&gw, doctype).await,
        502,
        "upstream_fault",
        "DOCTYPE",
    );
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("INVALID_XML") && detail.contains("DOCTYPE"),
        "{problem}"
    );
    assert_problem(
        &soap_results(&gw, "<a><b></a>").await,
        502,
        "upstream_fault",
        "malformed",
    );
    let deep = hostile::envelope("", &format!("{}{}", "<d>".repeat(300), "</d>".repeat(300)));
    let problem = assert_problem(
        &soap_results(&gw, &deep).await,
        502,
        "upstream_refused",
        "too deep",
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("deeper than 256")),
        "{problem}"
    );
    gw.shutdown().await;
}
