//! The gateway under test as its own process (`twoway serve --config ...`),
//! so that its CPU time (utime + stime of /proc/PID/stat) and its peak RSS
//! (VmHWM of /proc/PID/status) are its own and nobody else's.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use twoway_testkit::tenants::{ACME, ACME_API_KEY, SECRETS, tenant_with, with_workflow};

use bytes::Bytes;

use crate::http::{Http, Target};

/// What the gateway's config says, besides the tenant it always has.
pub struct GatewaySpec<'a> {
    /// Where the simulator's login service is (`https://127.0.0.1:PORT`).
    pub login_url: String,
    /// The simulator's mutual-auth port.
    pub mutual_port: u16,
    /// The test PKI (fullcert.pem, root-ca.pem).
    pub pki: &'a Path,
    /// The built components (passthrough.wasm, get_user_info.wasm, version_a.wasm).
    pub plugins: &'a Path,
    /// Compiled-code cache shared by every gateway of one run.
    pub cache: &'a Path,
    /// `[upstream] pool_max_idle_per_host`.
    pub pool: usize,
    /// RUST_LOG of the gateway process.
    pub log: &'a str,
    /// More environment for the gateway process (e.g. TOKIO_WORKER_THREADS).
    pub env: &'a [(String, String)],
    /// A program and its arguments that run the gateway (valgrind for
    /// `count`); empty: the gateway runs itself.
    pub wrap: &'a [String],
}

