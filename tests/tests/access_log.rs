//! The log of a real `twoway serve --log-format json`: every line it writes
//! on stdout and stderr, from start to the end of the drain, is a JSON
//! object; every request on the callers' listener (a workflow call, a
//! refused caller, an unknown route, the front door) gets one access line
//! with its method, route, status, problem code, upstream calls and time,
//! bytes in and out, peer, request id and the caller's trace id; and no
//! line carries a secret.

use std::time::Duration;

use nix::sys::signal::Signal;
use twoway_testkit::tenants::ACME_API_KEY;
use twoway_tests::gateway::{ACME, SECRETS, TestGateway, http, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::process::access_line;
use twoway_tests::start_sim;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread")]
async fn every_line_is_json_and_every_request_is_logged() {
    let sim = start_sim().await;
    let mut gw = TestGateway::configure(
        &sim,
        "",
        &with_workflow(ACME, "user", "get_user_info.wasm", ""),
        &[("get_user_info.wasm", GET_USER_INFO)],
    );
    let process = gw.serve_process_logged(&["--log-format", "json"], &[]);
    // Ready: the plugin is loaded.
    gw.wait_ready().await;
    let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
    let ok = http(
        "POST",
        &format!("{}/tenants/acme/workflows/user", gw.url),
        &[
            ("authorization", &format!("Bearer {ACME_API_KEY}")),
            ("content-type", "application/json"),
            ("traceparent", &traceparent),
            ("x-request-id", "req-ok"),
        ],
        "{}".to_string(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let refused = http(
        "POST",
        &format!("{}/tenants/acme/workflows/user", gw.url),
        &[
            ("authorization", "Bearer wrong-key"),
            ("x-request-id", "req-refused"),
        ],
        "{}".to_string(),
    )
    .await;
    refused.assert_problem(401, "unauthorized");
    let unknown = http(
        "GET",
        &format!("{}/nowhere", gw.url),
        &[("x-request-id", "req-404")],
        String::new(),
    )
    .await;
    unknown.assert_problem(404, "unknown_route");
    let front = http(
        "GET",
        &format!("{}/services/data/v62.0/sobjects", gw.url),
        &[("x-request-id", "req-front")],
        String::new(),
    )
    .await;
    assert_eq!(front.status, 401, "{}", front.body);

    process.signal(Signal::SIGTERM);
    let (code, stdout, stderr) = process.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "{stderr:#?}");
    let lines: Vec<serde_json::Value> = stdout
        .iter()
        .chain(&stderr)
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    for expected in ["gateway listening", "stopped"] {
        assert!(
            messages.contains(&expected),
            "no {expected:?} in {messages:?}"
        );
    }
    assert!(stdout[0].contains("\"listening\""), "{stdout:?}");

    let access = |request_id: &str| access_line(&lines, request_id);
    let line = access("req-ok");
    assert_eq!(line["message"], "request");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/tenants/{tenant}/workflows/{workflow}");
    assert_eq!(line["tenant"], "acme");
    assert_eq!(line["workflow"], "user");
    assert_eq!(line["status"], 200);
    assert!(line.get("problem").is_none(), "{line}");
    assert_eq!(line["upstream_calls"], 1, "{line}");
    assert!(line["upstream_ms"].is_u64(), "{line}");
    assert_eq!(line["bytes_in"], 2);
    assert_eq!(line["bytes_out"], ok.body.len() as u64);
    assert!(
        line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    assert_eq!(line["trace_id"], TRACE);
    assert!(line["elapsed_ms"].is_u64());

    let line = access("req-refused");
    assert_eq!(line["status"], 401);
    assert_eq!(line["problem"], "unauthorized");
    assert_eq!(line["upstream_calls"], 0);
    assert!(line.get("trace_id").is_none(), "{line}");

    let line = access("req-404");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "unknown");
    assert_eq!(line["status"], 404);
    assert_eq!(line["problem"], "unknown_route");

    let line = access("req-front");
    assert_eq!(line["route"], "front-door");
    assert_eq!(line["api"], "rest");
    assert_eq!(line["status"], 401);
    assert_eq!(line["problem"], "unauthorized");

    let all = stdout.join("\n") + &stderr.join("\n");
    assert!(!all.contains(ACME_API_KEY), "the API key was logged");
    for (_, secret) in SECRETS {
        assert!(!all.contains(secret.trim()), "a secret was logged");
    }
}

/// The log writes access lines itself (not through `tracing`'s formatter),
/// and still only where the log's filter lets `twoway::access` through:
/// `TWOWAY_LOG=info,twoway::access=off` leaves requests unlogged in text and
/// in JSON, the rest of the log at info as it was.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_filter_turns_the_access_lines_off() {
    let sim = start_sim().await;
    for format in ["text", "json"] {
        let mut gw = TestGateway::configure(
            &sim,
            "",
            &with_workflow(ACME, "user", "get_user_info.wasm", ""),
            &[("get_user_info.wasm", GET_USER_INFO)],
        );
        let process = gw.serve_process_logged(
            &["--log-format", format],
            &[("TWOWAY_LOG", "info,twoway::access=off")],
        );
        gw.wait_ready().await;
        let ok = http(
            "POST",
            &format!("{}/tenants/acme/workflows/user", gw.url),
            &[
                ("authorization", &format!("Bearer {ACME_API_KEY}")),
                ("x-request-id", "req-quiet"),
            ],
            "{}".to_string(),
        )
        .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        process.signal(Signal::SIGTERM);
        let (code, stdout, stderr) = process.wait(Duration::from_secs(120));
        assert_eq!(code, 0, "{stderr:#?}");
        let lines: Vec<&String> = stdout.iter().chain(&stderr).collect();
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("twoway::access") || l.contains("req-quiet")),
            "{format}: no access line: {lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("INFO")),
            "{format}: the rest of the log still writes at info: {lines:#?}"
        );
    }
}
