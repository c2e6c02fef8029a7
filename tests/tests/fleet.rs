//! A fleet of gateways sharing one real redis-server (`[store] kind =
//! "redis"`) against one simulator: one login for a cold stampede spread
//! over three instances, one re-login when sessions expire under load, one
//! budget and one stop after refused credentials fleet-wide, no secret in
//! Redis, and no failed request when Redis dies mid-load (then one session
//! again once it is back).

use std::sync::Arc;
use std::time::Duration;

use twoway_sim::Sim;
use twoway_tests::fleet::{KEY, PATH, SECRETS, USER_WORKFLOW, gateway};
use twoway_tests::gateway::{ACME, TestGateway};
use twoway_tests::redis_server::{RedisServer, store_degraded, store_fallback_logins};
use twoway_tests::{admin_get, admin_post, start_sim};

/// Tenant acme with the get_user_info workflow, room for a stampede, and
/// `tenant_extra` keys.
fn acme(store: &str, tenant_extra: &str) -> String {
    let tenant = ACME.replace(
        "[tenant.auth]",
        &format!("max_concurrency = 1000\nmax_queued = 1000\n{tenant_extra}\n[tenant.auth]"),
    );
    format!("{store}{tenant}{USER_WORKFLOW}")
}

async fn fleet(sim: &Sim, tenants: &str) -> Vec<Arc<TestGateway>> {
    let mut gateways = Vec::new();
    for _ in 0..3 {
        gateways.push(Arc::new(gateway(sim, tenants).await));
    }
    gateways
}

async fn counter(sim: &Sim, name: &str) -> u64 {
    admin_get(sim, "/counters").await[name]
        .as_u64()
        .unwrap_or_else(|| panic!("counter {name}"))
}

