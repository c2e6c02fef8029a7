//! The drain a load balancer sees, on a real `twoway serve` process: on
//! SIGTERM `/readyz` answers 503 at once while the listener still accepts
//! (answers carry `Connection: close`) for `drain_grace_ms`; then it stops
//! accepting and the requests in flight finish; callers that stop sending
//! once `/readyz` says so (as a load balancer does) see no failed request.
//! systemd hears READY=1 and STOPPING=1. A second signal ends it at once.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twoway_tests::gateway::{ACME, TestGateway, http, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::process::Process;
use twoway_tests::start_sim;

/// Only keeps a broken gateway from hanging a test.
const DEADLINE: Duration = Duration::from_secs(120);
const PATH: &str = "/tenants/acme/workflows/user";

fn gateway(sim: &twoway_sim::Sim, server: &str) -> TestGateway {
    TestGateway::configure(
        sim,
        server,
        &with_workflow(ACME, "user", "get_user_info.wasm", ""),
        &[("get_user_info.wasm", GET_USER_INFO)],
    )
}

async fn readyz(gw: &TestGateway) -> u16 {
    http("GET", &format!("{}/readyz", gw.admin), &[], "")
        .await
        .status
}

/// Polls until `ok` holds (the bound only stops a broken gateway).
async fn until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < DEADLINE, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the process to end and returns its exit code.
async fn exit_code(process: &mut Process) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(code) = process.exited() {
            return code;
        }
        assert!(started.elapsed() < DEADLINE, "the gateway never exited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A request whose head and first body byte are sent now, the rest later:
/// in flight from the gateway's point of view until [`Slow::finish`].
struct Slow(tokio::net::TcpStream);

impl Slow {
    async fn start(gw: &TestGateway) -> Self {
        let addr = gw.url.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{"
        );
        tcp.write_all(head.as_bytes()).await.expect("send the head");
        Self(tcp)
    }

    /// Sends the last byte and reads the whole answer ("" when the
    /// connection was closed or reset unanswered: once the gateway has
    /// gone, the write itself may meet the reset).
    async fn finish(mut self) -> String {
        if self.0.write_all(b"}").await.is_err() {
            return String::new();
        }
        let mut answer = Vec::new();
        let _ = self.0.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }
}

/// What one caller saw: the statuses of its requests, and errors.
#[derive(Default)]
struct Seen {
    ok: usize,
    failed: Vec<String>,
}

/// A caller behind a load balancer: sends requests over a keep-alive pool
/// until `/readyz` has said 503 (the balancer takes the instance out).
async fn caller(gw_url: String, admin: String) -> Seen {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut seen = Seen::default();
    loop {
        let request = http::Request::get(format!("{gw_url}{PATH}"))
            .header(
                "authorization",
                "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            )
            .body(Full::new(Bytes::new()))
            .expect("request");
        match client.request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await.map(|b| b.to_bytes());
                match body {
                    Ok(_) if status == 200 => seen.ok += 1,
                    Ok(body) => seen
                        .failed
                        .push(format!("{status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => seen.failed.push(format!("body: {e}")),
                }
            }
            Err(e) => seen.failed.push(format!("{e:?}")),
        }
        let ready = http("GET", &format!("{admin}/readyz"), &[], "").await;
        if ready.status == 503 {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_request_fails_across_a_drain() {
    let sim = start_sim().await;
    let mut gw = gateway(&sim, "drain_grace_ms = 5000\nshutdown_timeout_ms = 120000");
    let notify_dir = tempfile::tempdir().expect("tempdir");
    let notify_path = notify_dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind the notify socket");
    notify
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let mut process = gw.serve_process(&[("NOTIFY_SOCKET", notify_path.to_str().unwrap())]);

    // READY=1 once /readyz would say 200.
    let mut buf = [0u8; 512];
    let n = notify.recv(&mut buf).expect("a READY=1 notification");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(message.lines().any(|l| l == "READY=1"), "{message}");
    assert_eq!(readyz(&gw).await, 200);

    // Callers busy on keep-alive connections; one request in flight.
    let callers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(caller(gw.url.clone(), gw.admin.clone())))
        .collect();
    until("callers got answers", async || {
        gw.call("GET", PATH, Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"), "")
            .await
            .status
            == 200
    })
    .await;
    let before = Slow::start(&gw).await;

    process.signal(Signal::SIGTERM);
    let n = notify.recv(&mut buf).expect("a STOPPING=1 notification");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(message.lines().any(|l| l == "STOPPING=1"), "{message}");
    until("/readyz answers 503", async || readyz(&gw).await == 503).await;
    let body = http("GET", &format!("{}/readyz", gw.admin), &[], "")
        .await
        .json();
    assert_eq!(body["shutting_down"], true, "{body}");

    // Still accepting: a new connection is served, and asked to close.
    let late = gw
        .call("GET", PATH, Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"), "")
        .await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.header("connection"), Some("close"));
    let during = Slow::start(&gw).await;

    let mut total = 0;
    for caller in callers {
        let seen = caller.await.expect("caller");
        assert!(seen.failed.is_empty(), "failed requests: {:?}", seen.failed);
        total += seen.ok;
    }
    assert!(total > 0);

    // After the grace: no longer accepting, while the two requests in
    // flight still hold the process.
    let addr = gw.url.trim_start_matches("http://").to_string();
    until("the listener closes", async || {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
    assert_eq!(
        process.exited(),
        None,
        "the in-flight requests are waited for"
    );
    for slow in [before, during] {
        let answer = slow.finish().await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    assert_eq!(exit_code(&mut process).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_ends_at_once() {
    let sim = start_sim().await;
    // A drain that would take ten minutes.
    let mut gw = gateway(&sim, "drain_grace_ms = 600000");
    let mut process = gw.serve_process(&[]);
    until("/readyz answers 200", async || readyz(&gw).await == 200).await;
    let slow = Slow::start(&gw).await;

    process.signal(Signal::SIGTERM);
    until("/readyz answers 503", async || readyz(&gw).await == 503).await;
    assert_eq!(process.exited(), None, "draining");
    process.signal(Signal::SIGINT);
    assert_eq!(exit_code(&mut process).await, 1);
    // The request in flight was cut: its connection closed unanswered.
    assert_eq!(slow.finish().await, "");
}
