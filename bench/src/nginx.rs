//! nginx as the bar a gateway should reach: a mutual-TLS reverse proxy to
//! the simulator's mutual-auth port (`proxy_ssl_certificate`, the chain
//! verified against the test root, a keep-alive upstream pool), run as its
//! own processes (`nginx -p DIR -c nginx.conf -g 'daemon off;'`, everything
//! in a temporary directory, no root needed). Callers send the getUserInfo
//! envelope with their own `SessionHeader`: nginx does no login, no session
//! injection and no plugin, so it does less than twoway by design.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What the nginx config needs.
pub struct NginxSpec<'a> {
    /// The simulator's mutual-auth port on 127.0.0.1.
    pub mutual_port: u16,
    /// The test PKI (fullcert.pem: key, leaf, intermediate; root-ca.pem).
    pub pki: &'a Path,
    /// `worker_processes`: the gateway's worker threads.
    pub workers: usize,
    /// `keepalive` of the upstream block (the gateway's pool size).
    pub pool: usize,
}

/// A running nginx (master and workers), stopped when dropped.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

const CONFIG: &str = r#"# Written by twoway-bench: nginx as a mutual-TLS reverse proxy.
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;

    upstream sim_mutual {
        server 127.0.0.1:{mutual_port};
        keepalive {pool};
        keepalive_requests 1000000;
    }

    server {
        listen 127.0.0.1:{port};
        location / {
            proxy_pass https://sim_mutual;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost;
            proxy_ssl_certificate {pki}/fullcert.pem;
            proxy_ssl_certificate_key {pki}/fullcert.pem;
            proxy_ssl_trusted_certificate {pki}/root-ca.pem;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 3;
            proxy_ssl_name localhost;
            proxy_ssl_server_name on;
            proxy_ssl_session_reuse on;
        }
    }
}
"#;

/// An unused loopback port (bound, read, released: nginx binds it next).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Nginx {
    /// Writes the config, starts nginx in the foreground and returns once
    /// its port accepts connections.
    pub fn start(binary: &Path, spec: &NginxSpec<'_>) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("twoway-bench-nginx")
            .tempdir()?;
        let port = free_port()?;
        let config = CONFIG
            .replace("{workers}", &spec.workers.max(1).to_string())
            .replace("{dir}", &dir.path().display().to_string())
            .replace("{mutual_port}", &spec.mutual_port.to_string())
            .replace("{pool}", &spec.pool.max(1).to_string())
            .replace("{port}", &port.to_string())
            .replace("{pki}", &spec.pki.display().to_string());
        std::fs::write(dir.path().join("nginx.conf"), config)?;
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg("nginx.conf")
            // The startup error log too (else /var/log/nginx, not writable
            // by a normal user): nginx 1.19.5 or later.
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-g")
            .arg("daemon off;")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (scripts/bench installs nginx with apt-get)",
                    binary.display()
                )
            })?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                bail!("nginx exited ({status}) before listening on {addr}; its error log:\n{log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("nginx never listened on {addr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { child, dir, addr })
    }

    /// The master's and every worker's process id (workers are the
    /// master's children).
    pub fn pids(&self) -> Vec<u32> {
        let master = self.child.id();
        let mut pids = vec![master];
        pids.extend(children(master));
        pids
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The last lines of nginx's error log, for when something failed.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        let lines: Vec<_> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGKILL of the master would leave its workers running; SIGTERM
        // makes the master stop them first.
        let workers = children(self.child.id());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in workers {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// Process ids whose parent is `parent` (from /proc/*/stat).
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after = stat.rsplit_once(')')?.1;
                    // After ")": state, then ppid.
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// The nginx binary: `$NGINX`, else `nginx` on PATH, else /usr/sbin/nginx
/// (Debian puts it there, outside a normal user's PATH).
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NGINX") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// `nginx/1.22.1`, from `nginx -v` (it prints to stderr), or "nginx (version unknown)".
pub fn version() -> String {
    binary()
        .and_then(|b| Command::new(b).arg("-v").output().ok())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stderr).into_owned();
            text.split_whitespace()
                .find(|w| w.starts_with("nginx/"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "nginx (version unknown)".into())
}
