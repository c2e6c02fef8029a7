//! The connector under the pooled client: TCP then TLS with the tenant's
//! client config, each phase under its own timeout, handshakes counted.
//! With a proxy, TCP goes to the proxy and a CONNECT tunnel carries the TLS;
//! the server name checked is still the target's. A connection the HTTP/2
//! path made to a host that chose HTTP/1.1 is parked for the pool's next
//! connect to that host ([`super::h2::Parked`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::TransportError;
use crate::config::Proxy;

/// Opens TLS connections for hyper's pool.
#[derive(Clone)]
pub struct TlsConnector {
    pub tls: Arc<rustls::ClientConfig>,
    pub proxy: Option<Arc<Proxy>>,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub handshakes: Arc<AtomicU64>,
    pub on_handshake: Option<super::OnHandshake>,
    /// Connections made already, by authority (one pool's).
    pub parked: super::h2::Parked,
}

/// One TLS connection, as hyper sees it.
pub struct TlsConnection(TokioIo<TlsStream<TcpStream>>);

impl tower_service::Service<http::Uri> for TlsConnector {
    type Response = TlsConnection;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsConnection, TransportError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let parked = uri.authority().and_then(|authority| {
            self.parked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(authority.as_str())
        });
        if let Some(connection) = parked {
            return Box::pin(std::future::ready(Ok(connection)));
        }
        let this = self.clone();
        Box::pin(async move { this.connect(uri).await })
    }
}

impl TlsConnector {
    /// TCP (through the proxy, if one applies), then TLS, to `uri`'s host.
    pub async fn connect(self, uri: http::Uri) -> Result<TlsConnection, TransportError> {
        if uri.scheme_str() != Some("https") {
            return Err(TransportError::NotHttps(uri.to_string()));
        }
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let target = format!("{host}:{port}");
        let proxy = self.proxy.as_deref().filter(|p| p.applies_to(&host, port));
        let (dial_host, dial_port, dial) = match proxy {
            Some(p) => (p.host.as_str(), p.port, format!("proxy {p}")),
            None => (host.as_str(), port, target.clone()),
        };
        let mut tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((dial_host, dial_port)),
        )
        .await
        .map_err(|_| TransportError::Timeout {
            phase: "connect",
            target: dial.clone(),
            after: self.connect_timeout,
        })?
        .map_err(|e| TransportError::Connect {
            target: dial.clone(),
            reason: e.to_string(),
        })?;
        let _ = tcp.set_nodelay(true);
        if let Some(p) = proxy {
            tokio::time::timeout(self.connect_timeout, p.connect(&mut tcp, &host, port))
                .await
                .map_err(|_| TransportError::Timeout {
                    phase: "CONNECT through the proxy",
                    target: format!("{target} via proxy {p}"),
                    after: self.connect_timeout,
                })??;
        }
        let name = ServerName::try_from(host.clone()).map_err(|_| TransportError::Connect {
            target: target.clone(),
            reason: "not a valid server name".into(),
        })?;
        let tls = tokio::time::timeout(
            self.handshake_timeout,
            tokio_rustls::TlsConnector::from(self.tls.clone()).connect(name, tcp),
        )
        .await
        .map_err(|_| TransportError::Timeout {
            phase: "TLS handshake",
            target: target.clone(),
            after: self.handshake_timeout,
        })?
        .map_err(|e| TransportError::Tls {
            target,
            reason: e.to_string(),
        })?;
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        if let Some(counted) = &self.on_handshake {
            counted();
        }
        Ok(TlsConnection(TokioIo::new(tls)))
    }
}

impl TlsConnection {
    /// The TLS stream, for the HTTP/2 path (which drives it with `h2`).
    pub fn into_inner(self) -> TlsStream<TcpStream> {
        self.0.into_inner()
    }
}

impl Connection for TlsConnection {
    fn connected(&self) -> Connected {
        let (_, session) = self.0.inner().get_ref();
        if session.alpn_protocol() == Some(b"h2") {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        }
    }
}

impl hyper::rt::Read for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
