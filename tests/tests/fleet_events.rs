//! What one instance of a fleet learns from the others through Redis
//! without asking it per request: a session replaced on one instance is
//! dropped by the others (published), and a login failure on one instance
//! backs off every instance (shared), so the login service sees one attempt
//! per backoff window for the whole fleet. Published messages hold no
//! secret.
//!
//! Timing is only asserted as a lower bound (the backoff window), so a
//! loaded machine can make these tests slower but not wrong.

use std::time::{Duration, Instant};

use twoway_tests::fake_login::{Behaviour, FakeLogin};
use twoway_tests::fleet::{KEY, PATH, SECRETS, USER_WORKFLOW, gateway, logins};
use twoway_tests::gateway::{ACME, TestGateway};
use twoway_tests::redis_server::{ENCRYPTION_KEY, RedisServer};
use twoway_tests::{admin_post, partner_fault, start_sim};

/// How long a test polls for something that must happen.
const DEADLINE: Duration = Duration::from_secs(60);
/// The shortest first backoff window: 1 s with jitter in [0.5, 1].
const FIRST_WINDOW: Duration = Duration::from_millis(500);

/// The tenant's entry in the gateway's `/admin/sessions`.
async fn session_status(gw: &TestGateway) -> serde_json::Value {
    let reply = gw.admin_get("/admin/sessions").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["sessions"][0].clone()
}

/// Polls `gw`'s session state until it is not `state` any more.
async fn leaves_state(gw: &TestGateway, state: &str, what: &str) -> serde_json::Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = session_status(gw).await;
        if status["state"] != state {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: still {state}: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_replaced_on_one_instance_is_dropped_by_the_other_before_it_is_rejected_there() {
    let redis = RedisServer::start().await;
    let messages = redis.messages().await;
    let sim = start_sim().await;
    let config = format!("{}{ACME}{}", redis.store_section(""), USER_WORKFLOW);
    let a = gateway(&sim, &config).await;
    let b = gateway(&sim, &config).await;

    for gw in [&a, &b] {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(logins(&sim).await, 1, "b uses a's session");
    assert_eq!(session_status(&b).await["state"], "active");

    // The API drops the session; only a sees it (INVALID_SESSION_ID) and logs
    // in again. b has sent nothing since, yet drops its copy (published).
    let expired = admin_post(&sim, "/sessions/expire").await;
    assert_eq!(expired["expired"], 1, "one session for both instances");
    let reply = a.call("GET", PATH, KEY, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(logins(&sim).await, 2);
    let status = leaves_state(&b, "active", "b never learned of a's new session").await;
    assert_eq!(status["state"], "none", "{status}");

    // b's next request takes a's new session: no login, no failure, and no
    // rejected request made b log in (it never saw INVALID_SESSION_ID).
    let reply = b.call("GET", PATH, KEY, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(logins(&sim).await, 2, "two logins for the whole fleet");
    let status = session_status(&b).await;
    assert_eq!(status["state"], "active", "{status}");
    assert_eq!(
        (status["logins"].as_u64(), status["login_failures"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );

    // The messages name key bases and generations, never a secret.
    let seen = messages.all();
    assert!(
        seen.iter().any(|m| m.contains(":events new "))
            && seen.iter().any(|m| m.contains(":events drop ")),
        "a new session and a rejected one were published: {seen:?}"
    );
    for message in &seen {
        for secret in SECRETS {
            assert!(!message.contains(secret), "{secret:?} published: {message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_failure_on_one_instance_backs_off_every_instance() {
    let redis = RedisServer::start().await;
    let sso_down = partner_fault(
        "SSO_SERVICE_DOWN",
        "LoginFault",
        "The single sign-on service is down.",
    );
    let fake = FakeLogin::start(Behaviour::Answer {
        delay: Duration::ZERO,
        status: 500,
        body: sso_down,
    })
    .await;
    let sim = start_sim().await;
    let tenant = format!(
        r#"
[[tenant]]
name = "acme"
api_keys_file = "acme-keys.txt"
login_url = "{}"
extra_roots = ["{{pki}}/root-ca.pem"]
login_timeout_ms = 5000
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_file = "acme-sf-pw.txt"
"#,
        fake.url
    );
    let config = format!("{}{tenant}{}", redis.store_section(""), USER_WORKFLOW);
    let a = gateway(&sim, &config).await;
    let b = gateway(&sim, &config).await;

    // Callers on both instances until the login service has seen three
    // attempts and b has been held back by a failure it did not see itself;
    // throughout, one attempt per backoff window for the fleet, not one per
    // instance.
    let deadline = Instant::now() + DEADLINE;
    let mut held_back = 0;
    while fake.requests().len() < 3 || held_back == 0 {
        assert!(
            Instant::now() < deadline,
            "attempts: {}, b held back by the fleet: {held_back}",
            fake.requests().len()
        );
        for (name, gw) in [("a", &a), ("b", &b)] {
            let reply = gw.call("GET", PATH, KEY, "").await;
            assert_eq!(reply.status, 503, "{name}: {}", reply.body);
            assert_eq!(
                reply.json()["code"],
                "session_unavailable",
                "{}",
                reply.body
            );
            if name == "b" && reply.body.contains("seen by an instance of the fleet") {
                held_back += 1;
            }
            let attempts = fake.requests();
            for pair in attempts.windows(2) {
                let gap = pair[1] - pair[0];
                assert!(
                    gap >= FIRST_WINDOW,
                    "two login attempts {gap:?} apart: the instances did not share the backoff ({} attempts)",
                    attempts.len()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What the fleet shares about failed logins (the backoff while it
    // lasts, the budget window) holds no secret.
    let contents = redis.dump().await;
    for (key, value) in &contents {
        for secret in [
            "acme-password",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            ENCRYPTION_KEY,
        ] {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{secret:?} found in Redis key {key}"
            );
        }
    }
}