/// `program` run by `wrap` (a program and its arguments, then `program`),
/// or by itself when `wrap` is empty.
pub fn wrapped(wrap: &[String], program: &Path) -> Command {
    match wrap.split_first() {
        Some((runner, args)) => {
            let mut command = Command::new(runner);
            command.args(args).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A running `twoway serve`, stopped (SIGKILL) when dropped. Its directory
/// holds `conf/` (twoway.toml, secrets, `plugins/`) and `gateway.log`, which
/// stays out of `conf/` so that the config watcher does not wake on every
/// log line.
pub struct Gateway {
    child: Child,
    dir: tempfile::TempDir,
    conf: PathBuf,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
}

/// Everything but the tenant.
const SERVER: &str = r#"[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[plugins]
dir = "plugins"
cache_dir = "{cache}"

[upstream]
pool_max_idle_per_host = {pool}

{store}
"#;

/// The tenant every benchmark gateway serves: the test tenant acme (SOAP
/// login, mutual TLS with the test PKI's fullcert.pem) with three workflows.
/// With `front_door`, acme also serves the front door, and a second tenant,
/// [`POLICY_TENANT`] (the same Salesforce user, its own API key), serves
/// only the front door, through the `read-only` policy component.
fn tenants(front_door: bool) -> String {
    // The default (25) would answer 503 at 256 concurrent callers and in the stampede.
    let keys = if front_door {
        "max_concurrency = 4096\nfront_door = true"
    } else {
        "max_concurrency = 4096"
    };
    let acme = tenant_with(ACME, keys);
    let acme = with_workflow(&acme, "pass", "passthrough.wasm", "");
    let acme = with_workflow(&acme, "user", "get_user_info.wasm", "");
    let acme = with_workflow(&acme, "v", "version.wasm", "");
    if !front_door {
        return acme;
    }
    let policy = tenant_with(ACME, keys)
        .replace("name = \"acme\"", &format!("name = \"{POLICY_TENANT}\""))
        .replace("acme-keys.txt", POLICY_KEYS_FILE);
    format!("{acme}{policy}[tenant.policy]\nplugin = \"read_only.wasm\"\n")
}

/// The API key callers send.
pub const API_KEY: &str = ACME_API_KEY;

/// The front-door tenant with the `read-only` policy, and its API key.
pub const POLICY_TENANT: &str = "acme-policy";
pub const POLICY_API_KEY: &str = "acme-policy-key-1-8d2b6f0e4a9c3e7b5f1a";
const POLICY_KEYS_FILE: &str = "acme-policy-keys.txt";

impl Gateway {
    /// Writes a config into a fresh directory and starts `twoway` on it;
    /// returns once `/readyz` answers 200.
    pub async fn start(twoway: &Path, spec: &GatewaySpec<'_>, http: &Http) -> anyhow::Result<Self> {
        Self::start_with(twoway, spec, http, "", false).await
    }

    /// [`Gateway::start`] with a `[store]` section (empty: the memory store).
    pub async fn start_with_store(
        twoway: &Path,
        spec: &GatewaySpec<'_>,
        http: &Http,
        store: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with(twoway, spec, http, store, false).await
    }

    /// [`Gateway::start`] with the front door on (acme, and
    /// [`POLICY_TENANT`] with the `read-only` policy).
    pub async fn start_front_door(
        twoway: &Path,
        spec: &GatewaySpec<'_>,
        http: &Http,
    ) -> anyhow::Result<Self> {
        Self::start_with(twoway, spec, http, "", true).await
    }

    async fn start_with(
        twoway: &Path,
        spec: &GatewaySpec<'_>,
        http: &Http,
        store: &str,
        front_door: bool,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("twoway-bench-gw")
            .tempdir()?;
        let conf = dir.path().join("conf");
        let plugins = conf.join("plugins");
        std::fs::create_dir_all(&plugins)?;
        let policy = front_door.then_some(("read_only.wasm", "read_only.wasm"));
        for (name, source) in [
            ("passthrough.wasm", "passthrough.wasm"),
            ("get_user_info.wasm", "get_user_info.wasm"),
            ("version.wasm", "version_a.wasm"),
        ]
        .into_iter()
        .chain(policy)
        {
            let from = spec.plugins.join(source);
            std::fs::copy(&from, plugins.join(name)).with_context(|| {
                format!("{} (build the plugins: cd plugins && cargo build --release --target wasm32-wasip2)", from.display())
            })?;
        }
        for (name, value) in SECRETS.iter().chain([&(POLICY_KEYS_FILE, POLICY_API_KEY)]) {
            std::fs::write(conf.join(name), value)?;
        }
        let config = (SERVER.to_string() + &tenants(front_door))
            .replace("{store}", store)
            .replace("{cache}", &spec.cache.display().to_string())
            .replace("{pool}", &spec.pool.to_string())
            .replace("{login_url}", &spec.login_url)
            .replace("{mutual_port}", &spec.mutual_port.to_string())
            .replace("{pki}", &spec.pki.display().to_string());
        let config_path = conf.join("twoway.toml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("gateway.log"))?;
        let mut child = wrapped(spec.wrap, twoway)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", spec.log)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (cargo build --release -p twoway-cli)",
                    twoway.display()
                )
            })?;
        let stdout = child.stdout.take().context("gateway stdout")?;
        // "twoway gateway listening on ADDR (admin on http://ADMIN)"
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            // Keep draining so the gateway never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            line
        })
        .await?;
        let parse = || -> Option<(SocketAddr, SocketAddr)> {
            let rest = line.strip_prefix("twoway gateway listening on ")?;
            let (addr, rest) = rest.split_once(' ')?;
            let admin = rest
                .strip_prefix("(admin on http://")?
                .trim()
                .trim_end_matches(')');
            Some((addr.parse().ok()?, admin.parse().ok()?))
        };
        let Some((addr, admin)) = parse() else {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default();
            bail!("the gateway did not start (stdout: {line:?}); its log:\n{log}");
        };
        let gateway = Self {
            child,
            dir,
            conf,
            addr,
            admin,
        };
        // Under valgrind (`count`) the start is some fifty times slower.
        let deadline =
            Instant::now() + Duration::from_secs(if spec.wrap.is_empty() { 60 } else { 600 });
        loop {
            if let Ok((200, _)) = http.get(&format!("http://{admin}/readyz")).await {
                break;
            }
            if Instant::now() > deadline {
                bail!("the gateway at {addr} never became ready");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(gateway)
    }

    /// `http://ADDR`: the front door's origin (its `public_url`).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR/tenants/acme/workflows/{workflow}`.
    pub fn url(&self, workflow: &str) -> String {
        format!("http://{}/tenants/acme/workflows/{workflow}", self.addr)
    }

    /// The load table's client b: the passthrough workflow sent the
    /// getUserInfo envelope without a session (the host injects it).
    pub fn passthrough(&self, http: &Http) -> anyhow::Result<Target> {
        Ok(Target::Gateway {
            http: http.clone(),
            method: ::http::Method::POST,
            uri: self.url("pass").parse()?,
            body: Bytes::from(crate::env::get_user_info(None)),
            expect: "getUserInfoResponse",
        })
    }

    /// The load table's client c: the get-user-info workflow.
    pub fn get_user_info(&self, http: &Http) -> anyhow::Result<Target> {
        Ok(Target::Gateway {
            http: http.clone(),
            method: ::http::Method::GET,
            uri: self.url("user").parse()?,
            body: Bytes::new(),
            expect: "userName",
        })
    }

    /// The watched plugin directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.conf.join("plugins")
    }

    /// The gateway's log (stderr), for when something failed.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default();
        let lines: Vec<_> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time and memory of one process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// utime + stime in seconds.
    pub cpu_seconds: f64,
    /// VmHWM (peak resident set since start or the last reset) in bytes.
    pub peak_rss: u64,
}

/// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`, usually 100).
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Reads /proc/{pid}/stat and /proc/{pid}/status (`self` for this process).
pub fn sample(pid: &str) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').context("/proc stat format")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ")": state is field 3 of the full line, utime 14, stime 15.
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cpu_seconds = (ticks(14) + ticks(15)) as f64 / clock_ticks();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let peak_rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0);
    Ok(ProcSample {
        cpu_seconds,
        peak_rss,
    })
}

/// Resets a process's peak RSS to its current RSS (`echo 5 > /proc/PID/clear_refs`).
/// False when the kernel or permissions refuse; then VmHWM is since start.
pub fn reset_peak_rss(pid: &str) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}
