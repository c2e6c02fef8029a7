//! `/metrics` of a real gateway, read with a real OpenMetrics parser:
//! names and types by the Prometheus conventions (counters `*_total`,
//! histograms in seconds, the certificate expiry as a timestamp), counters
//! that keep counting across a reload that replaces the session and the
//! pool, series of a removed tenant dropped, and the API budget: usage read
//! from the simulator's LimitInfoHeader, calls refused with
//! `api_limit_exceeded` 429 and Retry-After once the budget is reached.

use openmetrics_parser::{MetricFamily, OpenMetricsType, OpenMetricsValue};
use twoway_tests::gateway::{ACME, GLOBEX, Reply, TestGateway, http};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{ACME_ORG, ANALYST_PASSWORD, ANALYST_USER, admin_get, start_sim};

const ACME_KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
const GLOBEX_KEY: Option<&str> = Some("globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d");

type Exposition = openmetrics_parser::MetricsExposition<OpenMetricsType, OpenMetricsValue>;
type Family = MetricFamily<OpenMetricsType, OpenMetricsValue>;

fn workflow(name: &str) -> String {
    format!("[[tenant.workflow]]\nname = \"{name}\"\nplugin = \"get_user_info.wasm\"\n")
}

/// `tenant` with `keys` added to its `[[tenant]]` table.
fn with_keys(tenant: &str, keys: &str) -> String {
    tenant.replacen("[tenant.auth]", &format!("{keys}\n[tenant.auth]"), 1)
}

async fn call(gw: &TestGateway, tenant: &str, key: Option<&str>) -> Reply {
    gw.call("GET", &format!("/tenants/{tenant}/workflows/user"), key, "")
        .await
}

/// `/metrics`, parsed; the content type is OpenMetrics.
async fn scrape(gw: &TestGateway) -> Exposition {
    let reply = gw.admin_get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        reply.headers
    );
    assert!(reply.body.ends_with("# EOF\n"), "{}", reply.body);
    openmetrics_parser::openmetrics::parse_openmetrics(&reply.body)
        .unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{}", reply.body))
}

fn family<'a>(metrics: &'a Exposition, name: &str, kind: OpenMetricsType) -> &'a Family {
    let family = metrics
        .families
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", metrics.families.keys()));
    assert_eq!(family.family_type, kind, "{name}");
    family
}

/// The value of the series of `name` with exactly `labels` (a histogram
/// gives its count), if there is one.
fn value(metrics: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = metrics.families.get(name)?;
    family.iter_samples().find_map(|sample| {
        let set = sample.get_labelset().ok()?;
        let matches = set.iter().count() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v));
        if !matches {
            return None;
        }
        Some(match &sample.value {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Gauge(g) => g.as_f64(),
            OpenMetricsValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            other => panic!("{name}: unexpected {other:?}"),
        })
    })
}

