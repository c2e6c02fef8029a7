//! Reload changes only what changed, counted on the simulator: logins (its
//! `/counters`) and TLS handshakes (its mutual-port counter and the
//! gateway's `twoway_upstream_tls_handshakes_total`). Callers, workflows and
//! limits swap without a login or a handshake; a new identity or new
//! `[upstream]` settings give a new pool and keep the session; new login
//! settings start a new session; a failed reload leaves no trace; a login of
//! a replaced config never reaches the new one; the plugins watcher follows
//! `[plugins].dir`; the config watcher survives Kubernetes-style updates.

use std::path::Path;
use std::time::{Duration, Instant};

use twoway::gateway::Shape;
use twoway_sim::Sim;
use twoway_tests::fake_login::{Behaviour, FakeLogin};
use twoway_tests::gateway::{ACME, GLOBEX, Reply, TestGateway, http, replace_file};
use twoway_tests::plugins::{GET_USER_INFO, VERSION_A, VERSION_B};
use twoway_tests::{ANALYST_PASSWORD, ANALYST_USER, Client, admin_get, pki, start_sim};
use twoway_tests::{login_envelope, start_sim_with, xml_text};

const ACME_KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
/// How long a test polls for something that must happen.
const DEADLINE: Duration = Duration::from_secs(60);

fn workflow(name: &str, file: &str, extra: &str) -> String {
    format!("[[tenant.workflow]]\nname = \"{name}\"\nplugin = \"{file}\"\n{extra}\n")
}

/// The workflow `user`: the get-user-info plugin.
fn user_workflow() -> String {
    workflow("user", "get_user_info.wasm", "")
}

const GET_USER_INFO_PLUGIN: (&str, &str) = ("get_user_info.wasm", GET_USER_INFO);
const VERSION_A_PLUGIN: (&str, &str) = ("version_a.wasm", VERSION_A);

/// A gateway serving `tenants`, each with the workflow `user`, and `plugins`,
/// on one core: every call then uses the one pool whose handshakes are
/// counted (on more cores each core has a pool, and a call lands on any).
async fn start_users(sim: &Sim, tenants: &[&str], plugins: &[(&str, &str)]) -> TestGateway {
    let user = user_workflow();
    let text: String = tenants.iter().map(|t| format!("{t}{user}")).collect();
    let mut gw = TestGateway::configure(sim, "", &text, plugins);
    gw.serve_as(Shape::PerCore(1)).await;
    gw
}

/// `tenant` with `keys` added to its `[[tenant]]` table.
fn with_keys(tenant: &str, keys: &str) -> String {
    tenant.replacen("[tenant.auth]", &format!("{keys}\n[tenant.auth]"), 1)
}

async fn sim_counter(sim: &Sim, pointer: &str) -> u64 {
    admin_get(sim, "/counters")
        .await
        .pointer(pointer)
        .and_then(|v| v.as_u64())
        .unwrap_or_else(|| panic!("simulator counter {pointer}"))
}

async fn sim_logins(sim: &Sim) -> u64 {
    sim_counter(sim, "/logins").await
}

async fn mutual_handshakes(sim: &Sim) -> u64 {
    sim_counter(sim, "/handshakes/mutual").await
}

