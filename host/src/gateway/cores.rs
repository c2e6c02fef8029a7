//! How the callers' listener is served ([`Shape`], `TWOWAY_RUNTIME`). The
//! default, `per-core`: one thread per core, each with a current-thread
//! tokio runtime, its own listening socket on the shared address
//! (`SO_REUSEPORT`: the kernel spreads new connections over them) and its
//! own upstream pools ([`crate::transport::pin_to_core`]), so that a request
//! is read, run and sent upstream on the thread that accepted it; an
//! upstream host gets one connection (one TLS handshake) per core. `shared`
//! serves every connection on the process's multi-thread runtime, with one
//! connection per upstream host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};

use super::{GatewayError, Shared};

/// How the callers' connections are spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every connection on the process's multi-thread runtime.
    Shared,
    /// This many threads, each a current-thread runtime with its own
    /// listening socket and upstream connections.
    PerCore(usize),
}

impl Shape {
    /// `TWOWAY_RUNTIME` (`per-core`, the default, or `shared`); per-core
    /// runs `TOKIO_WORKER_THREADS` threads, else one per CPU this process
    /// may use (affinity and cgroup CPU quota included).
    pub fn from_env() -> Result<Self, GatewayError> {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        Self::parse(&var("TWOWAY_RUNTIME"), &var("TOKIO_WORKER_THREADS"))
    }

    /// [`Shape::from_env`] from the two variables' values (empty: unset).
    pub fn parse(runtime: &str, workers: &str) -> Result<Self, GatewayError> {
        match runtime.trim() {
            "" | "per-core" => match workers.trim() {
                "" => Ok(Self::PerCore(
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                )),
                n => match n.parse() {
                    Ok(n) if n > 0 => Ok(Self::PerCore(n)),
                    _ => Err(GatewayError::Shape(format!(
                        "TOKIO_WORKER_THREADS={n:?}: a number of threads, 1 or more (unset: one per CPU)"
                    ))),
                },
            },
            "shared" => Ok(Self::Shared),
            other => Err(GatewayError::Shape(format!(
                "TWOWAY_RUNTIME={other:?}: use \"per-core\" (the default) or \"shared\""
            ))),
        }
    }

    /// Upstream connections a host gets from a tenant's pool at most when
    /// it speaks HTTP/2: one per core, or one.
    pub fn connections_per_host(self) -> usize {
        match self {
            Self::Shared => 1,
            Self::PerCore(n) => n,
        }
    }
}

/// `count` listening sockets on `addr` (the first decides the port when
/// `addr`'s is 0), each with `SO_REUSEPORT`.
pub(super) fn bind(
    addr: SocketAddr,
    count: usize,
) -> Result<Vec<std::net::TcpListener>, GatewayError> {
    let bind = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen(1024)?.into_std()
    };
    let failed = |e: std::io::Error| GatewayError::Bind {
        addr,
        reason: e.to_string(),
    };
    let first = bind(addr).map_err(failed)?;
    let bound = first.local_addr().map_err(failed)?;
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(bind(bound).map_err(failed)?);
    }
    Ok(listeners)
}

/// The per-core threads; they stop once [`Cores::stop`] is called (after
/// the drain, so their in-flight connections, which are tasks of their
/// runtimes, finish first), or at once when this is dropped.
pub(super) struct Cores {
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

/// What every core's accept loop gets.
pub(super) struct Inbound {
    /// HTTPS (the acceptor is the current generation's).
    pub tls: bool,
    pub shared: Arc<Shared>,
    pub header_timeout: Duration,
    pub permits: Arc<Semaphore>,
}

impl Cores {
    /// One thread per listener, each serving it on a runtime of its own.
    pub(super) fn start(
        listeners: Vec<std::net::TcpListener>,
        inbound: &Inbound,
    ) -> Result<Self, GatewayError> {
        let (stop, stopped) = watch::channel(false);
        let mut threads = Vec::with_capacity(listeners.len());
        for (i, listener) in listeners.into_iter().enumerate() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| GatewayError::Shape(format!("a per-core runtime: {e}")))?;
            let (tls, shared, permits) =
                (inbound.tls, inbound.shared.clone(), inbound.permits.clone());
            let header_timeout = inbound.header_timeout;
            let mut stopped = stopped.clone();
            let thread = std::thread::Builder::new()
                .name(format!("twoway-core-{i}"))
                .spawn(move || {
                    crate::transport::pin_to_core(i + 1);
                    runtime.block_on(async move {
                        match TcpListener::from_std(listener) {
                            Ok(listener) => {
                                // It ends when the drain stops accepting;
                                // the connections still open are tasks of
                                // this runtime, which ends on `stop` (or
                                // once `Cores` is gone).
                                tokio::spawn(super::server::serve_inbound(
                                    listener,
                                    tls,
                                    shared,
                                    header_timeout,
                                    permits,
                                ));
                            }
                            Err(e) => tracing::error!(core = i, error = %e, "per-core listener"),
                        }
                        let _ = stopped.wait_for(|stop| *stop).await;
                    });
                })
                .map_err(|e| GatewayError::Shape(format!("a per-core thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Self { stop, threads })
    }

    /// Ends every core's runtime (and what still runs on it).
    pub(super) fn stop(self) {
        let _ = self.stop.send(true);
        drop(self.threads);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_comes_from_the_environment_and_a_typo_is_named() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Per core is the default, one thread per CPU unless told.
        assert_eq!(Shape::parse("", "").unwrap(), Shape::PerCore(cpus));
        assert_eq!(Shape::parse("", "1").unwrap(), Shape::PerCore(1));
        assert_eq!(Shape::parse(" per-core ", "3").unwrap(), Shape::PerCore(3));
        for bad in ["0", "x", "-2"] {
            let e = Shape::parse("per-core", bad).unwrap_err().to_string();
            assert!(e.contains(&format!("TOKIO_WORKER_THREADS={bad:?}")), "{e}");
        }
        assert_eq!(Shape::parse("shared", "4").unwrap(), Shape::Shared);
        assert_eq!(Shape::Shared.connections_per_host(), 1);
        assert_eq!(Shape::PerCore(3).connections_per_host(), 3);
        let e = Shape::parse("percore", "").unwrap_err().to_string();
        assert!(
            e.contains("TWOWAY_RUNTIME=\"percore\"")
                && e.contains("per-core")
                && e.contains("shared"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn every_core_listens_on_the_one_port() {
        let listeners = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        assert_ne!(addrs[0].port(), 0);
        assert!(addrs.iter().all(|a| *a == addrs[0]), "{addrs:?}");
        // Each accepts: connections to the port reach one of them.
        let listeners: Vec<_> = listeners
            .into_iter()
            .map(|l| TcpListener::from_std(l).unwrap())
            .collect();
        let _client = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
        let accepted = async {
            tokio::select! {
                a = listeners[0].accept() => a,
                a = listeners[1].accept() => a,
                a = listeners[2].accept() => a,
            }
        };
        let accepted = tokio::time::timeout(Duration::from_secs(10), accepted)
            .await
            .unwrap();
        assert!(accepted.is_ok());
    }
}