fn tenant_has_series(metrics: &Exposition, tenant: &str) -> Vec<String> {
    metrics
        .families
        .iter()
        .filter(|(_, family)| {
            family.iter_samples().any(|s| {
                s.get_labelset()
                    .is_ok_and(|set| set.get_label_value("tenant") == Some(tenant))
            })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn names_and_types_follow_prometheus_and_counters_survive_a_reload() {
    let sim = start_sim().await;
    let tenants = format!("{ACME}{}{GLOBEX}{}", workflow("user"), workflow("user"));
    let gw = TestGateway::start(&sim, &tenants, &[("get_user_info.wasm", GET_USER_INFO)]).await;
    for _ in 0..2 {
        let reply = call(&gw, "acme", ACME_KEY).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let _ = call(&gw, "globex", GLOBEX_KEY).await;

    let m = scrape(&gw).await;
    let acme = [("tenant", "acme")];
    let user = [("tenant", "acme"), ("workflow", "user")];
    let ok = [("tenant", "acme"), ("workflow", "user"), ("status", "200")];
    family(&m, "twoway_requests", OpenMetricsType::Counter);
    assert_eq!(value(&m, "twoway_requests", &ok), Some(2.0));
    family(&m, "twoway_logins", OpenMetricsType::Counter);
    assert_eq!(value(&m, "twoway_logins", &acme), Some(1.0));
    family(&m, "twoway_login_failures", OpenMetricsType::Counter);
    family(
        &m,
        "twoway_upstream_tls_handshakes",
        OpenMetricsType::Counter,
    );
    let handshakes = value(&m, "twoway_upstream_tls_handshakes", &acme).expect("handshakes");
    assert!(handshakes >= 1.0);
    family(&m, "twoway_plugin_reloads", OpenMetricsType::Counter);
    assert_eq!(value(&m, "twoway_plugin_reloads", &user), Some(1.0));
    family(&m, "twoway_config_reloads", OpenMetricsType::Counter);
    family(
        &m,
        "twoway_request_duration_seconds",
        OpenMetricsType::Histogram,
    );
    assert_eq!(
        value(&m, "twoway_request_duration_seconds", &user),
        Some(2.0)
    );
    family(
        &m,
        "twoway_upstream_request_duration_seconds",
        OpenMetricsType::Histogram,
    );
    let soap_ok = [
        ("tenant", "acme"),
        ("api", "soap-partner"),
        ("code", "success"),
    ];
    assert_eq!(
        value(&m, "twoway_upstream_request_duration_seconds", &soap_ok),
        Some(2.0)
    );
    family(
        &m,
        "twoway_login_duration_seconds",
        OpenMetricsType::Histogram,
    );
    let logged_in = [("tenant", "acme"), ("outcome", "success")];
    assert_eq!(
        value(&m, "twoway_login_duration_seconds", &logged_in),
        Some(1.0)
    );
    family(
        &m,
        "twoway_tenant_queue_wait_seconds",
        OpenMetricsType::Histogram,
    );
    assert_eq!(
        value(&m, "twoway_tenant_queue_wait_seconds", &acme),
        Some(2.0)
    );
    family(
        &m,
        "twoway_client_certificate_expiry_timestamp_seconds",
        OpenMetricsType::Gauge,
    );
    let expiry = value(
        &m,
        "twoway_client_certificate_expiry_timestamp_seconds",
        &acme,
    )
    .expect("acme's certificate expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        expiry > now && expiry < now + 50.0 * 365.0 * 86400.0,
        "{expiry}"
    );
    family(&m, "twoway_api_requests_used", OpenMetricsType::Gauge);
    assert_eq!(value(&m, "twoway_api_requests_limit", &acme), Some(15000.0));
    let used = value(&m, "twoway_api_requests_used", &acme).expect("usage");
    assert!(used >= 2.0, "{used}");
    family(&m, "twoway_requests_in_flight", OpenMetricsType::Gauge);
    assert!(!tenant_has_series(&m, "globex").is_empty());

    // A reload that drops globex and gives acme another user (a new
    // session) without a client certificate (a new pool).
    std::fs::write(gw.dir.path().join("analyst-pw.txt"), ANALYST_PASSWORD).unwrap();
    let analyst = format!(
        "[[tenant]]\nname = \"acme\"\napi_keys_file = \"acme-keys.txt\"\nlogin_url = \"{{login_url}}\"\nextra_roots = [\"{{pki}}/root-ca.pem\"]\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"{ANALYST_USER}\"\npassword_file = \"analyst-pw.txt\"\n{}",
        workflow("user")
    );
    gw.write_config("", &analyst);
    let reload = http("POST", &format!("{}/admin/reload", gw.admin), &[], "").await;
    assert_eq!(reload.status, 200, "{}", reload.body);
    let reply = call(&gw, "acme", ACME_KEY).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let m = scrape(&gw).await;
    assert_eq!(
        value(&m, "twoway_requests", &ok),
        Some(3.0),
        "the counter went on"
    );
    assert_eq!(
        value(&m, "twoway_logins", &acme),
        Some(2.0),
        "the new session's login adds to the old one's"
    );
    let after = value(&m, "twoway_upstream_tls_handshakes", &acme).expect("handshakes");
    assert!(
        after > handshakes,
        "the new pool's handshakes add: {after} > {handshakes}"
    );
    assert_eq!(
        value(&m, "twoway_config_reloads", &[("result", "success")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "twoway_upstream_request_duration_seconds", &soap_ok),
        Some(3.0)
    );
    assert_eq!(
        tenant_has_series(&m, "globex"),
        Vec::<String>::new(),
        "a removed tenant's series are dropped"
    );
    assert_eq!(
        value(
            &m,
            "twoway_client_certificate_expiry_timestamp_seconds",
            &acme
        ),
        None,
        "acme has no client certificate any more"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_budget_refuses_calls_before_salesforce_does() {
    let sim = start_sim().await;
    let tenants = format!(
        "{}{}",
        with_keys(ACME, "api_budget_per_day = 3"),
        workflow("user")
    );
    let gw = TestGateway::start(&sim, &tenants, &[("get_user_info.wasm", GET_USER_INFO)]).await;
    let usage = || async {
        admin_get(&sim, "/counters")
            .await
            .pointer(&format!("/api_usage_by_org/{ACME_ORG}"))
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    };
    let mut calls = 0;
    let refused = loop {
        let reply = call(&gw, "acme", ACME_KEY).await;
        if reply.status != 200 {
            break reply;
        }
        calls += 1;
        assert!(calls <= 3, "the budget of 3 was not enforced");
    };
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(
        refused.json()["code"],
        "api_limit_exceeded",
        "{}",
        refused.body
    );
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=86_400).contains(&retry), "{retry}");
    let used = usage().await;
    assert_eq!(used, 3, "the org's usage stopped at the budget");
    assert_eq!(calls, 3, "calls before the refusal");

    let m = scrape(&gw).await;
    let acme = [("tenant", "acme")];
    assert_eq!(value(&m, "twoway_api_requests_used", &acme), Some(3.0));
    assert_eq!(value(&m, "twoway_api_requests_limit", &acme), Some(15000.0));
    family(&m, "twoway_api_requests_budget", OpenMetricsType::Gauge);
    assert_eq!(value(&m, "twoway_api_requests_budget", &acme), Some(3.0));
    let limited = [("tenant", "acme"), ("workflow", "user"), ("status", "429")];
    assert_eq!(value(&m, "twoway_requests", &limited), Some(1.0));
    gw.shutdown().await;
}

/// `twoway_build_info` names the running build (version, the commit the
/// program says it was built from, the WIT version) and the standard
/// `process_*` metrics describe the `twoway serve` process itself.
#[tokio::test(flavor = "multi_thread")]
async fn build_info_and_process_metrics_describe_the_running_program() {
    let sim = start_sim().await;
    let tenants = format!("{ACME}{}", workflow("user"));
    let mut gw =
        TestGateway::configure(&sim, "", &tenants, &[("get_user_info.wasm", GET_USER_INFO)]);
    let _serving = gw.serve_process(&[]);
    let m = scrape(&gw).await;
    family(&m, "twoway_build_info", OpenMetricsType::Gauge);
    let build = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("commit", twoway_cli::COMMIT),
        ("wit", twoway::plugin::WIT_VERSION),
    ];
    assert_eq!(value(&m, "twoway_build_info", &build), Some(1.0));
    let commit = twoway_cli::COMMIT;
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );

    family(&m, "process_cpu_seconds", OpenMetricsType::Counter);
    let cpu = value(&m, "process_cpu_seconds", &[]).expect("cpu seconds");
    assert!(cpu > 0.0, "{cpu}");
    let gauge = |name: &str| {
        family(&m, name, OpenMetricsType::Gauge);
        value(&m, name, &[]).unwrap_or_else(|| panic!("no {name}"))
    };
    let resident = gauge("process_resident_memory_bytes");
    assert!(resident > 1e6 && resident < 4e9, "{resident}");
    assert!(gauge("process_virtual_memory_bytes") >= resident);
    let open = gauge("process_open_fds");
    // Two listeners, the watcher, stdio at least.
    assert!(open >= 5.0, "{open}");
    assert!(gauge("process_max_fds") >= open);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = gauge("process_start_time_seconds");
    // The process started after this test did, and not in the future.
    assert!(
        start <= now + 1.0 && start > now - 600.0,
        "{start} vs {now}"
    );
}