/// Polls until the simulator has served `more` API requests beyond now.
async fn let_run(sim: &Sim, more: u64) {
    let target = counter(sim, "api_requests").await + more;
    while counter(sim, "api_requests").await < target {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Callers spread over the fleet, each calling until told to stop (and at
/// least 3 times); each returns how many of its requests succeeded, and
/// panics with the answer of one that did not.
fn load(
    gateways: &[Arc<TestGateway>],
    per_gateway: usize,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<u32>>,
) {
    let (go_on, stop) = tokio::sync::watch::channel(true);
    let mut workers = Vec::new();
    for gw in gateways {
        for _ in 0..per_gateway {
            let gw = gw.clone();
            let stop = stop.clone();
            workers.push(tokio::spawn(async move {
                let mut ok = 0u32;
                while *stop.borrow() || ok < 3 {
                    let reply = gw.call("GET", PATH, KEY, "").await;
                    assert_eq!(reply.status, 200, "a caller failed: {}", reply.body);
                    ok += 1;
                }
                ok
            }));
        }
    }
    (go_on, workers)
}

async fn finish(
    go_on: tokio::sync::watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<u32>>,
) {
    go_on.send(false).expect("workers listen");
    for worker in workers {
        assert!(worker.await.expect("no request failed") >= 3);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_stampede_over_three_instances_makes_one_login_and_leaves_no_secret_in_redis() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gateways = fleet(&sim, &acme(&redis.store_section(""), "")).await;
    let callers: Vec<_> = (0..1000)
        .map(|i| {
            let gw = gateways[i % 3].clone();
            tokio::spawn(async move { gw.call("GET", PATH, KEY, "").await })
        })
        .collect();
    for caller in callers {
        let reply = caller.await.expect("caller");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(counter(&sim, "logins").await, 1, "one login for the fleet");

    // Secrets canary: no session id, password, token, API key or the
    // encryption key itself in any key or value.
    let contents = redis.dump().await;
    assert!(
        contents.iter().any(|(k, _)| k.ends_with(":session")),
        "the session is shared through Redis: {contents:?}"
    );
    for (key, value) in &contents {
        for secret in SECRETS {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{secret:?} found in Redis key {key}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expiring_under_load_cause_one_relogin_for_the_fleet() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gateways = fleet(&sim, &acme(&redis.store_section(""), "")).await;
    let (go_on, workers) = load(&gateways, 8);
    let_run(&sim, 150).await;
    let expired = admin_post(&sim, "/sessions/expire").await;
    assert_eq!(expired["expired"], 1, "one session in the whole fleet");
    let_run(&sim, 150).await;
    finish(go_on, workers).await;
    assert_eq!(counter(&sim, "logins").await, 2, "one login, one re-login");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_budget_holds_across_the_fleet() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gateways = fleet(
        &sim,
        &acme(&redis.store_section(""), "login_budget_per_hour = 2"),
    )
    .await;
    let mut limited = 0;
    for round in 0..4 {
        for gw in &gateways {
            let reply = gw.call("GET", PATH, KEY, "").await;
            match reply.status {
                200 => {}
                _ => {
                    assert_eq!(reply.json()["code"], "login_rate_limited", "{}", reply.body);
                    assert!(round >= 2, "the budget is 2 logins: round {round}");
                    limited += 1;
                }
            }
        }
        admin_post(&sim, "/sessions/expire").await;
    }
    assert_eq!(
        counter(&sim, "logins").await,
        2,
        "2 logins per hour, fleet-wide"
    );
    assert!(limited >= 3, "callers were told the budget is spent");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_on_one_instance_stop_every_instance() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let wrong = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(wrong.path(), "not-the-password").expect("write");
    let tenants = acme(&redis.store_section(""), "").replace(
        "password_file = \"acme-sf-pw.txt\"",
        &format!("password_file = \"{}\"", wrong.path().display()),
    );
    let gateways = fleet(&sim, &tenants).await;
    for gw in gateways.iter().chain(gateways.iter()) {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.json()["code"], "invalid_login", "{}", reply.body);
    }
    assert_eq!(
        counter(&sim, "login_failures").await,
        1,
        "one refused attempt for the whole fleet: no lockout"
    );
    assert_eq!(counter(&sim, "logins").await, 0);
    // The stop shared in Redis holds Salesforce's refusal, never the password.
    let contents = redis.dump().await;
    assert!(
        contents.iter().any(|(k, _)| k.ends_with(":stop")),
        "{contents:?}"
    );
    for (key, value) in &contents {
        assert!(
            !key.contains("not-the-password") && !value.contains("not-the-password"),
            "the password is in Redis key {key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_lost_mid_load_fails_no_request_and_one_session_returns_with_it() {
    let mut redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gateways = fleet(&sim, &acme(&redis.store_section("instances = 3"), "")).await;
    let (go_on, workers) = load(&gateways, 4);
    let_run(&sim, 100).await;
    assert_eq!(counter(&sim, "logins").await, 1);

    // Redis dies; then the sessions expire: each instance logs in on its own.
    redis.kill();
    let_run(&sim, 50).await;
    admin_post(&sim, "/sessions/expire").await;
    let_run(&sim, 150).await;
    let degraded = counter(&sim, "logins").await - 1;
    assert!(
        (1..=3).contains(&degraded),
        "at most one login per instance without Redis, got {degraded}"
    );

    for gw in &gateways {
        let metrics = gw.admin_get("/metrics").await.body;
        assert!(store_degraded(&metrics), "{metrics}");
    }

    // Redis is back (empty); the next expiry makes one login for all.
    redis.restart().await;
    let_run(&sim, 100).await;
    let before = counter(&sim, "logins").await;
    admin_post(&sim, "/sessions/expire").await;
    let_run(&sim, 150).await;
    finish(go_on, workers).await;
    assert_eq!(
        counter(&sim, "logins").await - before,
        1,
        "one session for the fleet again"
    );
    for gw in &gateways {
        let metrics = gw.admin_get("/metrics").await.body;
        assert!(!store_degraded(&metrics), "{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_unreachable_at_start_fails_no_request_and_the_fleet_converges_when_it_comes() {
    let mut redis = RedisServer::start().await;
    redis.kill();
    let sim = start_sim().await;
    let gateways = fleet(&sim, &acme(&redis.store_section("instances = 3"), "")).await;
    for gw in gateways.iter().chain(gateways.iter()) {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let metrics = gw.admin_get("/metrics").await.body;
        assert!(store_degraded(&metrics), "{metrics}");
    }
    assert_eq!(
        counter(&sim, "logins").await,
        3,
        "one login per instance without Redis"
    );
    for gw in &gateways {
        let metrics = gw.admin_get("/metrics").await.body;
        assert_eq!(
            store_fallback_logins(&metrics),
            1,
            "the login decided without Redis is counted where it was decided"
        );
    }

    redis.restart().await;
    for gw in &gateways {
        // Each instance checks every 250 ms whether Redis is back.
        while store_degraded(&gw.admin_get("/metrics").await.body) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    admin_post(&sim, "/sessions/expire").await;
    for gw in gateways.iter().chain(gateways.iter()) {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(
        counter(&sim, "logins").await,
        4,
        "then one login for the fleet"
    );
}

/// The org's API requests as the simulator counted them.
async fn org_usage(sim: &Sim) -> u64 {
    admin_get(sim, "/counters")
        .await
        .pointer(&format!("/api_usage_by_org/{}", twoway_tests::ACME_ORG))
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_budget_holds_across_the_fleet() {
    let redis = RedisServer::start().await;
    let sim = start_sim().await;
    let gateways = fleet(
        &sim,
        &acme(&redis.store_section(""), "api_budget_per_day = 5"),
    )
    .await;
    let (a, b) = (&gateways[0], &gateways[1]);
    // B calls once: the fleet's session, and Salesforce's usage says 1.
    assert_eq!(b.call("GET", PATH, KEY, "").await.status, 200);
    // A spends the rest of the budget; its next call is refused unsent.
    for _ in 0..4 {
        let reply = a.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let refused = a.call("GET", PATH, KEY, "").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(org_usage(&sim).await, 5);
    // B learns A's report through Redis (published, never a round trip per
    // request) and refuses too, though its own last answer said 1.
    b.wait_for_metric("twoway_api_requests_used{tenant=\"acme\"} 5")
        .await;
    let refused = b.call("GET", PATH, KEY, "").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("api_limit_exceeded"),
        "{}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(org_usage(&sim).await, 5, "nothing more was sent");
    // Only numbers are shared: the secrets canary still holds.
    let usage: Vec<_> = redis
        .dump()
        .await
        .into_iter()
        .filter(|(key, _)| key.ends_with(":usage"))
        .collect();
    assert_eq!(usage.len(), 1, "one usage report per session: {usage:?}");
}
