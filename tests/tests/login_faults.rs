//! Logins that go wrong, end to end: a login service that accepts TLS and
//! never answers, one that refuses the credentials slowly, and one that is
//! down (`SSO_SERVICE_DOWN`, HTTP 503). Each login runs as its own task, is
//! recorded whatever its callers do, and is backed off (or stopped) so that
//! callers never cause more than one login per backoff window.
//!
//! Timing is only ever asserted as a lower bound (the backoff window), so a
//! loaded machine can make these tests slower but not wrong.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use twoway_tests::fake_login::{Behaviour, FakeLogin};
use twoway_tests::gateway::{Reply, TestGateway};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{partner_fault, pki, start_sim};

const KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
/// The shortest first backoff window: 1 s with jitter in [0.5, 1].
const FIRST_WINDOW: Duration = Duration::from_millis(500);
/// How long a test polls for something that must happen.
const DEADLINE: Duration = Duration::from_secs(60);

/// Tenant `acme` logging in at `login_url` (which it trusts through the test
/// root), with one get-user-info workflow `user`.
fn tenant(login_url: &str, login_timeout_ms: u64, workflow_timeout_ms: u64) -> String {
    format!(
        r#"
[[tenant]]
name = "acme"
api_keys_file = "acme-keys.txt"
login_url = "{login_url}"
extra_roots = ["{{pki}}/root-ca.pem"]
login_timeout_ms = {login_timeout_ms}
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_file = "acme-sf-pw.txt"
[[tenant.workflow]]
name = "user"
plugin = "get_user_info.wasm"
timeout_ms = {workflow_timeout_ms}
"#
    )
}

async fn gateway(tenants: &str) -> TestGateway {
    // The simulator only fills the helper's placeholders; logins go to the fake.
    let sim = start_sim().await;
    TestGateway::start(&sim, tenants, &[("get_user_info.wasm", GET_USER_INFO)]).await
}

async fn call(gw: &TestGateway) -> Reply {
    gw.call("GET", "/tenants/acme/workflows/user", KEY, "")
        .await
}

/// The tenant's entry in `/admin/sessions`.
async fn session_status(gw: &TestGateway) -> serde_json::Value {
    let reply = gw.admin_get("/admin/sessions").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["sessions"][0].clone()
}

/// Asserts a quick 503 `session_unavailable` with a Retry-After.
fn assert_unavailable(reply: &Reply) {
    reply.assert_problem(503, "session_unavailable");
    assert!(reply.retry_after() >= 1);
}

