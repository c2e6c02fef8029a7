//! A gateway for tests: a twoway.toml written into a temporary directory
//! (secrets as `*_file`s, plugins copied from the built components), served
//! on ephemeral loopback ports against a simulator.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use twoway::gateway::{self, Running};
use twoway_sim::Sim;

use crate::pki;

pub use twoway_testkit::tenants::{ACME, GLOBEX, SECRETS, tenant_with, with_workflow};

/// The `[server.tls]` table: the test PKI's server certificate, callers
/// verified against the CA bundle at `client_ca` (placeholders allowed).
pub fn server_tls(client_ca: &str) -> String {
    format!(
        "[server.tls]\ncert = \"{{pki}}/server.pem\"\nkey = \"{{pki}}/server.key\"\nclient_ca = \"{client_ca}\"\n"
    )
}

/// A response from the gateway.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem answer: `status`, `application/problem+json`, and
    /// `code` and `status` in the JSON body, which it returns.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        let problem = self.json();
        assert_eq!(problem["code"], code, "{}", self.body);
        assert_eq!(problem["status"], status, "{}", self.body);
        problem
    }

    /// The Retry-After header in seconds (panics when there is none).
    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        let value = self.header("retry-after").expect("a Retry-After header");
        value.parse().expect("Retry-After in seconds")
    }
}

/// The callers' address and the admin URL from `twoway serve`'s first line:
/// "twoway gateway listening on ADDR (admin on http://ADMIN)", or with
/// `--log-format json` `{"listening": ADDR, "admin": "http://ADMIN"}`.
pub fn listening(line: &str) -> (String, String) {
    let line = line.trim();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        let field = |name: &str| {
            json[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {line}"))
                .to_string()
        };
        return (field("listening"), field("admin"));
    }
    let (addr, admin) = line
        .strip_prefix("twoway gateway listening on ")
        .and_then(|rest| rest.split_once(" (admin on "))
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    (addr.to_string(), admin.trim_end_matches(')').to_string())
}

/// A running gateway in its own directory.
pub struct TestGateway {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub admin: String,
    login_url: String,
    mutual_port: u16,
}

impl TestGateway {
    /// Writes the config (server settings + `tenants`), copies `plugins`
    /// (file name in the plugins dir, built component path), and serves.
    pub async fn start(sim: &Sim, tenants: &str, plugins: &[(&str, &str)]) -> Self {
        Self::start_with(sim, "", tenants, plugins).await
    }

    /// [`TestGateway::start`] with extra `[server]` keys and tables (e.g.
    /// `header_timeout_ms = 300` or a `[server.tls]` table), placeholders filled.
    pub async fn start_with(
        sim: &Sim,
        server_extra: &str,
        tenants: &str,
        plugins: &[(&str, &str)],
    ) -> Self {
        let mut gateway = Self::configure(sim, server_extra, tenants, plugins);
        gateway.serve().await;
        gateway
    }

    /// Serves a [`TestGateway::configure`]d gateway in this process, in the
    /// shape `TWOWAY_RUNTIME` names (the default: per core).
    pub async fn serve(&mut self) {
        let shape = gateway::Shape::from_env().expect("TWOWAY_RUNTIME");
        self.serve_as(shape).await;
    }

    /// [`TestGateway::serve`] in `shape` (a test that counts upstream
    /// connections names the shape and the thread count it counts for).
    pub async fn serve_as(&mut self, shape: gateway::Shape) {
        let config = twoway::config::load(&self.config_path()).unwrap_or_else(|e| panic!("{e}"));
        let shared = gateway::prepare(config, Some(self.config_path()))
            .await
            .expect("gateway prepares");
        let running = gateway::start_as(shared, shape)
            .await
            .expect("gateway starts");
        self.url = format!("http://{}", running.addr);
        self.admin = format!("http://{}", running.admin_addr);
        self.running = Some(running);
    }

    /// The directory and config of [`TestGateway::start_with`], not served
    /// (for a `twoway serve` process: see [`TestGateway::serve_process`]).
    pub fn configure(
        sim: &Sim,
        server_extra: &str,
        tenants: &str,
        plugins: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugins dir");
        for (name, value) in SECRETS {
            std::fs::write(dir.path().join(name), value).expect("secret file");
        }
        for (name, source) in plugins {
            std::fs::copy(source, dir.path().join("plugins").join(name)).expect("copy plugin");
        }
        let gateway = Self {
            running: None,
            url: String::new(),
            admin: String::new(),
            login_url: sim.endpoints().login_url(),
            mutual_port: sim.endpoints().mutual.port(),
            dir,
        };
        gateway.write_config(server_extra, tenants);
        gateway
    }

    /// Runs `twoway serve` on this gateway's config in a process of its
    /// own (`env` added), and points `url` and `admin` at it.
    pub fn serve_process(&mut self, env: &[(&str, &str)]) -> crate::process::Process {
        self.serve_process_in(env, None)
    }

    /// [`TestGateway::serve_process`] in an address space of at most `kib`
    /// KiB (`ulimit -v`).
    pub fn serve_process_limited(
        &mut self,
        env: &[(&str, &str)],
        kib: u64,
    ) -> crate::process::Process {
        self.serve_process_in(env, Some(kib))
    }

    fn serve_process_in(
        &mut self,
        env: &[(&str, &str)],
        address_space_kib: Option<u64>,
    ) -> crate::process::Process {
        let config = self.config_path();
        let config = config.to_str().expect("UTF-8 path");
        let args = ["serve", "--config", config];
        let process = match address_space_kib {
            None => crate::process::Process::start_with_env(&args, self.dir.path(), env),
            Some(kib) => crate::process::Process::start_limited(&args, self.dir.path(), env, kib),
        };
        let (addr, admin) = listening(&process.first_line);
        self.url = format!("http://{addr}");
        self.admin = admin;
        process
    }

