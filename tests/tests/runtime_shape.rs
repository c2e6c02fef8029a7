//! `TWOWAY_RUNTIME=per-core` on a real `twoway serve` process: each core
//! accepts on its own socket of the one port and keeps its own upstream
//! connections, so a cold stampede opens at most one connection per core
//! and host (with one login for all), workflows and the front door answer
//! on every core, and SIGTERM still drains and exits cleanly.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use twoway_testkit::tenants::ACME_API_KEY;
use twoway_tests::gateway::{ACME, TestGateway, http, tenant_with, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{admin_get, login_envelope, start_sim, xml_text};

const CORES: u64 = 2;

#[tokio::test(flavor = "multi_thread")]
async fn per_core_runtimes_serve_workflows_and_the_front_door_with_one_connection_per_core() {
    let sim = start_sim().await;
    let tenant = tenant_with(
        ACME,
        "max_concurrency = 1000\nmax_queued = 1000\nfront_door = true",
    );
    let tenants = with_workflow(&tenant, "user", "get_user_info.wasm", "timeout_ms = 60000");
    let mut gw =
        TestGateway::configure(&sim, "", &tenants, &[("get_user_info.wasm", GET_USER_INFO)]);
    let mut process = gw.serve_process(&[
        ("TWOWAY_RUNTIME", "per-core"),
        ("TOKIO_WORKER_THREADS", &CORES.to_string()),
    ]);

    // A cold stampede over many connections, so that both cores accept some.
    for reply in gw
        .burst("/tenants/acme/workflows/user", ACME_API_KEY, 256)
        .await
    {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(
        counters["logins"], 1,
        "one session for every core: {counters}"
    );
    let handshakes = counters["handshakes"]["mutual"].as_u64().unwrap();
    assert!(
        (1..=CORES).contains(&handshakes),
        "one upstream connection per core at most: {counters}"
    );

    // The front door: a SOAP login, then a call with the gateway's token.
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
}