/// Calls until `done` holds, with a pause between calls.
async fn call_until(gw: &TestGateway, mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        let reply = call(gw).await;
        assert_ne!(reply.status, 200, "{}", reply.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_login_service_gets_one_connection_per_backoff_window() {
    let fake = FakeLogin::start(Behaviour::Hang).await;
    let gw = gateway(&tenant(&fake.url, 300, 5000)).await;

    // The first caller waits for the login, which times out after 300 ms.
    let first = call(&gw).await;
    let failed = Instant::now();
    assert_unavailable(&first);
    assert!(
        first.body.contains("login_timeout_ms"),
        "the caller learns why: {}",
        first.body
    );
    assert_eq!(fake.connections().len(), 1);

    // A burst right after: refused from the backoff, no new connection.
    let replies = gw
        .burst(
            "/tenants/acme/workflows/user",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            8,
        )
        .await;
    let elapsed = failed.elapsed();
    for reply in &replies {
        assert_unavailable(reply);
    }
    let connections = fake.connections().len();
    if elapsed < FIRST_WINDOW {
        assert_eq!(connections, 1, "8 calls within the first backoff window");
    }
    // However slow this machine was: each further connection needs a window.
    let windows = 1 + (elapsed.as_millis() / FIRST_WINDOW.as_millis()) as usize;
    assert!(
        connections <= windows,
        "{connections} connections in {elapsed:?}"
    );

    let status = session_status(&gw).await;
    assert!(status["login_failures"].as_u64().unwrap() >= 1, "{status}");
    let last_error = status["last_error"].as_str().expect("last_error");
    assert!(
        last_error.contains("login_timeout_ms (300 ms)"),
        "{last_error}"
    );
    assert!(!last_error.contains("acme-password"), "{last_error}");
    assert_ne!(status["state"], "stopped", "a timeout does not stop logins");
    let metrics = gw.admin_get("/metrics").await.body;
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("login_failures") && l.contains("acme") && !l.ends_with(" 0")),
        "{metrics}"
    );

    // After the window a caller starts the next attempt, never before it.
    call_until(&gw, || fake.connections().len() >= 2, "a second attempt").await;
    let connections = fake.connections();
    assert!(
        connections[1] - connections[0] >= Duration::from_millis(300) + FIRST_WINDOW,
        "the second connection came {:?} after the first",
        connections[1] - connections[0]
    );

    // While backing off, /admin/sessions says so and when the next attempt is.
    let start = Instant::now();
    loop {
        let status = session_status(&gw).await;
        if status["state"] == "backing_off" {
            let next = status["next_attempt_in_ms"]
                .as_u64()
                .expect("next_attempt_in_ms");
            assert!(next <= 300_000, "{status}");
            assert!(status["login_failures"].as_u64().unwrap() >= 2, "{status}");
            break;
        }
        assert!(start.elapsed() < DEADLINE, "never backing_off: {status}");
        let _ = call(&gw).await;
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_invalid_login_is_recorded_after_its_caller_gave_up_and_stops_logins() {
    let fault = partner_fault(
        "INVALID_LOGIN",
        "LoginFault",
        "Invalid username, password, security token; or user locked out.",
    );
    let fake = FakeLogin::start(Behaviour::Answer {
        delay: Duration::from_millis(1500),
        status: 500,
        body: fault,
    })
    .await;
    // The caller's workflow gives up after 300 ms; the login takes 1.5 s.
    let gw = gateway(&tenant(&fake.url, 20_000, 300)).await;

    let first = call(&gw).await;
    first.assert_problem(504, "plugin_timeout");

    // The login goes on without its caller, and its refusal is recorded.
    let start = Instant::now();
    let status = loop {
        let status = session_status(&gw).await;
        if status["state"] == "stopped" {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "never stopped: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["login_failures"], 1, "{status}");
    let last_error = status["last_error"].as_str().expect("last_error");
    assert!(last_error.contains("INVALID_LOGIN"), "{last_error}");
    assert!(!last_error.contains("acme-password"), "{last_error}");

    // No more logins until the config changes: callers get invalid_login.
    for _ in 0..5 {
        let reply = call(&gw).await;
        reply.assert_problem(502, "invalid_login");
        assert!(reply.header("retry-after").is_none());
    }
    assert_eq!(fake.requests().len(), 1, "exactly one login attempt");
    assert_eq!(fake.connections().len(), 1);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_service_that_is_down_is_retried_after_the_backoff_window() {
    let sso_down = partner_fault(
        "SSO_SERVICE_DOWN",
        "LoginFault",
        "The single sign-on service is down.",
    );
    for (status, body) in [
        (500, sso_down),
        (503, "<html>Service Unavailable</html>".to_string()),
    ] {
        let fake = FakeLogin::start(Behaviour::Answer {
            delay: Duration::ZERO,
            status,
            body,
        })
        .await;
        let gw = gateway(&tenant(&fake.url, 5_000, 5_000)).await;

        let first = call(&gw).await;
        assert_unavailable(&first);
        assert_eq!(fake.requests().len(), 1, "HTTP {status}");

        call_until(&gw, || fake.requests().len() >= 2, "a second attempt").await;
        let (requests, answers) = (fake.requests(), fake.answers());
        assert!(
            requests[1] - answers[0] >= FIRST_WINDOW,
            "HTTP {status}: the second attempt came {:?} after the first answer",
            requests[1] - answers[0]
        );
        let status_json = session_status(&gw).await;
        assert_ne!(status_json["state"], "stopped", "{status_json}");
        assert!(
            status_json["login_failures"].as_u64().unwrap() >= 1,
            "{status_json}"
        );
        gw.shutdown().await;
    }
}

#[test]
fn login_timeout_ms_is_checked() {
    let env = |name: &str| (name == "PW").then(|| "pw".to_string());
    let text = |value: &str| {
        format!(
            "[[tenant]]\nname = \"acme\"\nlogin_timeout_ms = {value}\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"u\"\npassword_env = \"PW\"\n"
        )
    };
    for bad in ["0", "600001"] {
        let problems =
            twoway::config::from_toml(&text(bad), Path::new("/"), &env).expect_err("refused");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("tenant[acme].login_timeout_ms")),
            "{bad}: {problems:?}"
        );
    }
    let config = twoway::config::from_toml(&text("1500"), Path::new("/"), &env).expect("valid");
    assert_eq!(config.tenants[0].login_timeout, Duration::from_millis(1500));
    let default = twoway::config::from_toml(
        &text("8000").replace("login_timeout_ms = 8000\n", ""),
        Path::new("/"),
        &env,
    )
    .expect("valid");
    assert!(default.tenants[0].login_timeout < default.plugins.limits.timeout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_for_a_replaced_config_never_clobbers_the_new_session() {
    use twoway::session::{MemoryStore, SessionStore};
    use twoway::upstream::{Outbound, TenantUpstream};

    let sim = start_sim().await;
    let env = |name: &str| (name == "PW").then(|| twoway_tests::ANALYST_PASSWORD.to_string());
    let text = format!(
        "[[tenant]]\nname = \"t\"\nlogin_url = \"{}\"\nextra_roots = [\"{}\"]\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"{}\"\npassword_env = \"PW\"\n",
        sim.endpoints().login_url(),
        pki().root_ca.display(),
        twoway_tests::ANALYST_USER,
    );
    let config = twoway::config::from_toml(&text, Path::new("/"), &env).expect("config");
    let tenant = twoway::gateway::upstream_settings(&config.tenants[0], &config.upstream);
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::default());
    let query = Outbound {
        api: twoway::salesforce::Api::Rest,
        method: http::Method::GET,
        path: "query?q=SELECT+Id+FROM+Account".into(),
        headers: http::HeaderMap::new(),
        body: Bytes::new(),
    };
    // The old config's tenant logs in; then a new manager (a new epoch, as
    // after a reload that changed the login settings) replaces it.
    let old =
        Arc::new(TenantUpstream::with_store(tenant.clone(), store.clone()).expect("old upstream"));
    assert_eq!(
        old.send(query.clone()).await.expect("old query").status,
        200
    );
    let new = Arc::new(TenantUpstream::with_store(tenant, store.clone()).expect("new upstream"));
    assert_eq!(
        new.send(query.clone()).await.expect("new query").status,
        200
    );
    let current = store.current("t").expect("the new session").generation;

    // A late login of the old manager (a request of the old generation
    // still in flight) does not replace the new manager's session...
    assert_eq!(
        old.send(query.clone())
            .await
            .expect("late old query")
            .status,
        200
    );
    assert_eq!(old.sessions().logins(), 2);
    assert_eq!(store.current("t").expect("kept").generation, current);
    // ...so the new manager keeps using its own, without another login.
    assert_eq!(
        new.send(query.clone()).await.expect("new query").status,
        200
    );
    assert_eq!(new.sessions().logins(), 1);
    assert_eq!(new.status().state, "active");
}
