//! The HTTP/2 path to a host: per pool (one per core in per-core mode) and
//! host, one connection whose `SendRequest` each request clones, made by
//! the first request that finds none while the others wait for it (single
//! flight, so a cold stampede opens one connection), replaced when it
//! closes, let go after `pool_idle_timeout` unused. A host whose server
//! chose HTTP/1.1 (ALPN) goes to hyper-util's keep-alive pool from then on,
//! its first connection handed to that pool ([`Parked`]) and its first
//! request sent before the others, as over HTTP/2.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::connector::{TlsConnection, TlsConnector};
use super::{Body, TransportError};

/// Hosts tracked per pool; past this, requests go to hyper-util's pool
/// (a pool talks to a handful of instance hosts).
const MAX_HOSTS: usize = 256;

/// A pool's hosts.
#[derive(Default)]
pub struct Hosts {
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

impl Hosts {
    /// `authority`'s entry (made on first use), or none when the table is full.
    pub fn host(&self, authority: &str) -> Option<Arc<Host>> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(host) = hosts.get(authority) {
            return Some(host.clone());
        }
        if hosts.len() >= MAX_HOSTS {
            return None;
        }
        let host = Arc::new(Host {
            live: Mutex::new(None),
            connecting: Arc::new(tokio::sync::Mutex::new(())),
            http1: AtomicBool::new(false),
            used: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        hosts.insert(authority.to_string(), host.clone());
        Some(host)
    }
}

/// One host of one pool.
pub struct Host {
    live: Mutex<Option<Live>>,
    /// Held by the request that makes the host's connection.
    connecting: Arc<tokio::sync::Mutex<()>>,
    /// The server chose HTTP/1.1: hyper-util's pool serves this host.
    http1: AtomicBool,
    /// When the connection was last handed out (milliseconds since `epoch`).
    used: AtomicU64,
    epoch: Instant,
}

/// The host's connection.
struct Live {
    sender: SendRequest<Body>,
    id: u64,
}

/// How [`Host::send`] ended without an error.
pub enum Sent {
    /// The answer's head (over HTTP/2).
    Answer(http::Response<Incoming>),
    /// The host speaks HTTP/1.1: send `request` through hyper-util's pool,
    /// holding `first` (if any) until it is answered, so that the host's
    /// first request goes alone, on the connection parked for it.
    Http1 {
        request: http::Request<Body>,
        first: Option<tokio::sync::OwnedMutexGuard<()>>,
    },
}

/// Connections made for the pool's first request to an HTTP/1.1 host,
/// handed to hyper-util's pool by the connector instead of a new one.
pub type Parked = Arc<Mutex<HashMap<String, TlsConnection>>>;

/// Numbers connections, so that an idle timer retires only its own.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Host {
    /// Whether hyper-util's pool serves this host.
    pub fn http1(&self) -> bool {
        self.http1.load(Ordering::Relaxed)
    }

    /// Sends `request` on the host's connection, made first if there is
    /// none (`connector`, then the HTTP/2 handshake, its connection driven
    /// by a task on this thread's runtime). A request the connection never
    /// took (it closed first) is sent once more on a new one.
    pub async fn send(
        self: &Arc<Self>,
        mut request: http::Request<Body>,
        connector: &TlsConnector,
        parked: &Parked,
        idle: Duration,
    ) -> Result<Sent, TransportError> {
        let mut may_retry = true;
        loop {
            let (mut sender, reused) = match self.sender() {
                Some(sender) => (sender, true),
                None => {
                    let first = self.connecting.clone().lock_owned().await;
                    if self.http1() {
                        return Ok(Sent::Http1 {
                            request,
                            first: None,
                        });
                    }
                    match self.sender() {
                        // Made while this request waited.
                        Some(sender) => (sender, true),
                        // Out of line (see `apart`): a request that finds
                        // the connection made never pays for making one.
                        None => match apart(self.connect(request.uri(), connector, idle)).await? {
                            Made::H2(sender) => (sender, false),
                            Made::Http1(connection) => {
                                if let Some(authority) = request.uri().authority() {
                                    parked
                                        .lock()
                                        .unwrap_or_else(|e| e.into_inner())
                                        .insert(authority.to_string(), connection);
                                }
                                self.http1.store(true, Ordering::Relaxed);
                                return Ok(Sent::Http1 {
                                    request,
                                    first: Some(first),
                                });
                            }
                        },
                    }
                }
            };
            match sender.try_send_request(request).await {
                Ok(answer) => return Ok(Sent::Answer(answer)),
                Err(mut e) => {
                    if sender.is_closed() {
                        self.retire_closed();
                    }
                    match e.take_message() {
                        Some(unsent) if reused && may_retry => {
                            may_retry = false;
                            request = unsent;
                        }
                        _ => return Err(TransportError::Http(e.into_error().to_string())),
                    }
                }
            }
        }
    }

    /// A clone of the live connection's sender, if it is open.
    fn sender(&self) -> Option<SendRequest<Body>> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let live = live.as_ref().filter(|l| !l.sender.is_closed())?;
        self.used
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        Some(live.sender.clone())
    }

    /// Forgets the live connection once it has closed.
    fn retire_closed(&self) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.as_ref().is_some_and(|l| l.sender.is_closed()) {
            *live = None;
        }
    }

    /// Opens a connection to `uri`'s host: over HTTP/2 it becomes the
    /// host's, with a timer that lets it go after `idle` unused.
    async fn connect(
        self: &Arc<Self>,
        uri: &http::Uri,
        connector: &TlsConnector,
        idle: Duration,
    ) -> Result<Made, TransportError> {
        let connection = connector.clone().connect(uri.clone()).await?;
        if !connection.connected().is_negotiated_h2() {
            return Ok(Made::Http1(connection));
        }
        let (sender, driver) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(connection)
            .await
            .map_err(|e| TransportError::Http(format!("HTTP/2 handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = driver.await {
                tracing::debug!(error = %e, "an upstream HTTP/2 connection ended");
            }
        });
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.used
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = Some(Live {
            sender: sender.clone(),
            id,
        });
        tokio::spawn(retire_when_idle(Arc::downgrade(self), id, idle));
        Ok(Made::H2(sender))
    }
}

/// `connect` boxed as a trait object, so that its poll (the TLS and
/// HTTP/2 handshakes) is not inlined into `send`'s: inlined, it made the
/// poll frame of every request about 24 KB larger, and the stack probes
/// touch all of it, so on a plugin's fiber each stack kept 24 KB more
/// resident (36 instead of 56 KB a call; docs/performance.md).
fn apart<'a>(
    connect: impl Future<Output = Result<Made, TransportError>> + Send + 'a,
) -> std::pin::Pin<Box<dyn Future<Output = Result<Made, TransportError>> + Send + 'a>> {
    Box::pin(connect)
}

/// A new connection.
enum Made {
    H2(SendRequest<Body>),
    Http1(TlsConnection),
}

/// Lets connection `id` go once it has not been handed out for `idle`
/// (requests in flight on it finish first); ends when it is replaced.
async fn retire_when_idle(host: Weak<Host>, id: u64, idle: Duration) {
    let mut wait = idle;
    loop {
        tokio::time::sleep(wait).await;
        let Some(host) = host.upgrade() else { return };
        let mut live = host.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.as_ref().is_none_or(|l| l.id != id) {
            return;
        }
        let used = Duration::from_millis(host.used.load(Ordering::Relaxed));
        let unused = host.epoch.elapsed().saturating_sub(used);
        if unused >= idle {
            *live = None;
            return;
        }
        wait = idle - unused;
    }
}