/// The gateway's `twoway_upstream_tls_handshakes_total` for `tenant`.
async fn pool_handshakes(gw: &TestGateway, tenant: &str) -> u64 {
    let metrics = gw.admin_get("/metrics").await.body;
    let series = format!("twoway_upstream_tls_handshakes_total{{tenant=\"{tenant}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

async fn call(gw: &TestGateway, workflow: &str, key: Option<&str>) -> Reply {
    gw.call(
        "GET",
        &format!("/tenants/acme/workflows/{workflow}"),
        key,
        "",
    )
    .await
}

/// Calls `workflow` until its body is `expected`.
async fn until_body(gw: &TestGateway, workflow: &str, expected: &str) {
    let started = Instant::now();
    loop {
        let reply = call(gw, workflow, ACME_KEY).await;
        if reply.status == 200 && reply.body == expected {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{workflow} never answered {expected:?}; last: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls `workflow` until it answers `status`.
async fn until_status(gw: &TestGateway, workflow: &str, status: u16) {
    let started = Instant::now();
    loop {
        let reply = call(gw, workflow, ACME_KEY).await;
        if reply.status == status {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{workflow} never answered {status}; last: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn acme_session(sessions: &serde_json::Value) -> &serde_json::Value {
    sessions["sessions"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["tenant"] == "acme"))
        .expect("acme in /admin/sessions")
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_workflows_and_limits_swap_without_a_login_or_a_handshake() {
    let sim = start_sim().await;
    let gw = start_users(&sim, &[ACME], &[GET_USER_INFO_PLUGIN, VERSION_A_PLUGIN]).await;
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(sim_logins(&sim).await, 1);
    let handshakes = pool_handshakes(&gw, "acme").await;
    let mutual = mutual_handshakes(&sim).await;
    assert!(handshakes >= 1);

    // A rotated API key, new limits, a workflow's config and a new workflow.
    std::fs::write(
        gw.dir.path().join("acme-keys.txt"),
        "acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c",
    )
    .unwrap();
    let tenant = with_keys(ACME, "max_concurrency = 3\nmax_queued = 7");
    let user = workflow("user", "get_user_info.wasm", "config = { note = \"x\" }");
    let v = workflow("v", "version_a.wasm", "");
    gw.write_config("", &format!("{tenant}{user}{v}"));
    let reloaded = gw.reload().await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);

    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 401, "old key");
    let new_key = Some("acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c");
    let reply = call(&gw, "user", new_key).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(call(&gw, "v", new_key).await.body, "a");
    assert_eq!(sim_logins(&sim).await, 1, "the session was kept");
    assert_eq!(
        pool_handshakes(&gw, "acme").await,
        handshakes,
        "the pool and its connections were kept"
    );
    assert_eq!(mutual_handshakes(&sim).await, mutual);
    let sessions = gw.admin_get("/admin/sessions").await.json();
    assert_eq!(acme_session(&sessions)["logins"], 1);
    assert_eq!(acme_session(&sessions)["state"], "active");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_identity_or_new_upstream_settings_give_a_new_pool_and_keep_the_session() {
    // Acme registers both its RSA and its ECDSA certificates.
    let sim = start_sim_with(|c| {
        let acme = c.orgs.iter_mut().find(|o| o.name == "Acme").unwrap();
        acme.certificate_files.push(pki().client_ec.clone());
    })
    .await;
    let user = user_workflow();
    let gw = start_users(&sim, &[ACME], &[GET_USER_INFO_PLUGIN]).await;
    // The identity moves into the gateway's directory so it can be rotated.
    let identity = gw.dir.path().join("identity.pem");
    std::fs::copy(&pki().fullcert, &identity).unwrap();
    let tenant = ACME.replace("{pki}/fullcert.pem", "identity.pem");
    gw.write_config("", &format!("{tenant}{user}"));
    assert_eq!(gw.reload().await.status, 200);
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(sim_logins(&sim).await, 1);
    let certificate = |s: &serde_json::Value| acme_session(s)["certificate_sha256"].clone();
    let before = certificate(&gw.admin_get("/admin/sessions").await.json());

    // The same config again: nothing changes, not even the pool.
    let mutual = mutual_handshakes(&sim).await;
    let handshakes = pool_handshakes(&gw, "acme").await;
    assert_eq!(gw.reload().await.status, 200);
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(pool_handshakes(&gw, "acme").await, handshakes);
    assert_eq!(mutual_handshakes(&sim).await, mutual);

    // A rotated certificate: a new pool (a new handshake on the mutual-auth
    // port, with the new certificate), the same session.
    replace_file(pki().fullcert_ec.to_str().unwrap(), &identity);
    assert_eq!(gw.reload().await.status, 200);
    let reply = call(&gw, "user", ACME_KEY).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(mutual_handshakes(&sim).await, mutual + 1);
    assert_eq!(sim_logins(&sim).await, 1, "the session was kept");
    let sessions = gw.admin_get("/admin/sessions").await.json();
    assert_ne!(
        certificate(&sessions),
        before,
        "the new certificate is used"
    );
    assert_eq!(acme_session(&sessions)["logins"], 1);

    // New [upstream] settings: a new pool again, the same session.
    gw.write_config(
        "[upstream]\npool_idle_timeout_s = 60\n",
        &format!("{tenant}{user}"),
    );
    assert_eq!(gw.reload().await.status, 200);
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(mutual_handshakes(&sim).await, mutual + 2);
    assert_eq!(sim_logins(&sim).await, 1, "the session was kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn new_credentials_start_a_new_session_on_the_same_pool() {
    let sim = start_sim().await;
    let gw = start_users(&sim, &[ACME], &[GET_USER_INFO_PLUGIN]).await;
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(sim_logins(&sim).await, 1);
    let mutual = mutual_handshakes(&sim).await;

    // The same key names, other secret values (password + token still
    // concatenate to the password the org knows).
    std::fs::write(gw.dir.path().join("acme-sf-pw.txt"), "acme-passwordACME").unwrap();
    std::fs::write(gw.dir.path().join("acme-sf-token.txt"), "TOKEN").unwrap();
    assert_eq!(gw.reload().await.status, 200);
    let reply = call(&gw, "user", ACME_KEY).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sim_logins(&sim).await, 2, "a new session");
    assert_eq!(mutual_handshakes(&sim).await, mutual, "on the same pool");
    let sessions = gw.admin_get("/admin/sessions").await.json();
    assert_eq!(acme_session(&sessions)["logins"], 1, "a new manager");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_reload_leaves_no_trace() {
    let sim = start_sim().await;
    let user = user_workflow();
    let gw = start_users(
        &sim,
        &[ACME, GLOBEX],
        &[GET_USER_INFO_PLUGIN, VERSION_A_PLUGIN],
    )
    .await;
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    let globex = gw
        .call(
            "GET",
            "/tenants/globex/workflows/user",
            Some("globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d"),
            "",
        )
        .await;
    assert_eq!(globex.status, 200, "{}", globex.body);
    assert_eq!(sim_logins(&sim).await, 2);

    // Acme gets new credentials and a new workflow (both built first), then
    // globex's identity cannot be loaded: the whole reload is refused.
    std::fs::write(gw.dir.path().join("acme-sf-pw.txt"), "acme-passwordACME").unwrap();
    std::fs::write(gw.dir.path().join("acme-sf-token.txt"), "TOKEN").unwrap();
    std::fs::write(gw.dir.path().join("broken.pem"), "not a certificate").unwrap();
    let v = workflow("v", "version_a.wasm", "");
    let broken = GLOBEX.replace("{pki}/fullcert-b.pem", "broken.pem");
    gw.write_config("", &format!("{ACME}{user}{v}{broken}{user}"));
    let refused = gw.reload().await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("globex"), "{}", refused.body);

    assert_eq!(
        call(&gw, "v", ACME_KEY).await.status,
        404,
        "no new workflow"
    );
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(sim_logins(&sim).await, 2, "no session was cleared");
    let sessions = gw.admin_get("/admin/sessions").await.json();
    assert_eq!(acme_session(&sessions)["state"], "active");
    assert_eq!(acme_session(&sessions)["logins"], 1);

    // Fixed: now acme's new credentials and workflow apply together.
    gw.write_config("", &format!("{ACME}{user}{v}{GLOBEX}{user}"));
    assert_eq!(gw.reload().await.status, 200);
    assert_eq!(call(&gw, "v", ACME_KEY).await.body, "a");
    assert_eq!(call(&gw, "user", ACME_KEY).await.status, 200);
    assert_eq!(sim_logins(&sim).await, 3, "acme's new session");
}

/// A SOAP tenant `acme` for the analyst user, logging in at `login_url`.
fn analyst(login_url: &str, password_file: &str) -> String {
    format!(
        "[[tenant]]\nname = \"acme\"\napi_keys_file = \"acme-keys.txt\"\nlogin_url = \"{login_url}\"\nextra_roots = [\"{{pki}}/root-ca.pem\"]\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"{ANALYST_USER}\"\npassword_file = \"{password_file}\"\n{}",
        workflow("user", "get_user_info.wasm", "timeout_ms = 30000")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_of_a_replaced_config_never_reaches_the_new_one() {
    let sim = start_sim().await;
    let login_url = sim.endpoints().login_url();
    // A slow login service whose answer is a real login response with a
    // session id the simulator does not know.
    let real = Client::anonymous()
        .soap(
            &format!("{login_url}/services/Soap/u/62.0"),
            &login_envelope(ANALYST_USER, ANALYST_PASSWORD),
        )
        .await;
    let id = xml_text(&real.body, "sessionId").expect("sessionId");
    let fake = FakeLogin::start(Behaviour::Answer {
        delay: Duration::from_secs(2),
        status: 200,
        body: real.body.replace(&id, "00D000000000000!late"),
    })
    .await;
    let logins_before = sim_logins(&sim).await;
    let gw = TestGateway::start(
        &sim,
        &analyst(&fake.url, "acme-sf-pw.txt"),
        &[("get_user_info.wasm", GET_USER_INFO)],
    )
    .await;
    let early = {
        let (url, key) = (gw.url.clone(), "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
        tokio::spawn(async move {
            http(
                "GET",
                &format!("{url}/tenants/acme/workflows/user"),
                &[("authorization", key)],
                "",
            )
            .await
        })
    };
    let started = Instant::now();
    while fake.requests().is_empty() {
        assert!(
            started.elapsed() < DEADLINE,
            "the first login never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // While that login runs, the config moves the tenant to the simulator.
    std::fs::write(gw.dir.path().join("analyst-pw.txt"), ANALYST_PASSWORD).unwrap();
    gw.write_config("", &analyst(&login_url, "analyst-pw.txt"));
    assert_eq!(gw.reload().await.status, 200);
    let reply = call(&gw, "user", ACME_KEY).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sim_logins(&sim).await, logins_before + 1);

    // The old login finishes late with its unknown session...
    let _ = early.await.expect("the early request ends");
    assert!(!fake.answers().is_empty());
    // ...which the new generation never uses: no rejected session, no re-login.
    let reply = call(&gw, "user", ACME_KEY).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sim_logins(&sim).await, logins_before + 1);
    let sessions = gw.admin_get("/admin/sessions").await.json();
    assert_eq!(acme_session(&sessions)["logins"], 1);
}

/// twoway.toml with `[plugins] dir = plugins_dir` and `tenants`.
fn write_config_with_plugins(gw: &TestGateway, plugins_dir: &str, tenants: &str) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[plugins]\ndir = \"{plugins_dir}\"\ntimeout_ms = 5000\n{}",
        gw.fill(tenants)
    );
    std::fs::write(gw.config_path(), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plugins_watcher_follows_the_plugins_dir() {
    let sim = start_sim().await;
    let tenants = format!("{ACME}{}", workflow("v", "version.wasm", ""));
    let gw = TestGateway::start(&sim, &tenants, &[("version.wasm", VERSION_A)]).await;
    assert_eq!(call(&gw, "v", ACME_KEY).await.body, "a");

    // The config moves the plugins to a directory that does not exist yet.
    write_config_with_plugins(&gw, "later", &tenants);
    assert_eq!(gw.reload().await.status, 200);
    let later = gw.dir.path().join("later");
    assert!(!later.exists());
    std::fs::create_dir(&later).unwrap();
    replace_file(VERSION_B, &later.join("version.wasm"));
    until_body(&gw, "v", "b").await;
    // Watched from now on: a new file there is served.
    replace_file(VERSION_A, &later.join("version.wasm"));
    until_body(&gw, "v", "a").await;

    // And back to the first directory, which exists: watched again.
    write_config_with_plugins(&gw, "plugins", &tenants);
    assert_eq!(gw.reload().await.status, 200);
    replace_file(VERSION_B, &gw.plugins_dir().join("version.wasm"));
    until_body(&gw, "v", "b").await;
}

/// Points `link` at `target` by renaming a new link over it (atomic).
#[cfg(unix)]
fn swap_link(dir: &Path, link: &str, target: &str) {
    let tmp = dir.join(format!("{link}_tmp"));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(link)).unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_config_watcher_survives_kubernetes_style_updates() {
    let sim = start_sim().await;
    let plugins = [("version.wasm", VERSION_A)];
    let gw = TestGateway::start(&sim, ACME, &plugins).await;
    let dir = gw.dir.path();
    // Mounted the way kubelet mounts a ConfigMap: twoway.toml ->
    // ..data/twoway.toml, ..data -> ..2026_01 (a timestamped directory).
    let text = std::fs::read_to_string(gw.config_path()).unwrap();
    let publish = |version: &str, text: &str| {
        std::fs::create_dir(dir.join(version)).unwrap();
        std::fs::write(dir.join(version).join("twoway.toml"), text).unwrap();
        swap_link(dir, "..data", version);
    };
    publish("..2026_01", &text);
    swap_link(dir, "twoway.toml", "..data/twoway.toml");
    assert_eq!(call(&gw, "v", ACME_KEY).await.status, 404);

    // An update: a new directory, the ..data link swapped, the old removed.
    let v = workflow("v", "version.wasm", "");
    publish("..2026_02", &format!("{text}{}", gw.fill(&v)));
    std::fs::remove_dir_all(dir.join("..2026_01")).unwrap();
    until_status(&gw, "v", 200).await;

    // And another: the watcher still follows the link.
    publish("..2026_03", &text);
    std::fs::remove_dir_all(dir.join("..2026_02")).unwrap();
    until_status(&gw, "v", 404).await;
}
