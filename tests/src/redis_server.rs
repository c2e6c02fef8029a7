//! A real `redis-server` for fleet tests: started on a free loopback port in
//! a temporary directory (no persistence), killed and restarted on the same
//! port on demand, stopped on drop; and the `[store]` section that points a
//! gateway at it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The AES key every test gateway seals sessions with (hex).
pub const ENCRYPTION_KEY: &str = "6b1c0f9e2d4a7b3c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";

/// One running (or killed) redis-server.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server on a free port; fails (never skips) when the
    /// binary is missing.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        std::fs::write(server.dir.path().join("url.txt"), server.url()).expect("url file");
        std::fs::write(server.dir.path().join("key.txt"), ENCRYPTION_KEY).expect("key file");
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server again (same port, empty: nothing is persisted).
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): run scripts/setup to install it (Debian package redis-server)")
            });
        self.child = Some(child);
        for _ in 0..500 {
            if self.ping().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
        let client = ::redis::Client::open(self.url()).ok()?;
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .ok()?
        .ok()
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

    /// A `[store]` section for this server (`extra` lines appended), with
    /// timeouts long enough for a loaded test machine: a slow Redis making
    /// an instance fall back is not what the fleet tests look at.
    pub fn store_section(&self, extra: &str) -> String {
        format!(
            "[store]\nkind = \"redis\"\nurl_file = \"{}\"\nencryption_key_file = \"{}\"\nconnect_timeout_ms = 5000\ncommand_timeout_ms = 5000\n{extra}\n",
            self.file("url.txt").display(),
            self.file("key.txt").display()
        )
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
