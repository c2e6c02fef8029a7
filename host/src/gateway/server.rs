//! The gateway's sockets: the callers' listener (HTTP, or HTTPS with optional
//! client certificates), the admin listener, per-connection limits (header
//! size and count, header read and idle timeout), a cap on open connections
//! per listener, and the drain ([`super::drain`]) every callers' listener obeys.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::auth::Caller;
use super::cores::{self, Cores, Shape};
use super::drain::Drained;
use super::header_timer::HeaderTimer;
use super::metrics::ListenerLabels;
use super::routing::handle;
use super::{GatewayError, Shared, admin};
use hyper_util::server::graceful::Watcher;

/// Largest request head accepted in bytes (larger → 431).
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Where the callers' listener runs ([`cores::Shape`]).
enum Inbound {
    Task(tokio::task::JoinHandle<()>),
    Cores(Cores),
}

/// A serving gateway; it reloads its config file when that changes.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub shared: Arc<Shared>,
    /// Ends the admin listener, which serves until the very end.
    stop_admin: watch::Sender<bool>,
    inbound: Inbound,
    admin: tokio::task::JoinHandle<()>,
    _reloader: super::ConfigWatcher,
}

impl Running {
    /// The shutdown a load balancer can see ([`super::drain`]): `/readyz`
    /// 503 at once, still accepting for `drain_grace_ms`, then in-flight
    /// requests finish within `shutdown_timeout_ms`. `interrupt` (a second
    /// signal) ends it at once.
    pub async fn drain(self, interrupt: impl Future<Output = ()>) -> Drained {
        let server = self.shared.current().config.server.clone();
        self.stop(server.drain_grace, server.shutdown_timeout, interrupt)
            .await
    }

    /// Stops accepting now (no drain grace) and lets in-flight requests
    /// finish within `shutdown_timeout_ms`.
    pub async fn shutdown(self) {
        let timeout = self.shared.current().config.server.shutdown_timeout;
        self.stop(Duration::ZERO, timeout, std::future::pending())
            .await;
    }

    async fn stop(
        self,
        grace: Duration,
        timeout: Duration,
        interrupt: impl Future<Output = ()>,
    ) -> Drained {
        let ended = self.shared.drain.run(grace, timeout, interrupt).await;
        let _ = self.stop_admin.send(true);
        match self.inbound {
            Inbound::Task(task) => task.abort(),
            Inbound::Cores(cores) => cores.stop(),
        }
        self.admin.abort();
        ended
    }
}

/// Binds both listeners, the callers' in the shape `TWOWAY_RUNTIME` names
/// ([`Shape::from_env`]); everything else was checked before.
pub async fn start(shared: Arc<Shared>) -> Result<Running, GatewayError> {
    start_as(shared, Shape::from_env()?).await
}

