//! The HTTP CONNECT client: asks a proxy (`config::Proxy`) for a tunnel to
//! the target and reads its answer (bounded), naming the proxy in every
//! error, never the password. The tenant's TLS (mutual when configured)
//! runs end to end inside the tunnel: the proxy sees only the target's name.
//! Proxy credentials go in a Basic `Proxy-Authorization` header on the
//! CONNECT and nowhere else.

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TransportError;
use crate::config::Proxy;

/// Longest CONNECT answer head read from a proxy.
const MAX_REPLY_HEAD: usize = 16 * 1024;

impl Proxy {
    /// Asks the proxy, over `tcp`, for a tunnel to `host:port`; on success
    /// the stream carries the target's bytes from then on.
    pub async fn connect(
        &self,
        tcp: &mut TcpStream,
        host: &str,
        port: u16,
    ) -> Result<(), TransportError> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let fail = |reason: String| TransportError::Proxy {
            proxy: self.to_string(),
            target: authority.clone(),
            reason,
        };
        let mut head = format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Connection: Keep-Alive\r\n"
        );
        if let Some(c) = &self.credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                c.username,
                c.password.expose()
            ));
            head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes())
            .await
            .map_err(|e| fail(format!("cannot send the CONNECT request: {e}")))?;
        let mut reply = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        let end = loop {
            if let Some(end) = find_head_end(&reply) {
                break end;
            }
            if reply.len() > MAX_REPLY_HEAD {
                return Err(fail(format!(
                    "its answer to CONNECT is longer than {MAX_REPLY_HEAD} bytes"
                )));
            }
            let n = tcp
                .read(&mut chunk)
                .await
                .map_err(|e| fail(format!("reading its answer to CONNECT: {e}")))?;
            if n == 0 {
                return Err(fail(
                    "it closed the connection without answering CONNECT".into(),
                ));
            }
            reply.extend_from_slice(&chunk[..n]);
        };
        let status = String::from_utf8_lossy(&reply[..end]);
        let line = status.lines().next().unwrap_or_default();
        let code = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| fail(format!("its answer to CONNECT is not HTTP: {:.80}", line)))?;
        match code {
            // A refusal may carry a body; a tunnel may not, before TLS.
            200..=299 if end != reply.len() => Err(fail(
                "it sent bytes after its answer to CONNECT, before TLS began".into(),
            )),
            200..=299 => Ok(()),
            // 407, or 401 as some proxies (tinyproxy) answer a CONNECT.
            401 | 407 if self.credentials.is_some() => Err(fail(format!(
                "{}: the proxy refused the credentials \
                 (check the proxy's username and password_env / password_file)",
                line.trim()
            ))),
            401 | 407 => Err(fail(format!(
                "{}: the proxy wants credentials \
                 (set the tenant's proxy username and password_env / password_file, \
                 or user:password@ in HTTPS_PROXY)",
                line.trim()
            ))),
            _ => Err(fail(format!(
                "it refused CONNECT: {:.120} (does the proxy allow CONNECT to this host and port?)",
                line.trim()
            ))),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}
