//! Workflows written in JavaScript and in Python (plugins/js/soql-query and
//! plugins/python/soql-query, built by `scripts/build-js-plugins` with
//! componentize-js and `scripts/build-py-plugins` with componentize-py) in
//! the real gateway against the simulator: the same answer as the Rust
//! soql-query, a fresh instance per call (module state never carries over),
//! their errors (their own, the API's faults, the host's upstream errors
//! passed on) with their problem codes, and the memory limit.
//!
//! The components are built outside cargo (they need Node.js and Python).
//! When one is missing its checks print how to build it and are skipped,
//! unless `TWOWAY_REQUIRE_JS=1` / `TWOWAY_REQUIRE_PY=1` (set by scripts/test),
//! where the test fails.

use std::path::PathBuf;

use twoway_sim::Sim;
use twoway_tests::gateway::{ACME, Reply, TestGateway};
use twoway_tests::plugins::SOQL_QUERY;
use twoway_tests::{start_sim, start_sim_with};

const KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");

/// A language other than Rust: where its built component is and how to build it.
struct Lang {
    /// The workflow's name in the test config.
    workflow: &'static str,
    /// The component, relative to the repository root.
    file: &'static str,
    script: &'static str,
    require: &'static str,
}

const LANGS: [Lang; 2] = [
    Lang {
        workflow: "js",
        file: "target/plugins-js/soql-query.wasm",
        script: "scripts/build-js-plugins (it installs Node.js, npm and componentize-js when missing)",
        require: "TWOWAY_REQUIRE_JS",
    },
    Lang {
        workflow: "python",
        file: "target/plugins-py/soql-query.wasm",
        script: "scripts/build-py-plugins (it installs python3 and componentize-py when missing)",
        require: "TWOWAY_REQUIRE_PY",
    },
];

/// The built components as (workflow, path); a missing one is a note, or a
/// failure when its `TWOWAY_REQUIRE_*` is 1.
fn built() -> Vec<(&'static str, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for lang in &LANGS {
        let path = root.join(lang.file);
        if path.is_file() {
            found.push((lang.workflow, path.display().to_string()));
        } else if std::env::var(lang.require).is_ok_and(|v| v == "1") {
            panic!(
                "{} is missing and {}=1: build it first with {}",
                lang.file, lang.require, lang.script
            );
        } else {
            eprintln!(
                "note: {} skipped, {} is not built; run {} (or set {}=1 to make this a failure)",
                lang.workflow, lang.file, lang.script, lang.require
            );
        }
    }
    found
}

/// One gateway start at a time: the first compiles the large components into
/// the shared artifact cache, the next ones load them from it.
static ONE_START_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A workflow of the test config: name, built component, extra TOML lines.
type Workflow = (String, String, String);

/// The built JS and Python workflows and a simulator from `sim`, or None
/// when none is built (then the test has nothing to run; `built` says why).
async fn ready(
    sim: impl std::future::Future<Output = Sim>,
) -> Option<(Vec<(&'static str, String)>, Sim)> {
    let langs = built();
    if langs.is_empty() {
        return None;
    }
    Some((langs, sim.await))
}

/// Each built component as the workflow `{language}{suffix}` with `extra`.
fn workflows(langs: &[(&str, String)], suffix: &str, extra: &str) -> Vec<Workflow> {
    langs
        .iter()
        .map(|(lang, path)| (format!("{lang}{suffix}"), path.clone(), extra.to_string()))
        .collect()
}

/// The workflows' config exercises the `config` and `log` imports.
const LOG_COUNT: &str = "config = { log_count = \"true\" }";

/// Tenant `tenant` with the Rust soql-query as `rust` and `workflows` (with
/// default limits unless their extra lines say otherwise: 64 MiB is plenty).
async fn gateway(sim: &Sim, tenant: &str, workflows: &[Workflow]) -> TestGateway {
    let mut config =
        format!("{tenant}[[tenant.workflow]]\nname = \"rust\"\nplugin = \"soql_query.wasm\"\n");
    let mut plugins = vec![("soql_query.wasm".to_string(), SOQL_QUERY.to_string())];
    for (name, path, extra) in workflows {
        config.push_str(&format!(
            "[[tenant.workflow]]\nname = \"{name}\"\nplugin = \"{name}.wasm\"\n{extra}\n"
        ));
        plugins.push((format!("{name}.wasm"), path.clone()));
    }
    let plugins: Vec<(&str, &str)> = plugins
        .iter()
        .map(|(name, path)| (name.as_str(), path.as_str()))
        .collect();
    let _one = ONE_START_AT_A_TIME.lock().await;
    TestGateway::start(sim, &config, &plugins).await
}

/// A problem answer of `workflow`.
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, code: &str, workflow: &str) -> serde_json::Value {
    let problem = reply.assert_problem(status, code);
    assert_eq!(problem["workflow"], workflow, "{problem}");
    problem
}

