//! Where plugin instances' memory comes from (`TWOWAY_PLUGIN_ALLOCATOR`), in
//! a real `twoway serve` process whose address space is limited (`ulimit
//! -v`, as some hosts, sandboxes and valgrind give a process): the default
//! pool cannot be reserved there, and the gateway says so and what to set
//! before it serves; on demand, workflows answer and a plugin's memory cap
//! still holds; a misspelt value is named at start.

use twoway_testkit::tenants::ACME_API_KEY;
use twoway_tests::gateway::{ACME, TestGateway, with_workflow};
use twoway_tests::plugins::{EAT_MEMORY, GET_USER_INFO};
use twoway_tests::start_sim;

/// 32 GiB: room for a few instances' reservations (4 GiB each), far from
/// the pool's (about 8 TiB).
const LIMITED_KIB: u64 = 32 * 1024 * 1024;

/// A gateway with the workflows `user` (get-user-info) and `memory`
/// (eat-memory, capped at 16 MB), not served.
fn configure(sim: &twoway_sim::Sim) -> TestGateway {
    let tenant = with_workflow(ACME, "user", "get_user_info.wasm", "");
    let tenant = with_workflow(&tenant, "memory", "eat_memory.wasm", "memory_mb = 16");
    TestGateway::configure(
        sim,
        "",
        &tenant,
        &[
            ("get_user_info.wasm", GET_USER_INFO),
            ("eat_memory.wasm", EAT_MEMORY),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn on_demand_serves_where_the_pool_cannot_be_reserved() {
    let sim = start_sim().await;
    let mut gw = configure(&sim);

    // The default pool: refused at start, with what to do about it.
    let pooled = gw.serve_refused(&[], Some(LIMITED_KIB));
    assert_ne!(pooled.code, 0, "{}", pooled.output());
    assert!(
        pooled
            .stderr
            .contains("reserving the address space of the plugin instances' pool")
            && pooled
                .stderr
                .contains("set TWOWAY_PLUGIN_ALLOCATOR=on-demand"),
        "{}",
        pooled.output()
    );
    assert!(
        pooled.stdout.is_empty(),
        "nothing served, no listening line: {}",
        pooled.output()
    );

    // On demand, in the same address space: workflows answer, one after
    // another and a few at once, and the memory cap still holds.
    let _process =
        gw.serve_process_limited(&[("TWOWAY_PLUGIN_ALLOCATOR", "on-demand")], LIMITED_KIB);
    let call = |workflow: &str| {
        let path = format!("/tenants/acme/workflows/{workflow}");
        let gw = &gw;
        async move { gw.call("GET", &path, Some(ACME_API_KEY), "").await }
    };
    let user = call("user").await;
    assert_eq!(user.status, 200, "{}", user.body);
    assert_eq!(
        user.json()["userName"],
        twoway_tests::ACME_USER,
        "{}",
        user.body
    );
    for reply in gw
        .burst("/tenants/acme/workflows/user", ACME_API_KEY, 4)
        .await
    {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    call("memory")
        .await
        .assert_problem(500, "plugin_memory_exceeded");
    let again = call("user").await;
    assert_eq!(again.status, 200, "still serving: {}", again.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_allocator_is_named_at_start() {
    let sim = start_sim().await;
    let gw = configure(&sim);
    let run = gw.serve_refused(&[("TWOWAY_PLUGIN_ALLOCATOR", "ondemand")], None);
    assert_ne!(run.code, 0, "{}", run.output());
    assert!(
        run.stderr.contains(
            "TWOWAY_PLUGIN_ALLOCATOR=\"ondemand\": use \"pooling\" (the default) or \"on-demand\""
        ),
        "{}",
        run.output()
    );
}