/// [`start`] in the given shape.
pub async fn start_as(shared: Arc<Shared>, shape: Shape) -> Result<Running, GatewayError> {
    let config = shared.current().config.clone();
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|e| GatewayError::Bind {
                addr,
                reason: e.to_string(),
            })
    };
    let tls = shared.current().tls.is_some();
    let (listener, per_core) = match shape {
        Shape::Shared => (Some(bind(config.server.listen).await?), Vec::new()),
        Shape::PerCore(n) => (None, cores::bind(config.server.listen, n)?),
    };
    let admin_listener = bind(config.server.admin_listen).await?;
    let addr = match (&listener, per_core.first()) {
        (Some(listener), _) => listener.local_addr(),
        (None, Some(listener)) => listener.local_addr(),
        (None, None) => Err(std::io::Error::other("no listener")),
    }
    .map_err(|e| GatewayError::Tls(e.to_string()))?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    shared.front_door.listening(addr, tls);
    let (stop_admin, admin_stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.server.max_connections));
    let inbound = match listener {
        Some(listener) => Inbound::Task(tokio::spawn(serve_inbound(
            listener,
            tls,
            shared.clone(),
            config.server.header_timeout,
            permits,
        ))),
        None => Inbound::Cores(Cores::start(
            per_core,
            &cores::Inbound {
                tls,
                shared: shared.clone(),
                header_timeout: config.server.header_timeout,
                permits,
            },
        )?),
    };
    let admin = tokio::spawn(admin::serve(
        admin_listener,
        shared.clone(),
        config.server.header_timeout,
        Arc::new(Semaphore::new(config.server.max_connections)),
        admin_stopped,
    ));
    tracing::info!(%addr, %admin_addr, tls = config.server.tls.is_some(), runtime = ?shape, "gateway listening");
    Ok(Running {
        _reloader: super::watch_config(shared.clone()),
        addr,
        admin_addr,
        shared,
        stop_admin,
        inbound,
        admin,
    })
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
/// `None` once `stop` resolves.
///
/// Over the cap the accept loop waits for a connection to close before it
/// serves the connection it accepted last and accepts more, rather than
/// closing new sockets at once: a burst of callers then waits in the
/// kernel's listen backlog (and one accepted connection per accept loop
/// waits for its permit) and is served as connections free up (the same
/// "wait briefly, do not fail" as a tenant's queue), while idle or slow
/// connections cannot hold permits for long because every connection is
/// cut after `header_timeout_ms` without a complete request head (hyper
/// runs that timer from the connection's start and again whenever a
/// keep-alive connection goes idle). Past the backlog, the kernel refuses.
/// The permit is taken after the accept, not before, because per core
/// several accept loops share the cap: one holding a permit while its own
/// socket has no caller would keep it from a core that has one.
pub(super) async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    shared: &Shared,
    listener_name: &'static str,
    mut stop: Pin<&mut impl Future<Output = ()>>,
) -> Option<(TcpStream, SocketAddr, ConnectionPermit)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.as_mut() => return None,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let permit = tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.ok()?,
                    _ = stop.as_mut() => return None,
                };
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

/// The callers' listener: accepts until the drain stops it; each
/// connection is watched by the drain, each answer marked by it.
pub(super) async fn serve_inbound(
    listener: TcpListener,
    tls: bool,
    shared: Arc<Shared>,
    header_timeout: Duration,
    permits: Arc<Semaphore>,
) {
    let stop = shared.drain.stopped();
    tokio::pin!(stop);
    let timer = HeaderTimer::new();
    while let Some((tcp, peer, permit)) =
        accept(&listener, &permits, &shared, "inbound", stop.as_mut()).await
    {
        let Some(watcher) = shared.drain.watcher() else {
            break;
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        // hyper 1.x runs the header read timer from the start of every
        // request head, including the first one and the wait for the next
        // request on an idle keep-alive connection (Conn::poll_read_head,
        // re-armed on going idle), so it is also the idle timeout.
        //
        // At most 100 request headers (more → 431) is hyper's own default,
        // left unset: set, even to 100, it makes hyper fill two arrays of
        // that many entries for every request head instead of using its
        // inline ones (about 1,600 instructions a request under callgrind).
        http.timer(timer.clone())
            .header_read_timeout(header_timeout)
            .max_header_size(MAX_HEAD_BYTES)
            .max_buf_size(MAX_HEAD_BYTES);
        let shared = shared.clone();
        // Each connection takes the current generation's certificate: a
        // rotated one serves new handshakes, open connections go on.
        let acceptor = tls
            .then(|| shared.current().tls.as_ref().map(|t| t.acceptor.clone()))
            .flatten();
        // The TLS handshake runs in the connection's task so a slow client
        // cannot hold up the accept loop.
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = acceptor else {
                return serve(tcp, Caller::default(), shared, http, watcher, peer).await;
            };
            match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let caller = Caller::from_chain(stream.get_ref().1.peer_certificates());
                    serve(stream, caller, shared, http, watcher, peer).await;
                }
                _ => tracing::debug!(%peer, "inbound TLS handshake failed"),
            }
        });
    }
}

/// Serves one callers' connection until it ends or the drain closes it.
async fn serve<I>(
    io: I,
    caller: Caller,
    shared: Arc<Shared>,
    http: hyper::server::conn::http1::Builder,
    watcher: Watcher,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let caller = Arc::new(caller);
    let service = service_fn(move |req| {
        let (shared, caller) = (shared.clone(), caller.clone());
        async move {
            let mut response = handle(shared.clone(), caller, peer, req).await;
            shared.drain.mark(&mut response);
            Ok::<_, Infallible>(response)
        }
    });
    let io = TokioIo::new(super::early::ProblemIo::new(io));
    let conn = watcher.watch(http.serve_connection(io, service));
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}