#[tokio::test(flavor = "multi_thread")]
async fn js_and_python_answer_like_the_rust_workflow() {
    let Some((langs, sim)) = ready(start_sim_with(|c| c.limits.query_batch_size = 2)).await else {
        return;
    };
    let gw = gateway(&sim, ACME, &workflows(&langs, "", LOG_COUNT)).await;
    let body = r#"{"q":"SELECT Id, Name FROM Account"}"#;
    let rust = gw
        .call("POST", "/tenants/acme/workflows/rust", KEY, body)
        .await;
    assert_eq!(rust.status, 200, "{}", rust.body);

    for (workflow, _) in &langs {
        let path = format!("/tenants/acme/workflows/{workflow}");
        let reply = gw.call("POST", &path, KEY, body).await;
        assert_eq!(reply.status, 200, "{workflow}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let result = reply.json();
        assert_eq!(result["totalSize"], 3, "{workflow}: {result}");
        let names: Vec<_> = result["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["Name"].as_str().expect("Name").to_string())
            .collect();
        assert_eq!(
            names,
            [
                "Acme Corporation",
                "Road Runner Logistics",
                "Coyote Engineering"
            ],
            "{workflow}: every page of 2 records followed"
        );
        assert!(
            result["records"][0].get("attributes").is_none(),
            "{workflow}: attributes removed: {result}"
        );
        assert_eq!(result, rust.json(), "{workflow} answers what Rust answers");

        let by_query_string = gw
            .call(
                "GET",
                &format!("{path}?q=SELECT+Name+FROM+Account+WHERE+Industry+%3D+%27Engineering%27"),
                KEY,
                "",
            )
            .await;
        assert_eq!(
            by_query_string.json()["records"][0]["Name"],
            "Coyote Engineering",
            "{workflow}: {}",
            by_query_string.body
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_js_and_python_call_gets_a_fresh_instance() {
    let Some((langs, sim)) = ready(start_sim()).await else {
        return;
    };
    let gw = gateway(&sim, ACME, &workflows(&langs, "", LOG_COUNT)).await;
    let body = r#"{"q":"SELECT Id FROM Account"}"#;
    for (workflow, _) in &langs {
        let path = format!("/tenants/acme/workflows/{workflow}");
        // The workflow counts its calls in a module-level variable and
        // answers the count: state set by one call would show as 2, 3, ...
        let fresh = |reply: Reply, when: &str| {
            assert_eq!(reply.status, 200, "{workflow}: {}", reply.body);
            assert_eq!(
                reply.header("x-calls-in-instance"),
                Some("1"),
                "{workflow}: {when} saw module state of an earlier call"
            );
        };
        for round in 1..=3 {
            fresh(
                gw.call("POST", &path, KEY, body).await,
                &format!("call {round}"),
            );
            // The next call takes an instance made ahead of it.
            ready_ahead(&gw, workflow).await;
        }
        let call = || gw.call("POST", &path, KEY, body);
        let (a, b, c, d) = tokio::join!(call(), call(), call(), call());
        for reply in [a, b, c, d] {
            fresh(reply, "a concurrent call");
        }
        let instances = instances(&gw, workflow).await;
        assert_eq!(instances["prepared_ahead"], true, "{workflow}: {instances}");
        assert!(
            instances["calls_ahead"].as_u64() >= Some(3),
            "{workflow}: calls 2 and 3 and the concurrent ones took instances made ahead: {instances}"
        );
    }
    // A Rust component instantiates in tens of microseconds: per call.
    let rust = instances(&gw, "rust").await;
    assert_eq!(rust["prepared_ahead"], false, "{rust}");
    gw.shutdown().await;
}

/// How `workflow`'s live version got its instances (`/admin/plugins`).
async fn instances(gw: &TestGateway, workflow: &str) -> serde_json::Value {
    let plugins = gw.admin_get("/admin/plugins").await.json();
    plugins["plugins"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["workflow"] == workflow))
        .map(|p| p["instances"].clone())
        .unwrap_or_else(|| panic!("{workflow} is not in /admin/plugins: {plugins}"))
}

/// Waits (up to 30 s) until `workflow` has an instance made ahead.
async fn ready_ahead(gw: &TestGateway, workflow: &str) {
    for _ in 0..3000 {
        if instances(gw, workflow).await["ready"].as_u64() >= Some(1) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "{workflow}: no instance was made ahead: {}",
        instances(gw, workflow).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn js_and_python_errors_keep_their_problem_codes() {
    let Some((langs, sim)) = ready(start_sim()).await else {
        return;
    };
    let gw = gateway(&sim, ACME, &workflows(&langs, "", LOG_COUNT)).await;
    for (workflow, _) in &langs {
        let path = format!("/tenants/acme/workflows/{workflow}");
        // Their own workflow-error: no query, a body that is not JSON.
        let reply = gw.call("GET", &format!("{path}?q=+"), KEY, "").await;
        let problem = assert_problem(&reply, 400, "bad_request", workflow);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("send a SOQL query")),
            "{workflow}: {problem}"
        );
        let reply = gw.call("POST", &path, KEY, "{not json").await;
        assert_problem(&reply, 400, "bad_request", workflow);

        // The API's error array, turned into an upstream fault.
        let reply = gw
            .call("GET", &format!("{path}?q=SELECT+Id+FROM"), KEY, "")
            .await;
        let problem = assert_problem(&reply, 502, "upstream_fault", workflow);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("MALFORMED_QUERY")),
            "{workflow}: the API's code reaches the caller: {problem}"
        );
    }
    gw.shutdown().await;

    // Globex's certificate for Acme: the host's upstream-error, which the
    // workflows pass on, keeps the host's code.
    let wrong_cert = ACME.replace("fullcert.pem", "fullcert-b.pem");
    let gw = gateway(&sim, &wrong_cert, &workflows(&langs, "", "")).await;
    for (workflow, _) in &langs {
        let reply = gw
            .call(
                "GET",
                &format!("/tenants/acme/workflows/{workflow}?q=SELECT+Id+FROM+Account"),
                KEY,
                "",
            )
            .await;
        assert_problem(&reply, 502, "client_certificate_rejected", workflow);
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit_holds_for_js_and_python() {
    let Some((langs, sim)) = ready(start_sim()).await else {
        return;
    };
    // The same components again with 4 MiB: less than their runtimes' heap.
    let mut all = workflows(&langs, "", "");
    all.extend(workflows(&langs, "-tiny", "memory_mb = 4"));
    let gw = gateway(&sim, ACME, &all).await;
    for (workflow, _) in &langs {
        let reply = gw
            .call(
                "GET",
                &format!("/tenants/acme/workflows/{workflow}-tiny?q=SELECT+Id+FROM+Account"),
                KEY,
                "",
            )
            .await;
        assert_problem(
            &reply,
            500,
            "plugin_memory_exceeded",
            &format!("{workflow}-tiny"),
        );
        let reply = gw
            .call(
                "GET",
                &format!("/tenants/acme/workflows/{workflow}?q=SELECT+Id+FROM+Account"),
                KEY,
                "",
            )
            .await;
        assert_eq!(reply.status, 200, "{workflow} still serves: {}", reply.body);
    }
    gw.shutdown().await;
}
