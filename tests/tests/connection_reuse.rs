//! A cold stampede through one gateway: the mutual-auth port negotiates
//! HTTP/2, so one upstream connection carries every request (the pool holds
//! the others back until the first one has its connection).

use twoway_tests::gateway::{ACME, TestGateway, tenant_with, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{admin_get, start_sim};

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_stampede_opens_one_upstream_connection() {
    let sim = start_sim().await;
    let tenant = tenant_with(ACME, "max_concurrency = 1000\nmax_queued = 1000");
    let tenants = with_workflow(&tenant, "user", "get_user_info.wasm", "timeout_ms = 60000");
    let gw = TestGateway::start(&sim, &tenants, &[("get_user_info.wasm", GET_USER_INFO)]).await;
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
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(
        counters["handshakes"]["mutual"], 1,
        "one connection to the instance: {counters}"
    );
    assert_eq!(counters["logins"], 1, "{counters}");
}
