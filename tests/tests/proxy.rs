//! Outbound proxy end to end: a gateway whose tenant reaches the simulator
//! through a real `tinyproxy` on loopback (HTTP CONNECT, then mutual TLS
//! inside the tunnel), a proxy that refuses the target, and a proxy that
//! wants credentials. Needs `tinyproxy` (scripts/setup installs it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use twoway_sim::Sim;
use twoway_tests::gateway::{ACME, Reply, TestGateway, tenant_with, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{free_port, start_sim};

const ACME_KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");

/// A tinyproxy in the foreground with its own config and log in a temp dir.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy allowing CONNECT to `connect_ports` only, with
    /// Basic credentials when `auth` is given.
    async fn start(connect_ports: &[u16], auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 20\nLogLevel Info\nLogFile \"{}\"\n",
            log.display()
        );
        for p in connect_ports {
            conf.push_str(&format!("ConnectPort {p}\n"));
        }
        if let Some((user, pass)) = auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).expect("tinyproxy.conf");
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy is installed (scripts/setup installs it)");
        let proxy = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        // Poll until it accepts connections.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return proxy;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("tinyproxy did not start listening on 127.0.0.1:{port}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim_ports(sim: &Sim) -> Vec<u16> {
    let e = sim.endpoints();
    vec![e.login.port(), e.standard.port(), e.mutual.port()]
}

/// Tenant `acme` (mutual TLS) with `proxy_line` and the get-user-info workflow.
fn acme_with(proxy_line: &str) -> String {
    with_workflow(
        &tenant_with(ACME, proxy_line),
        "user",
        "get_user_info.wasm",
        "",
    )
}

/// Tenant `acme` (as [`acme_with`]) reaching the simulator through `proxy`,
/// with `more` settings (`, key = value` pairs) in its proxy table.
fn acme_via(proxy: &Tinyproxy, more: &str) -> String {
    acme_with(&format!(
        "proxy = {{ url = \"http://127.0.0.1:{}\"{more} }}",
        proxy.port
    ))
}

/// The get-user-info workflow of tenant `acme`, called with its key.
async fn get_user(gw: &TestGateway) -> Reply {
    gw.call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await
}

/// The `detail` of a problem reply ("" when there is none).
fn detail(reply: &Reply) -> String {
    reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A gateway serving `tenants`, where `{name}` stands for the absolute
/// path of a secret file `name` written with its value (the directory
/// lives as long as the gateway's test).
async fn start_in(sim: &Sim, tenants: &str, files: &[(&str, &str)]) -> TestGateway {
    let extra = tempfile::tempdir().expect("tempdir");
    let mut tenants = tenants.to_string();
    for (name, value) in files {
        let path = extra.path().join(name);
        std::fs::write(&path, value).expect("secret file");
        tenants = tenants.replace(&format!("{{{name}}}"), &path.display().to_string());
    }
    let gw = TestGateway::start(sim, &tenants, &[("get_user_info.wasm", GET_USER_INFO)]).await;
    // The files were read when the config was loaded.
    drop(extra);
    gw
}

fn contains_connect(log: &str, port: u16) -> bool {
    log.lines()
        .any(|l| l.contains("CONNECT") && l.contains(&format!("127.0.0.1:{port}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_goes_end_to_end_through_the_proxy() {
    let sim = start_sim().await;
    let proxy = Tinyproxy::start(&sim_ports(&sim), None).await;
    let gw = start_in(&sim, &acme_via(&proxy, ""), &[]).await;
    let reply = get_user(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["userName"], "integration@acme.example");
    let log = proxy.log();
    let e = sim.endpoints();
    assert!(
        contains_connect(&log, e.login.port()),
        "the login went through the proxy:\n{log}"
    );
    assert!(
        contains_connect(&log, e.mutual.port()),
        "the API call went to the mutual-auth port through the proxy:\n{log}"
    );
    let counters = twoway_tests::admin_get(&sim, "/counters").await;
    assert!(
        counters["handshakes"]["mutual"].as_u64().unwrap() >= 1,
        "the simulator saw the client certificate: TLS ran inside the tunnel"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_refuses_the_target_gives_a_clear_problem() {
    let sim = start_sim().await;
    // CONNECT only to a port the simulator does not use: tinyproxy answers 403.
    let proxy = Tinyproxy::start(&[free_port()], None).await;
    let gw = start_in(&sim, &acme_via(&proxy, ""), &[]).await;
    let reply = get_user(&gw).await;
    assert!(
        reply.status == 502 || reply.status == 503,
        "{} {}",
        reply.status,
        reply.body
    );
    let detail = detail(&reply);
    assert!(
        detail.contains(&format!("proxy 127.0.0.1:{}", proxy.port)) && detail.contains("403"),
        "the detail names the proxy and its refusal: {detail}"
    );
    assert_eq!(
        twoway_tests::admin_get(&sim, "/counters").await["logins"],
        0,
        "nothing reached the simulator"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_wants_credentials() {
    let sim = start_sim().await;
    let proxy = Tinyproxy::start(&sim_ports(&sim), Some(("proxyuser", "proxy-pass-77"))).await;

    // Without credentials: a clear 407 problem.
    let gw = start_in(&sim, &acme_via(&proxy, ""), &[]).await;
    let reply = get_user(&gw).await;
    assert!(reply.status == 502 || reply.status == 503, "{}", reply.body);
    let detail = detail(&reply);
    assert!(
        detail.contains("the proxy wants credentials")
            && detail.contains(&format!("127.0.0.1:{}", proxy.port)),
        "{detail}"
    );
    gw.shutdown().await;

    // Proxy credentials `proxyuser` and `password` (from a file).
    let with_password = |password| {
        let settings = acme_via(
            &proxy,
            ", username = \"proxyuser\", password_file = \"{pw}\"",
        );
        let sim = &sim;
        async move { start_in(sim, &settings, &[("pw", password)]).await }
    };

    // Wrong password: refused, and the password never shows.
    let gw = with_password("not-the-proxy-pass").await;
    let reply = get_user(&gw).await;
    assert!(reply.status == 502 || reply.status == 503, "{}", reply.body);
    assert!(
        reply.body.contains("refused the credentials"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("not-the-proxy-pass"), "{}", reply.body);
    gw.shutdown().await;

    // With the right credentials (from a file): works.
    let gw = with_password("proxy-pass-77").await;
    let reply = get_user(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(contains_connect(
        &proxy.log(),
        sim.endpoints().mutual.port()
    ));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_proxy_bypasses_the_proxy() {
    let sim = start_sim().await;
    let proxy = Tinyproxy::start(&sim_ports(&sim), None).await;
    let gw = start_in(&sim, &acme_via(&proxy, ", no_proxy = \"127.0.0.1\""), &[]).await;
    let reply = get_user(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let log = proxy.log();
    assert!(
        sim_ports(&sim).iter().all(|p| !contains_connect(&log, *p)),
        "nothing went through the proxy:\n{log}"
    );
    gw.shutdown().await;
}
