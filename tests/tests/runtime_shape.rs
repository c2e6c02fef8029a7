//! The runtime shapes of a real `twoway serve` process (`TWOWAY_RUNTIME`).
//! Per core, the default: each core accepts on its own socket of the one
//! port and keeps its own upstream connections, so a cold stampede opens
//! one connection per core and host (with one login for all). `shared`:
//! one runtime, one connection per host. In both, workflows and the front
//! door answer, and SIGTERM drains and exits cleanly; a misspelt shape is
//! named at start.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use twoway_testkit::tenants::ACME_API_KEY;
use twoway_tests::gateway::{ACME, TestGateway, http, tenant_with, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{admin_get, login_envelope, start_sim, xml_text};

/// A gateway with the workflow `user` and the front door, not served.
fn configure(sim: &twoway_sim::Sim) -> TestGateway {
    let tenant = tenant_with(
        ACME,
        "max_concurrency = 1000\nmax_queued = 1000\nfront_door = true",
    );
    let tenants = with_workflow(&tenant, "user", "get_user_info.wasm", "timeout_ms = 60000");
    TestGateway::configure(sim, "", &tenants, &[("get_user_info.wasm", GET_USER_INFO)])
}

/// `twoway serve` with `env`: a cold stampede of 256 callers, each on a
/// connection of its own (so that every core accepts some), then front
/// door calls, then SIGTERM. The simulator's counters after the stampede.
async fn serve_a_stampede(env: &[(&str, &str)]) -> serde_json::Value {
    let sim = start_sim().await;
    let mut gw = configure(&sim);
    let mut process = gw.serve_process(env);

    for reply in gw
        .burst("/tenants/acme/workflows/user", ACME_API_KEY, 256)
        .await
    {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let counters = admin_get(&sim, "/counters").await;

    // The front door: a SOAP login, then calls with the gateway's token.
    let login = http(
        "POST",
        &format!("{}/services/Soap/u/62.0", gw.url),
        &[("content-type", "text/xml"), ("soapaction", "login")],
        login_envelope("acme", ACME_API_KEY),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let token = xml_text(&login.body, "sessionId").expect("a gateway token");
    let envelope = twoway_tests::get_user_info_envelope(&token);
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let (url, envelope) = (format!("{}/services/Soap/u/62.0", gw.url), envelope.clone());
            tokio::spawn(async move {
                http(
                    "POST",
                    &url,
                    &[("content-type", "text/xml"), ("soapaction", "\"\"")],
                    envelope,
                )
                .await
            })
        })
        .collect();
    for call in calls {
        let reply = call.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("getUserInfoResponse"), "{}", reply.body);
    }

    process.signal(Signal::SIGTERM);
    let started = Instant::now();
    let code = loop {
        if let Some(code) = process.exited() {
            break code;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "never exited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(code, 0, "a clean drain");
    counters
}

#[tokio::test(flavor = "multi_thread")]
async fn per_core_is_the_default_with_one_upstream_connection_per_core() {
    // TWOWAY_RUNTIME empty is unset: the default.
    let counters = serve_a_stampede(&[("TWOWAY_RUNTIME", ""), ("TOKIO_WORKER_THREADS", "2")]).await;
    assert_eq!(
        counters["logins"], 1,
        "one session for every core: {counters}"
    );
    assert_eq!(
        counters["handshakes"]["mutual"], 2,
        "one upstream connection per core (2 cores, each accepted some callers): {counters}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shared_runtime_opens_one_upstream_connection() {
    let counters =
        serve_a_stampede(&[("TWOWAY_RUNTIME", "shared"), ("TOKIO_WORKER_THREADS", "2")]).await;
    assert_eq!(counters["logins"], 1, "{counters}");
    assert_eq!(
        counters["handshakes"]["mutual"], 1,
        "one upstream connection for every worker: {counters}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_shape_is_named_at_start() {
    let sim = start_sim().await;
    let gw = configure(&sim);
    let run = gw.serve_refused(&[("TWOWAY_RUNTIME", "percore")], None);
    assert_ne!(run.code, 0, "{}", run.output());
    assert!(
        run.stderr.contains("TWOWAY_RUNTIME=\"percore\"")
            && run
                .stderr
                .contains("\"per-core\" (the default) or \"shared\""),
        "{}",
        run.output()
    );
}
