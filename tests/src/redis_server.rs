//! A real `redis-server` for fleet tests: started on a free loopback port in
//! a temporary directory (no persistence), killed and restarted on the same
//! port on demand, stopped on drop; and the `[store]` section that points a
//! gateway at it. In TLS mode ([`RedisServer::start_tls`]) it only speaks
//! TLS, with the test PKI's server certificate.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The AES key every test gateway seals sessions with (hex).
pub const ENCRYPTION_KEY: &str = "6b1c0f9e2d4a7b3c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";

/// One running (or killed) redis-server.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    tls: bool,
}

impl RedisServer {
    /// Starts redis-server on a free port; fails (never skips) when the
    /// binary is missing.
    pub async fn start() -> Self {
        Self::launch(false).await
    }

    /// Starts redis-server speaking TLS only (`--port 0 --tls-port`), with
    /// the test PKI's `server.pem` (localhost, 127.0.0.1) and no client
    /// certificates asked; fails with a clear message when this
    /// redis-server was built without TLS.
    pub async fn start_tls() -> Self {
        Self::launch(true).await
    }

    async fn launch(tls: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
            tls,
        };
        std::fs::write(server.dir.path().join("url.txt"), server.url()).expect("url file");
        std::fs::write(server.dir.path().join("key.txt"), ENCRYPTION_KEY).expect("key file");
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:{port}/` (`rediss://` in TLS mode).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// Starts the server again (same port, empty: nothing is persisted).
    pub async fn restart(&mut self) {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        if self.tls {
            let pki = crate::pki();
            command
                .args(["--port", "0", "--tls-port", &port])
                .arg("--tls-cert-file")
                .arg(&pki.server)
                .arg("--tls-key-file")
                .arg(&pki.server_key)
                .arg("--tls-ca-cert-file")
                .arg(&pki.root_ca)
                .args(["--tls-auth-clients", "no"]);
        } else {
            command.args(["--port", &port]);
        }
        let mut child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.file("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): run scripts/setup to install it (Debian package redis-server)")
            });
        for _ in 0..500 {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.file("redis.log")).unwrap_or_default();
                let hint = if self.tls {
                    "; TLS options refused: this redis-server was probably built without TLS support (Debian's redis-server 6+ has it; a source build needs BUILD_TLS=yes)"
                } else {
                    ""
                };
                panic!("redis-server exited at start ({status}){hint}\n{log}");
            }
            if self.ping().await {
                self.child = Some(child);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Dropped with this server (killed), even though it did not answer.
        self.child = Some(child);
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Kills the server at once (SIGKILL): connections drop mid-command.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn connection(&self) -> Option<::redis::aio::MultiplexedConnection> {
        let client = self.client(false)?;
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .ok()?
        .ok()
    }

    /// A plain connection to this server, as anyone with access to it has
    /// (for tests that write to Redis behind the gateways' backs).
    pub async fn connect(&self) -> ::redis::aio::MultiplexedConnection {
        self.connection().await.expect("connect to redis")
    }

    /// A client for this server (RESP3 when `resp3`, for push messages).
    fn client(&self, resp3: bool) -> Option<::redis::Client> {
        let url = if resp3 {
            format!("{}?protocol=resp3", self.url())
        } else {
            self.url()
        };
        let client = if self.tls {
            let roots = ::redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(std::fs::read(&crate::pki().root_ca).ok()?),
            };
            ::redis::Client::build_with_tls(url, roots).ok()?
        } else {
            ::redis::Client::open(url).ok()?
        };
        Some(client)
    }

    async fn ping(&self) -> bool {
        match self.connection().await {
            Some(mut c) => ::redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .is_ok(),
            None => false,
        }
    }

    /// Every key with a text form of its value (strings, hashes, sorted
    /// sets), for the secrets canary.
    pub async fn dump(&self) -> Vec<(String, String)> {
        let mut c = self.connection().await.expect("connect to redis");
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut c)
            .await
            .expect("KEYS");
        let mut out = Vec::new();
        for key in keys {
            let kind: String = ::redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut c)
                .await
                .expect("TYPE");
            let value: Vec<String> = match kind.as_str() {
                "string" => vec![
                    ::redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .expect("GET"),
                ],
                "hash" => ::redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .expect("HGETALL"),
                "zset" => ::redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
                    .expect("ZRANGE"),
                other => vec![format!("<{other}>")],
            };
            out.push((key, value.join(" ")));
        }
        out
    }

    /// Records every message published on this server from now on (channel
    /// and payload, as `channel payload`), for the secrets canary.
    pub async fn messages(&self) -> Messages {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let config = ::redis::AsyncConnectionConfig::new().set_push_sender(
            move |push: ::redis::PushInfo| {
                if push.kind == ::redis::PushKind::PMessage {
                    let text: Vec<String> = push.data[1..]
                        .iter()
                        .map(|v| match v {
                            ::redis::Value::BulkString(b) => {
                                String::from_utf8_lossy(b).into_owned()
                            }
                            other => format!("{other:?}"),
                        })
                        .collect();
                    sink.lock().unwrap().push(text.join(" "));
                }
                Ok::<(), ()>(())
            },
        );
        let client = self.client(true).expect("a Redis client");
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("connect to redis");
        conn.psubscribe("*").await.expect("PSUBSCRIBE");
        Messages { _conn: conn, seen }
    }

    /// A `[store]` section for this server (`extra` lines appended), with
    /// timeouts long enough for a loaded test machine: a slow Redis making
    /// an instance fall back is not what the fleet tests look at. In TLS
    /// mode it trusts the test PKI's root CA (`ca_file`) unless `extra`
    /// names a `ca_file` itself.
    pub fn store_section(&self, extra: &str) -> String {
        let ca = if self.tls && !extra.contains("ca_file") {
            format!("ca_file = \"{}\"\n", crate::pki().root_ca.display())
        } else {
            String::new()
        };
        format!(
            "[store]\nkind = \"redis\"\nurl_file = \"{}\"\nencryption_key_file = \"{}\"\nconnect_timeout_ms = 5000\ncommand_timeout_ms = 5000\n{ca}{extra}\n",
            self.file("url.txt").display(),
            self.file("key.txt").display()
        )
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The value of `twoway_store_degraded` in a gateway's `/metrics` text
/// (true: the instance works without Redis). Reads the sample line only:
/// the metric's HELP text also starts with "1".
pub fn store_degraded(metrics: &str) -> bool {
    let line = metrics
        .lines()
        .find(|l| l.starts_with("twoway_store_degraded "))
        .unwrap_or_else(|| panic!("no twoway_store_degraded sample in /metrics:\n{metrics}"));
    line.trim_end().ends_with(" 1")
}

/// The value of `twoway_store_fallback_logins_total` in a gateway's
/// `/metrics` text: the logins it decided without Redis.
pub fn store_fallback_logins(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("twoway_store_fallback_logins_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no twoway_store_fallback_logins_total sample:\n{metrics}"))
}

/// Messages published on a server since [`RedisServer::messages`].
pub struct Messages {
    _conn: ::redis::aio::MultiplexedConnection,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Messages {
    /// Every message so far, as `channel payload`.
    pub fn all(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
