//! Real processes: one `twoway sim`, three `twoway serve` sharing one
//! redis-server through `[store] kind = "redis"`, a cold stampede spread
//! over them: the simulator counts one login.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use twoway_tests::gateway::{ACME, SECRETS, http};
use twoway_tests::pki;
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::redis_server::RedisServer;

const BIN: &str = env!("CARGO_BIN_EXE_twoway-proc");

/// A child process killed on drop, and the first line it printed.
struct Process {
    child: Child,
    first_line: String,
}

impl Process {
    fn start(args: &[&str], dir: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{BIN} {args:?}: {e}"));
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first_line)
            .expect("first line");
        assert!(!first_line.is_empty(), "{args:?} printed nothing");
        Self { child, first_line }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_serve_processes_on_one_redis_make_one_login() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Process::start(
        &[
            "sim",
            "--print-endpoints",
            "--pki",
            pki().dir.to_str().expect("utf-8 path"),
        ],
        dir.path(),
    );
    let endpoints: serde_json::Value =
        serde_json::from_str(&sim.first_line).expect("endpoints JSON");

    std::fs::create_dir_all(dir.path().join("plugins")).expect("plugins dir");
    std::fs::copy(GET_USER_INFO, dir.path().join("plugins/get_user_info.wasm")).expect("plugin");
    for (name, value) in SECRETS {
        std::fs::write(dir.path().join(name), value).expect("secret file");
    }
    let tenant = ACME
        .replace(
            "{login_url}",
            endpoints["login_url"].as_str().expect("login_url"),
        )
        .replace("{mutual_port}", &endpoints["mutual_auth_port"].to_string())
        .replace("{pki}", &pki().dir.display().to_string())
        .replace("[tenant.auth]", "max_concurrency = 1000\n[tenant.auth]");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[plugins]\ndir = \"plugins\"\n{}{tenant}[[tenant.workflow]]\nname = \"user\"\nplugin = \"get_user_info.wasm\"\ntimeout_ms = 60000\n",
        redis.store_section("instances = 3")
    );
    std::fs::write(dir.path().join("twoway.toml"), config).expect("config");

    let gateways: Vec<Process> = (0..3)
        .map(|_| Process::start(&["serve", "--config", "twoway.toml"], dir.path()))
        .collect();
    let urls: Vec<String> = gateways
        .iter()
        .map(|g| {
            let addr = g
                .first_line
                .strip_prefix("twoway gateway listening on ")
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("unexpected first line {:?}", g.first_line));
            format!("http://{addr}/tenants/acme/workflows/user")
        })
        .collect();

    let callers: Vec<_> = (0..300)
        .map(|i| {
            let url = urls[i % 3].clone();
            tokio::spawn(async move {
                http(
                    "GET",
                    &url,
                    &[(
                        "authorization",
                        "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
                    )],
                    "",
                )
                .await
            })
        })
        .collect();
    for caller in callers {
        let reply = caller.await.expect("caller");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let admin = endpoints["admin_url"].as_str().expect("admin_url");
    let counters = http("GET", &format!("{admin}/counters"), &[], "").await;
    assert_eq!(
        counters.json()["logins"],
        1,
        "one login for three processes"
    );
}
