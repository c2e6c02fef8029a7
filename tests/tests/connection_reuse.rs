//! A cold stampede through one gateway: the mutual-auth port negotiates
//! HTTP/2, so one upstream connection per pool carries every request (the
//! pool holds the others back until the first one has its connection). Per
//! core (the default) each core has its pool: one connection per core; on
//! the shared runtime, one. One login for all in both.

use twoway::gateway::Shape;
use twoway_tests::gateway::{ACME, TestGateway, tenant_with, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{admin_get, start_sim};

/// 256 callers at once, each on a connection of its own, on a cold
/// gateway in `shape`; the simulator's counters after.
async fn cold_stampede(shape: Shape) -> serde_json::Value {
    let sim = start_sim().await;
    let tenant = tenant_with(ACME, "max_concurrency = 1000\nmax_queued = 1000");
    let tenants = with_workflow(&tenant, "user", "get_user_info.wasm", "timeout_ms = 60000");
    let mut gw =
        TestGateway::configure(&sim, "", &tenants, &[("get_user_info.wasm", GET_USER_INFO)]);
    gw.serve_as(shape).await;
    for reply in gw
        .burst(
            "/tenants/acme/workflows/user",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            256,
        )
        .await
    {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    admin_get(&sim, "/counters").await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_stampede_opens_one_upstream_connection_per_core() {
    // 256 connections spread by the kernel over both cores' sockets: each
    // core serves some, and opens one connection for all of them.
    let counters = cold_stampede(Shape::PerCore(2)).await;
    assert_eq!(
        counters["handshakes"]["mutual"], 2,
        "one connection to the instance per core: {counters}"
    );
    assert_eq!(
        counters["logins"], 1,
        "one session for both cores: {counters}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_stampede_on_one_core_opens_one_upstream_connection() {
    let counters = cold_stampede(Shape::PerCore(1)).await;
    assert_eq!(
        counters["handshakes"]["mutual"], 1,
        "one connection to the instance: {counters}"
    );
    assert_eq!(counters["logins"], 1, "{counters}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_stampede_on_the_shared_runtime_opens_one_upstream_connection() {
    let counters = cold_stampede(Shape::Shared).await;
    assert_eq!(
        counters["handshakes"]["mutual"], 1,
        "one connection to the instance: {counters}"
    );
    assert_eq!(counters["logins"], 1, "{counters}");
}
