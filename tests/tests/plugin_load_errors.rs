//! What the registry says when a workflow's component does not load
//! (issue 13): a component of an older WIT package is refused with the
//! version and how to rebuild; a file that never loaded is not described as
//! "the last loaded version"; a missing file named with dashes suggests
//! cargo's underscore name; and `/admin/plugins` forgets the error once the
//! good file is back.

use std::time::{Duration, Instant};

use twoway_tests::gateway::{ACME, TestGateway, replace_file};
use twoway_tests::plugins::{VERSION_A, WIT_0_1_0};
use twoway_tests::start_sim;

const KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");

fn workflow(file: &str) -> String {
    format!("{ACME}[[tenant.workflow]]\nname = \"w\"\nplugin = \"{file}\"\n")
}

/// The slot's `last_error` in `/admin/plugins`.
async fn last_error(gw: &TestGateway) -> Option<String> {
    let status = gw.admin_get("/admin/plugins").await.json();
    status["plugins"][0]["last_error"]
        .as_str()
        .map(str::to_string)
}

/// Polls `/admin/plugins` until `done` holds for the slot's `last_error`.
async fn wait_for_error(
    gw: &TestGateway,
    what: &str,
    done: impl Fn(&Option<String>) -> bool,
) -> Option<String> {
    let start = Instant::now();
    loop {
        let error = last_error(gw).await;
        if done(&error) {
            return error;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never happened; last_error: {error:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_of_the_old_wit_is_refused_with_a_rebuild_hint() {
    let sim = start_sim().await;
    let gw = TestGateway::start(&sim, &workflow("old.wasm"), &[("old.wasm", WIT_0_1_0)]).await;
    let error = last_error(&gw).await.expect("a load error");
    assert!(error.contains("twoway:gateway@0.1.0"), "{error}");
    assert!(error.contains("@0.3.0 to @0.3.3"), "{error}");
    assert!(error.contains("rebuild"), "{error}");
    assert!(
        error.contains("no version of this workflow has loaded yet"),
        "{error}"
    );
    assert!(!error.contains("last loaded"), "{error}");
    let reply = gw.call("GET", "/tenants/acme/workflows/w", KEY, "").await;
    reply.assert_problem(503, "plugin_unavailable");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_suggests_the_underscore_name_and_never_a_last_version() {
    let sim = start_sim().await;
    // cargo writes `version_a.wasm`; the config names `version-a.wasm`.
    let gw = TestGateway::start(
        &sim,
        &workflow("version-a.wasm"),
        &[("version_a.wasm", VERSION_A)],
    )
    .await;
    let error = last_error(&gw).await.expect("a load error");
    assert!(error.contains("no such file"), "{error}");
    assert!(error.contains("version_a.wasm"), "did you mean: {error}");
    assert!(
        error.contains("no version of this workflow has loaded yet"),
        "{error}"
    );
    assert!(!error.contains("last loaded"), "{error}");
    let reply = gw.call("GET", "/tenants/acme/workflows/w", KEY, "").await;
    assert_eq!(reply.json()["code"], "plugin_unavailable", "{}", reply.body);

    // The file arrives under the configured name: it loads and the error goes.
    replace_file(VERSION_A, &gw.plugins_dir().join("version-a.wasm"));
    wait_for_error(&gw, "the load", Option::is_none).await;
    let reply = gw.call("GET", "/tenants/acme/workflows/w", KEY, "").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "a"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_error_goes_when_the_good_file_returns() {
    let sim = start_sim().await;
    let gw = TestGateway::start(&sim, &workflow("v.wasm"), &[("v.wasm", VERSION_A)]).await;
    assert_eq!(last_error(&gw).await, None);
    let dest = gw.plugins_dir().join("v.wasm");

    std::fs::write(&dest, b"\0asm not really a component").unwrap();
    let error = wait_for_error(&gw, "the broken file's error", Option::is_some)
        .await
        .unwrap_or_default();
    assert!(error.contains("not a valid component"), "{error}");
    assert!(error.contains("keeps serving"), "{error}");

    // The same component as before comes back (same content hash): nothing
    // to load, but the slot is healthy again.
    replace_file(VERSION_A, &dest);
    wait_for_error(&gw, "the error's clearing", Option::is_none).await;
    let reply = gw.call("GET", "/tenants/acme/workflows/w", KEY, "").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "a"));
    gw.shutdown().await;
}
