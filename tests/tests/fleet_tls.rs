//! A fleet on a Redis that only speaks TLS (`rediss://`): a real
//! redis-server with the test PKI's server certificate, verified against
//! the CA named by `[store] ca_file`. A gateway that does not trust the
//! server's certificate never shares anything with it: it works on its own
//! state (degraded) and no request fails.

use twoway_tests::fleet::{KEY, PATH, USER_WORKFLOW, gateway, logins};
use twoway_tests::gateway::{ACME, TestGateway};
use twoway_tests::redis_server::{RedisServer, store_degraded};
use twoway_tests::{pki, start_sim};

fn config(store: &str) -> String {
    format!("{store}{ACME}{USER_WORKFLOW}")
}

/// Whether `/metrics` says the instance works without Redis.
async fn degraded(gw: &TestGateway) -> bool {
    store_degraded(&gw.admin_get("/metrics").await.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_on_rediss_verifies_the_server_against_ca_file_and_shares_one_session() {
    let redis = RedisServer::start_tls().await;
    assert!(redis.url().starts_with("rediss://"), "{}", redis.url());
    let sim = start_sim().await;
    // store_section names the test PKI's root CA as ca_file in TLS mode.
    let config = config(&redis.store_section(""));
    assert!(config.contains("ca_file"), "{config}");
    let a = gateway(&sim, &config).await;
    let b = gateway(&sim, &config).await;
    for gw in [&a, &b, &a, &b] {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            !degraded(gw).await,
            "the instance reaches Redis over TLS: {}",
            gw.admin_get("/metrics").await.body
        );
    }
    assert_eq!(logins(&sim).await, 1, "one login shared over rediss://");
    let contents = redis.dump().await;
    assert!(
        contents.iter().any(|(k, _)| k.ends_with(":session")),
        "{contents:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rediss_server_whose_certificate_is_not_trusted_is_not_used() {
    let redis = RedisServer::start_tls().await;
    let sim = start_sim().await;
    // A CA that did not issue the server's certificate.
    let untrusted = format!("ca_file = \"{}\"", pki().untrusted_ca.display());
    let config = config(&redis.store_section(&untrusted));
    let a = gateway(&sim, &config).await;
    let b = gateway(&sim, &config).await;
    for gw in [&a, &b] {
        let reply = gw.call("GET", PATH, KEY, "").await;
        assert_eq!(reply.status, 200, "no request fails: {}", reply.body);
        assert!(degraded(gw).await, "the instance works on its own state");
    }
    assert_eq!(logins(&sim).await, 2, "nothing shared: one login each");
    assert!(
        redis.dump().await.is_empty(),
        "nothing was written to a server the gateway does not trust"
    );
}
