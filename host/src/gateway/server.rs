//! The gateway's sockets: the callers' listener (HTTP, or HTTPS with optional
//! client certificates), the admin listener, per-connection limits (header
//! size and count, header read and idle timeout), a cap on open connections
//! per listener, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::metrics::gauge::Gauge;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::auth::Caller;
use super::metrics::ListenerLabels;
use super::routing::handle;
use super::{GatewayError, Shared, admin};
use crate::config::ServerTls;

/// Most request headers accepted (more → 431).
pub(super) const MAX_HEADERS: usize = 100;
/// Largest request head accepted in bytes (larger → 431).
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A serving gateway; it reloads its config file when that changes.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    inbound: tokio::task::JoinHandle<()>,
    admin: tokio::task::JoinHandle<()>,
    _reloader: super::ConfigWatcher,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to the grace
    /// deadline), then returns.
    pub async fn shutdown(self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        let _ = self.inbound.await;
        self.admin.abort();
    }
}

/// Binds both listeners; everything else was checked before.
pub async fn start(shared: Arc<Shared>) -> Result<Running, GatewayError> {
    let config = shared.current().config.clone();
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|e| GatewayError::Bind {
                addr,
                reason: e.to_string(),
            })
    };
    let tls = config.server.tls.as_ref().map(acceptor).transpose()?;
    let listener = bind(config.server.listen).await?;
    let admin_listener = bind(config.server.admin_listen).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    let (stop, stopped) = watch::channel(false);
    let inbound = tokio::spawn(serve_inbound(
        listener,
        tls,
        shared.clone(),
        config.server.header_timeout,
        config.server.shutdown_grace,
        Arc::new(Semaphore::new(config.server.max_connections)),
        stopped.clone(),
    ));
    let admin = tokio::spawn(admin::serve(
        admin_listener,
        shared.clone(),
        config.server.header_timeout,
        Arc::new(Semaphore::new(config.server.max_connections)),
        stopped,
    ));
    tracing::info!(%addr, %admin_addr, tls = config.server.tls.is_some(), "gateway listening");
    Ok(Running {
        _reloader: super::watch_config(shared.clone()),
        addr,
        admin_addr,
        shared,
        stop,
        inbound,
        admin,
    })
}

fn acceptor(tls: &ServerTls) -> Result<tokio_rustls::TlsAcceptor, GatewayError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| GatewayError::Tls(format!("{what}: {e}"));
    let chain = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| bad(&tls.cert.display().to_string(), &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&tls.cert.display().to_string(), &e))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| bad(&tls.key.display().to_string(), &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in
                CertificateDer::pem_file_iter(ca).map_err(|e| bad(&ca.display().to_string(), &e))?
            {
                roots
                    .add(cert.map_err(|e| bad(&ca.display().to_string(), &e))?)
                    .map_err(|e| bad(&ca.display().to_string(), &e))?;
            }
            // Callers may come with an API key and no certificate; tenants
            // that demand a certificate check it per request.
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| bad("client_ca", &e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad("certificate and key", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// One of a listener's `max_connections` permits, held by a connection
/// until it ends, and counted in `twoway_open_connections` meanwhile.
pub(super) struct ConnectionPermit {
    _permit: OwnedSemaphorePermit,
    gauge: Gauge,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The next connection, once the listener is under its connection cap;
/// `None` when the gateway stops.
///
/// Over the cap the accept loop waits for a connection to close rather than
/// accepting and closing new sockets at once: a burst of callers then waits
/// in the kernel's listen backlog and is served as connections free up
/// (the same "wait briefly, do not fail" as a tenant's queue), while idle or
/// slow connections cannot hold permits for long because every connection
/// is cut after `header_timeout_ms` without a complete request head (hyper
/// runs that timer from the connection's start and again whenever a
/// keep-alive connection goes idle). Past the backlog, the kernel refuses.
pub(super) async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    shared: &Shared,
    listener_name: &'static str,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr, ConnectionPermit)> {
    let permit = tokio::select! {
        permit = permits.clone().acquire_owned() => permit.ok()?,
        _ = stop.wait_for(|s| *s) => return None,
    };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return None,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let gauge = shared
                    .metrics
                    .connections
                    .get_or_create(&ListenerLabels {
                        listener: listener_name,
                    })
                    .clone();
                gauge.inc();
                let permit = ConnectionPermit {
                    _permit: permit,
                    gauge,
                };
                return Some((tcp, peer, permit));
            }
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                tracing::warn!(listener = listener_name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_inbound(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    header_timeout: Duration,
    grace: Duration,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    while let Some((tcp, peer, permit)) =
        accept(&listener, &permits, &shared, "inbound", &mut stop).await
    {
        let mut http = hyper::server::conn::http1::Builder::new();
        // hyper 1.x runs the header read timer from the start of every
        // request head, including the first one and the wait for the next
        // request on an idle keep-alive connection (Conn::poll_read_head,
        // re-armed on going idle), so it is also the idle timeout.
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEAD_BYTES);
        let shared = shared.clone();
        match &tls {
            None => {
                let caller = Arc::new(Caller::default());
                let service = service_fn(move |req| {
                    let (shared, caller) = (shared.clone(), caller.clone());
                    async move { Ok::<_, Infallible>(handle(shared, caller, req).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
            Some(acceptor) => {
                // The handshake runs in its own task so a slow client cannot
                // hold up the accept loop.
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _permit = permit;
                    let stream =
                        match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => stream,
                            _ => return tracing::debug!(%peer, "inbound TLS handshake failed"),
                        };
                    let caller =
                        Arc::new(Caller::from_chain(stream.get_ref().1.peer_certificates()));
                    let service = service_fn(move |req| {
                        let (shared, caller) = (shared.clone(), caller.clone());
                        async move { Ok::<_, Infallible>(handle(shared, caller, req).await) }
                    });
                    let conn = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "in-flight requests still running at the shutdown deadline"
        );
    }
}
