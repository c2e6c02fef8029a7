//! Real components built from plugins/ running in the gateway against the
//! simulator: the four example workflows end to end, the sandbox and its
//! limits (each misbehaving plugin gets its code and the gateway keeps
//! serving), and hot reload under load.

use std::time::{Duration, Instant};

use twoway_tests::gateway::{ACME, TestGateway, replace_file, with_workflow};
use twoway_tests::plugins::*;
use twoway_tests::{ACME_ACCOUNTS, start_sim, start_sim_with};

const KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");

fn workflows(list: &[(&str, &str, &str)]) -> String {
    list.iter()
        .fold(ACME.to_string(), |tenant, (name, file, extra)| {
            with_workflow(&tenant, name, file, extra)
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn get_user_info_returns_the_user_as_json() {
    let sim = start_sim().await;
    let gw = TestGateway::start(
        &sim,
        &workflows(&[("user", "get_user_info.wasm", "")]),
        &[("get_user_info.wasm", GET_USER_INFO)],
    )
    .await;
    let reply = gw
        .call("GET", "/tenants/acme/workflows/user", KEY, "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let user = reply.json();
    assert_eq!(user["userName"], "integration@acme.example");
    assert_eq!(user["organizationName"], "Acme");
    assert!(
        reply
            .header("x-twoway-plugin-version")
            .is_some_and(|v| v.len() == 16)
    );
    assert!(reply.header("x-request-id").is_some());
    assert!(
        !reply.body.contains("00D5g000004Acme!"),
        "no session id reaches the caller"
    );
    // Compiled code went to the cache, so a restart does not compile again.
    let cache_dir = twoway::config::load(&gw.config_path())
        .unwrap()
        .plugins
        .cache_dir;
    assert!(
        !cache_dir.starts_with(gw.plugins_dir()),
        "the cache is kept away from the plugins folder: {}",
        cache_dir.display()
    );
    let cached = walk(&cache_dir);
    assert!(cached > 0, "the compiled-artifact cache has entries");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn soql_query_follows_next_records_url() {
    let sim = start_sim_with(|c| c.limits.query_batch_size = 2).await;
    let gw = TestGateway::start(
        &sim,
        &workflows(&[("query", "soql_query.wasm", "")]),
        &[("soql_query.wasm", SOQL_QUERY)],
    )
    .await;
    let reply = gw
        .call(
            "POST",
            "/tenants/acme/workflows/query",
            KEY,
            r#"{"q":"SELECT Id, Name FROM Account"}"#,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let result = reply.json();
    assert_eq!(result["totalSize"], 3);
    let names: Vec<_> = result["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ACME_ACCOUNTS);
    let by_query_string = gw
        .call("GET", "/tenants/acme/workflows/query?q=SELECT+Name+FROM+Account+WHERE+Industry+%3D+%27Engineering%27", KEY, "")
        .await;
    assert_eq!(
        by_query_string.json()["totalSize"],
        1,
        "{}",
        by_query_string.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_account_creates_then_updates() {
    let sim = start_sim().await;
    let config = r#"config = { field_map = "name=Name,city=BillingCity" }"#;
    let gw = TestGateway::start(
        &sim,
        &workflows(&[("upsert", "upsert_account.wasm", config)]),
        &[("upsert_account.wasm", UPSERT_ACCOUNT)],
    )
    .await;
    let upsert = |body| gw.call("POST", "/tenants/acme/workflows/upsert", KEY, body);
    let first = upsert(r#"{"id":"acme-9","name":"Wile E. Holdings","city":"Denver"}"#).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["created"], true);
    let second = upsert(r#"{"id":"acme-9","name":"Wile E. Holdings","city":"Boulder"}"#).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.json()["created"], false, "{}", second.body);
    assert_eq!(second.json()["id"], first.json()["id"]);
    // An external id with a slash travels percent-encoded and stays one value.
    let slashed = upsert(r#"{"id":"new/1","name":"Slash Co"}"#).await;
    assert_eq!(slashed.status, 201, "{}", slashed.body);
    let again = upsert(r#"{"id":"new/1","name":"Slash Co"}"#).await;
    assert_eq!(again.status, 200, "{}", again.body);
    let unmapped = upsert(r#"{"id":"acme-9","ceo":"Wile"}"#).await;
    assert_eq!(unmapped.status, 400, "{}", unmapped.body);
    assert!(
        unmapped.body.contains("ceo"),
        "names the unmapped field: {}",
        unmapped.body
    );
}

/// A `<result>`'s children as the JSON get-user-info answers: local name to
/// text, `null` for `xsi:nil`, the first of repeated names, in order.
fn result_as_json(xml: &str) -> serde_json::Value {
    const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    let doc = roxmltree::Document::parse(xml).expect("the API's answer parses");
    let result = doc
        .descendants()
        .find(|n| n.has_tag_name("result"))
        .expect("a <result>");
    let mut fields = serde_json::Map::new();
    for field in result.children().filter(|n| n.is_element()) {
        let name = field.tag_name().name().to_string();
        let value = match field.attribute((XSI, "nil")) {
            Some("true") => serde_json::Value::Null,
            _ => field.text().unwrap_or("").into(),
        };
        fields.entry(name).or_insert(value);
    }
    serde_json::Value::Object(fields)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_of_wit_0_3_1_runs_beside_one_the_host_reads_soap_for() {
    // get-user-info (0.3.2: the host reads the answer's <result> for it)
    // and a workflow pinned to 0.3.1 (no `soap` import: it gets the raw
    // answer) in one gateway: both load and run, and the JSON is exactly
    // the fields of the answer the 0.3.1 workflow passes through.
    let sim = start_sim().await;
    let gw = TestGateway::start(
        &sim,
        &workflows(&[
            ("user", "get_user_info.wasm", ""),
            ("old", "wit_0_3_1.wasm", ""),
        ]),
        &[
            ("get_user_info.wasm", GET_USER_INFO),
            ("wit_0_3_1.wasm", WIT_0_3_1),
        ],
    )
    .await;
    let old = gw.call("GET", "/tenants/acme/workflows/old", KEY, "").await;
    assert_eq!(old.status, 200, "{}", old.body);
    assert_eq!(old.header("x-wit"), Some("0.3.1"));
    assert_eq!(old.header("x-verdict"), Some("success"));
    assert!(old.body.contains("<getUserInfoResponse"), "{}", old.body);
    let user = gw
        .call("GET", "/tenants/acme/workflows/user", KEY, "")
        .await;
    assert_eq!(user.status, 200, "{}", user.body);
    let expected = result_as_json(&old.body);
    assert!(
        expected.as_object().is_some_and(|f| f.len() > 10),
        "{expected}"
    );
    assert_eq!(
        serde_json::to_string(&user.json()).unwrap(),
        serde_json::to_string(&expected).unwrap(),
        "the same fields, values and order"
    );
    gw.shutdown().await;
}

/// error-cases' `/soap-call/{way}`: `operation` sent and its answer's
/// `<result>`s read in one host call (`one-call`, WIT 0.3.3
/// `soap.send-for-results`) or in two (`two-calls`: `upstream.send`, then
/// `soap.results` on the body).
async fn soap_call(gw: &TestGateway, way: &str, operation: &str) -> twoway_tests::gateway::Reply {
    let path = format!("/tenants/acme/workflows/cases/soap-call/{way}");
    gw.call("POST", &path, KEY, operation).await
}

/// What a caller can tell of an answer: its status and, for a problem,
/// its code and detail; else its body.
fn seen(reply: &twoway_tests::gateway::Reply) -> (u16, String) {
    let shown = if reply.status == 200 {
        reply.body.clone()
    } else {
        let problem = reply.json();
        format!("{} {}", problem["code"], problem["detail"])
    };
    (reply.status, shown)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_call_for_results_answers_what_send_and_results_answer() {
    // The host sending and reading in one call (0.3.3) gives a workflow
    // what sending and handing the answer back gives (0.3.2): the same
    // fields, the same faults, and an expired session re-logged in and
    // retried as transparently; a workflow pinned to 0.3.2 (its `soap`
    // without `send-for-results`) still links and runs beside them.
    let sim = start_sim().await;
    let gw = TestGateway::start(
        &sim,
        &workflows(&[
            ("user", "get_user_info.wasm", ""),
            ("cases", "error_cases.wasm", ""),
            ("pinned", "wit_0_3_2.wasm", ""),
        ]),
        &[
            ("get_user_info.wasm", GET_USER_INFO),
            ("error_cases.wasm", ERROR_CASES),
            ("wit_0_3_2.wasm", WIT_0_3_2),
        ],
    )
    .await;
    let get_user_info = "<urn:getUserInfo/>";
    let one = soap_call(&gw, "one-call", get_user_info).await;
    let two = soap_call(&gw, "two-calls", get_user_info).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(seen(&one), seen(&two));
    let user = gw
        .call("GET", "/tenants/acme/workflows/user", KEY, "")
        .await;
    assert_eq!(user.status, 200, "{}", user.body);
    assert_eq!(one.json(), serde_json::json!([user.json()]));
    assert!(!one.body.contains("00D5g000004Acme!"), "no session id");
    let pinned = gw
        .call("GET", "/tenants/acme/workflows/pinned", KEY, "")
        .await;
    assert_eq!(pinned.status, 200, "{}", pinned.body);
    assert_eq!(pinned.header("x-wit"), Some("0.3.2"));
    assert_eq!(pinned.body, user.json()["userName"].as_str().unwrap());
    let fields = user.json().as_object().unwrap().len().to_string();
    assert_eq!(pinned.header("x-fields"), Some(fields.as_str()));

    // Faults: a field that does not exist, an operation that does not.
    for (operation, code) in [
        (
            "<urn:query><urn:queryString>SELECT Nope FROM Account</urn:queryString></urn:query>",
            "INVALID_FIELD",
        ),
        ("<urn:noSuchOperation/>", "Client"),
    ] {
        let one = soap_call(&gw, "one-call", operation).await;
        let two = soap_call(&gw, "two-calls", operation).await;
        let problem = one.assert_problem(502, "upstream_fault");
        assert!(
            problem["detail"].as_str().unwrap().contains(code),
            "{}",
            one.body
        );
        assert_eq!(seen(&one), seen(&two), "{operation}");
    }

    // An expired session: one re-login and the retry, inside either call.
    for way in ["one-call", "two-calls"] {
        let logins = twoway_tests::fleet::logins(&sim).await;
        let expired = twoway_tests::admin_post(&sim, "/sessions/expire").await;
        assert_eq!(expired["expired"], 1, "{expired}");
        let again = soap_call(&gw, way, get_user_info).await;
        assert_eq!(seen(&again), seen(&two), "{way}");
        assert_eq!(twoway_tests::fleet::logins(&sim).await, logins + 1, "{way}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lead_intake_validates_and_creates_a_lead() {
    let sim = start_sim().await;
    let gw = TestGateway::start(
        &sim,
        &workflows(&[("lead", "lead_intake.wasm", "")]),
        &[("lead_intake.wasm", LEAD_INTAKE)],
    )
    .await;
    let created = gw
        .call("POST", "/tenants/acme/workflows/lead", KEY, r#"{"first_name":"Daffy","last_name":"Duck","company":"Acme Looney","email":"daffy@looney.example"}"#)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.json()["id"].as_str().unwrap().starts_with("00Q"));
    let invalid = gw
        .call(
            "POST",
            "/tenants/acme/workflows/lead",
            KEY,
            r#"{"first_name":"Daffy","last_name":"Duck"}"#,
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.header("content-type"),
        Some("application/problem+json")
    );
    let problem = invalid.json();
    assert_eq!(problem["code"], "bad_request");
    assert!(
        problem["detail"].as_str().unwrap().contains("company"),
        "{problem}"
    );
    assert_eq!(problem["tenant"], "acme");
    assert_eq!(problem["workflow"], "lead");
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_plugins_get_their_codes_and_the_gateway_keeps_serving() {
    let sim = start_sim().await;
    let tenants = workflows(&[
        ("user", "get_user_info.wasm", ""),
        ("spin", "spin_forever.wasm", "timeout_ms = 500"),
        ("memory", "eat_memory.wasm", "memory_mb = 16"),
        ("panic", "panic.wasm", ""),
        (
            "huge",
            "huge_output.wasm",
            "memory_mb = 256\nmax_output_kb = 1024",
        ),
        ("escape", "escape_sandbox.wasm", ""),
    ]);
    let plugins = [
        ("get_user_info.wasm", GET_USER_INFO),
        ("spin_forever.wasm", SPIN_FOREVER),
        ("eat_memory.wasm", EAT_MEMORY),
        ("panic.wasm", PANIC),
        ("huge_output.wasm", HUGE_OUTPUT),
        ("escape_sandbox.wasm", ESCAPE_SANDBOX),
    ];
    let gw = TestGateway::start(&sim, &tenants, &plugins).await;
    for (workflow, status, code) in [
        ("spin", 504, "plugin_timeout"),
        ("memory", 500, "plugin_memory_exceeded"),
        ("panic", 500, "plugin_trap"),
        ("huge", 500, "plugin_output_too_large"),
    ] {
        let reply = gw
            .call(
                "GET",
                &format!("/tenants/acme/workflows/{workflow}"),
                KEY,
                "",
            )
            .await;
        assert_eq!(reply.status, status, "{workflow}: {}", reply.body);
        assert_eq!(reply.json()["code"], code, "{workflow}");
        let healthy = gw
            .call("GET", "/tenants/acme/workflows/user", KEY, "")
            .await;
        assert_eq!(
            healthy.status, 200,
            "after {workflow}, others still serve: {}",
            healthy.body
        );
    }
    let escape = gw
        .call("GET", "/tenants/acme/workflows/escape", KEY, "")
        .await;
    assert_eq!(escape.status, 200, "{}", escape.body);
    let seen = escape.json();
    assert_eq!(seen["file"], false, "no files: {seen}");
    assert_eq!(seen["dir"], false, "no directories: {seen}");
    assert_eq!(seen["env"], 0, "no environment: {seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_see_config_and_session_facts_but_no_secret() {
    let sim = start_sim().await;
    let tenants = workflows(&[(
        "ctx",
        "log_and_config.wasm",
        r#"config = { greeting = "hello" }"#,
    )]);
    let gw = TestGateway::start(&sim, &tenants, &[("log_and_config.wasm", LOG_AND_CONFIG)]).await;
    let reply = gw.call("GET", "/tenants/acme/workflows/ctx", KEY, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("hello"), "{}", reply.body);
    assert!(
        reply.body.contains("00D5g000004Acme"),
        "org id is a fact it may know: {}",
        reply.body
    );
    assert!(
        !reply.body.contains("00D5g000004Acme!"),
        "but never the session id: {}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_plugin_logs_is_capped_per_call_and_counted() {
    let sim = start_sim().await;
    let tenants = workflows(&[(
        "ctx",
        "log_and_config.wasm",
        r#"config = { flood = "1000" }"#,
    )]);
    let gw = TestGateway::start(&sim, &tenants, &[("log_and_config.wasm", LOG_AND_CONFIG)]).await;
    for call in 1..=2u64 {
        let reply = gw.call("GET", "/tenants/acme/workflows/ctx", KEY, "").await;
        assert_eq!(
            reply.status, 200,
            "a chatty plugin still answers: {}",
            reply.body
        );
        let plugins = gw.admin_get("/admin/plugins").await.json();
        // 1000 log lines + 1000 stdout lines + 5 level lines, 200 kept.
        assert_eq!(
            plugins["plugins"][0]["log_lines_dropped"],
            call * 1805,
            "{plugins}"
        );
    }
    let metrics = gw.admin_get("/metrics").await.body;
    assert!(
        metrics.contains(
            "twoway_plugin_log_lines_dropped_total{tenant=\"acme\",workflow=\"ctx\"} 3610"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_reload_under_load_loses_no_request() {
    let sim = start_sim().await;
    let tenants = workflows(&[("v", "version.wasm", "")]);
    let gw = TestGateway::start(&sim, &tenants, &[("version.wasm", VERSION_A)]).await;
    let first = gw.call("GET", "/tenants/acme/workflows/v", KEY, "").await;
    assert_eq!(first.body, "a");
    let url = gw.url.clone();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(async move {
        let mut count = 0u32;
        while !*stop.borrow() {
            let reply = twoway_tests::gateway::http(
                "GET",
                &format!("{url}/tenants/acme/workflows/v"),
                &[(
                    "authorization",
                    "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
                )],
                "",
            )
            .await;
            assert_eq!(
                reply.status, 200,
                "no failed request during reloads: {}",
                reply.body
            );
            assert!(reply.body == "a" || reply.body == "b");
            count += 1;
        }
        count
    });
    let dest = gw.plugins_dir().join("version.wasm");
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let (source, expected) = if i % 2 == 0 {
            (VERSION_B, "b")
        } else {
            (VERSION_A, "a")
        };
        let written = Instant::now();
        replace_file(source, &dest);
        loop {
            let reply = gw.call("GET", "/tenants/acme/workflows/v", KEY, "").await;
            if reply.body == expected {
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(30),
                "swap {i} never happened"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        slowest = slowest.max(written.elapsed());
        if i == 10 {
            // A broken component mid-run changes nothing for callers.
            std::fs::write(&dest, b"\0asm not really a component").unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            let reply = gw.call("GET", "/tenants/acme/workflows/v", KEY, "").await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, expected, "the previous version keeps serving");
            let status = gw.admin_get("/admin/plugins").await.json();
            let error = status["plugins"][0]["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(error.contains("not a valid component"), "{status}");
        }
    }
    stop_tx.send(true).unwrap();
    let served = load.await.expect("no request failed");
    assert!(served > 0);
    eprintln!("hot reload: {served} requests under load, slowest swap visible after {slowest:?}");
}

/// Memory slots are reset in place between calls (`keep_resident`): no
/// call may see a static or heap byte another call wrote, in its own
/// tenant or another's, one after another or side by side.
#[tokio::test(flavor = "multi_thread")]
async fn every_call_starts_with_fresh_memory() {
    let sim = start_sim().await;
    let globex = twoway_tests::gateway::GLOBEX;
    let tenants = with_workflow(ACME, "fresh", "fresh_memory.wasm", "")
        + &with_workflow(globex, "fresh", "fresh_memory.wasm", "");
    let gw = TestGateway::start(&sim, &tenants, &[("fresh_memory.wasm", FRESH_MEMORY)]).await;
    let fresh = serde_json::json!({"calls": 1, "dirty_static": 0, "dirty_heap": 0});
    for round in 0..20 {
        let (tenant, key) = if round % 2 == 0 {
            ("acme", KEY)
        } else {
            ("globex", Some("globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d"))
        };
        let reply = gw
            .call(
                "GET",
                &format!("/tenants/{tenant}/workflows/fresh"),
                key,
                "",
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json(), fresh, "call {round} ({tenant})");
    }
    for reply in gw
        .burst(
            "/tenants/acme/workflows/fresh",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            32,
        )
        .await
    {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json(), fresh);
    }
}