    /// `twoway serve` on this gateway's config run to its end (a start
    /// that is refused), `env` added, in an address space of at most
    /// `address_space_kib` KiB (`ulimit -v`) when given.
    pub fn serve_refused(
        &self,
        env: &[(&str, &str)],
        address_space_kib: Option<u64>,
    ) -> crate::process::Run {
        let config = self.config_path();
        let args = ["serve", "--config", config.to_str().expect("UTF-8 path")];
        match address_space_kib {
            None => crate::process::twoway(&args, self.dir.path(), env),
            Some(kib) => crate::process::twoway_limited(&args, self.dir.path(), env, kib),
        }
    }

    /// [`TestGateway::serve_process`] with `args` after `serve --config FILE`
    /// (e.g. `--log-format json`, a global option) and `env` set, and both
    /// streams captured.
    pub fn serve_process_logged(
        &mut self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> crate::process::Logged {
        let config = self.config_path();
        let config = config.to_str().expect("UTF-8 path");
        let mut all = vec!["serve", "--config", config];
        all.extend_from_slice(args);
        let process = crate::process::Logged::start(&all, self.dir.path(), env);
        let (addr, admin) = listening(&process.first_line);
        self.url = format!("http://{addr}");
        self.admin = admin;
        process
    }

    /// A gateway serving `tenant` with the workflow `user` (the
    /// get-user-info plugin) and `server_extra` in `[server]`.
    pub async fn with_user_workflow(sim: &Sim, server_extra: &str, tenant: &str) -> Self {
        let tenants = with_workflow(tenant, "user", "get_user_info.wasm", "");
        let plugins = [("get_user_info.wasm", crate::plugins::GET_USER_INFO)];
        Self::start_with(sim, server_extra, &tenants, &plugins).await
    }

    /// The callers' listener.
    pub fn addr(&self) -> SocketAddr {
        self.running.as_ref().expect("the gateway runs").addr
    }

    /// Polls `/readyz` until it answers 200: every plugin loaded (the
    /// bound only keeps a broken gateway from hanging the test).
    pub async fn wait_ready(&self) {
        for _ in 0..3000 {
            if self.admin_get("/readyz").await.status == 200 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the gateway never turned ready");
    }

    /// Polls the admin listener's metrics until they contain `needle` (the
    /// bound only keeps a broken gateway from hanging the test).
    pub async fn wait_for_metric(&self, needle: &str) {
        for _ in 0..3000 {
            if self.admin_get("/metrics").await.body.contains(needle) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "the metrics never showed {needle}:\n{}",
            self.admin_get("/metrics").await.body
        );
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("twoway.toml")
    }

    /// The watched plugins directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Writes twoway.toml (ports 0: only the first start binds).
    pub fn write_config(&self, server_extra: &str, tenants: &str) {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n{}\n[plugins]\ndir = \"plugins\"\ntimeout_ms = 5000\n{}",
            self.fill(server_extra),
            self.fill(tenants)
        );
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// Replaces `{login_url}`, `{mutual_port}` and `{pki}` placeholders.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{login_url}", &self.login_url)
            .replace("{mutual_port}", &self.mutual_port.to_string())
            .replace("{pki}", &pki().dir.display().to_string())
    }

    /// A request to the gateway with `Authorization: Bearer key` when given.
    pub async fn call(&self, method: &str, path: &str, key: Option<&str>, body: &str) -> Reply {
        let auth = key.map(|k| format!("Bearer {k}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        http(
            method,
            &format!("{}{path}", self.url),
            &headers,
            body.to_string(),
        )
        .await
    }

    /// A GET of `path` with `Authorization: Bearer key` in a task of its
    /// own, for a request that runs while the test goes on.
    pub fn spawn_get(&self, path: &str, key: &str) -> tokio::task::JoinHandle<Reply> {
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {key}");
        tokio::spawn(async move { http("GET", &url, &[("authorization", &auth)], "").await })
    }

    /// `n` concurrent GETs of `path`, each on its own connection, in the
    /// order they were started.
    pub async fn burst(&self, path: &str, key: &str, n: usize) -> Vec<Reply> {
        let tasks: Vec<_> = (0..n).map(|_| self.spawn_get(path, key)).collect();
        let mut replies = Vec::with_capacity(n);
        for task in tasks {
            replies.push(task.await.expect("call"));
        }
        replies
    }

    /// GET on the admin listener.
    pub async fn admin_get(&self, path: &str) -> Reply {
        http("GET", &format!("{}{path}", self.admin), &[], String::new()).await
    }

    /// `POST /admin/reload` on the admin listener (no admin token).
    pub async fn reload(&self) -> Reply {
        http("POST", &format!("{}/admin/reload", self.admin), &[], "").await
    }

    /// Stops the gateway, letting in-flight requests finish.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// One plain-HTTP request on a fresh connection (`Host` from the URL unless
/// `headers` name one).
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let uri: http::Uri = url.parse().expect("URL");
    let authority = uri.authority().expect("authority").to_string();
    let tcp = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("connect to the gateway");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        request = request.header("host", authority);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(body.into())).expect("request"))
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Copies `source` over `dest` the way a deploy should: write aside, then rename.
pub fn replace_file(source: &str, dest: &Path) {
    let tmp = dest.with_extension("tmp");
    std::fs::copy(source, &tmp).expect("copy");
    std::fs::rename(&tmp, dest).expect("rename");
}
