//! The HTTP/2 path to a host: per pool (one per core in per-core mode) and
//! host, one connection (the `h2` crate, hyper's own, its frames moved by a
//! task of the pool's runtime; each request drives its own stream,
//! [`super::stream`]) whose `SendRequest` each request clones, made by
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

use bytes::Bytes;
use h2::client::SendRequest;
use hyper_util::client::legacy::connect::Connection;

use super::TransportError;
use super::connector::{TlsConnection, TlsConnector};
use super::corked;
use super::stream::{self, Answer, Outgoing, Refusal, Tried};

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
    sender: SendRequest<Bytes>,
    /// Cleared when the connection ends or refuses a new stream.
    open: Arc<AtomicBool>,
    id: u64,
}

impl Live {
    fn is_closed(&self) -> bool {
        !self.open.load(Ordering::Relaxed)
    }
}

/// How [`Host::send`] ended without an error.
pub enum Sent {
    /// The answer's head (over HTTP/2).
    Answer(http::Response<Answer>),
    /// The host speaks HTTP/1.1: send `request` through hyper-util's pool,
    /// holding `first` (if any) until it is answered, so that the host's
    /// first request goes alone, on the connection parked for it.
    Http1 {
        request: http::Request<Outgoing>,
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
    /// took (it closed first) is sent once more on a new one; one whose
    /// stream the server refused without processing it is sent once more
    /// too (RFC 9113 §8.7: even a POST; its body held whole): after a
    /// GOAWAY below its stream on a new connection, after `REFUSED_STREAM`
    /// on whichever connection is the host's then (a refused stream says
    /// nothing against its connection). Either way at most once.
    pub async fn send(
        self: &Arc<Self>,
        mut request: http::Request<Outgoing>,
        connector: &TlsConnector,
        parked: &Parked,
        idle: Duration,
    ) -> Result<Sent, TransportError> {
        let mut may_retry = true;
        loop {
            let (sender, reused) = match self.sender() {
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
                                        .insert(authority.to_string(), *connection);
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
            match sender.send(request, may_retry).await {
                Tried::Answer(answer) => return Ok(Sent::Answer(answer)),
                Tried::Unsent(unsent, e) => {
                    self.retire_closed();
                    if !(reused && may_retry) {
                        return Err(e);
                    }
                    may_retry = false;
                    request = unsent;
                }
                Tried::Refused { why, again, error } => {
                    self.retire_closed();
                    tracing::debug!(refused = %why, again = again.is_some(), "the API refused a stream unprocessed");
                    match again {
                        Some(again) if may_retry => {
                            may_retry = false;
                            request = again;
                        }
                        _ => return Err(error),
                    }
                }
                Tried::Failed(e) => {
                    self.retire_closed();
                    return Err(e);
                }
            }
        }
    }

    /// A clone of the live connection's sender, if it is open.
    fn sender(&self) -> Option<Handle> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let live = live.as_ref().filter(|l| !l.is_closed())?;
        self.used
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        Some(Handle {
            sender: live.sender.clone(),
            open: live.open.clone(),
        })
    }

    /// Forgets the live connection once it has closed.
    fn retire_closed(&self) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.as_ref().is_some_and(Live::is_closed) {
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
            return Ok(Made::Http1(Box::new(connection)));
        }
        // Its writes go once a poll of its task ends (`corked`).
        let (io, cork) = corked::cork(connection.into_inner());
        let (sender, driver) = settings()
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| TransportError::Http(format!("HTTP/2 handshake: {e}")))?;
        let open = Arc::new(AtomicBool::new(true));
        let ended = open.clone();
        tokio::spawn(async move {
            if let Err(e) = cork.drive(driver).await {
                tracing::debug!(error = %e, "an upstream HTTP/2 connection ended");
            }
            ended.store(false, Ordering::Relaxed);
        });
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.used
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        let live = Live {
            sender: sender.clone(),
            open: open.clone(),
            id,
        };
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = Some(live);
        tokio::spawn(retire_when_idle(Arc::downgrade(self), id, idle));
        Ok(Made::H2(Handle { sender, open }))
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

/// Every HTTP/2 connection's settings: hyper's client defaults (windows
/// of 5 MB a connection and 2 MB a stream, frames of 16 KB, a 16 KB
/// header list, 1 MB buffered to send a stream, 100 streams before the
/// server's settings come, at most 1024 streams reset on our errors) and
/// no server push.
fn settings() -> h2::client::Builder {
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(2 << 20)
        .initial_connection_window_size(5 << 20)
        .max_frame_size(16 << 10)
        .max_header_list_size(16 << 10)
        .max_send_buffer_size(1 << 20)
        .initial_max_send_streams(100)
        .max_local_error_reset_streams(Some(1024))
        .enable_push(false);
    builder
}

/// A connection's sender and its open flag, as a request holds them.
struct Handle {
    sender: SendRequest<Bytes>,
    open: Arc<AtomicBool>,
}

impl Handle {
    /// Sends `request` on this connection (`resend`: see [`stream::send`]);
    /// one that takes no new stream (it received a GOAWAY or failed) is
    /// marked closed, so that the next request opens another, while its
    /// streams finish.
    async fn send(self, request: http::Request<Outgoing>, resend: bool) -> Tried {
        let tried = stream::send(self.sender, request, resend).await;
        if matches!(
            tried,
            Tried::Unsent(..)
                | Tried::Refused {
                    why: Refusal::GoingAway,
                    ..
                }
        ) {
            self.open.store(false, Ordering::Relaxed);
        }
        tried
    }
}

/// A new connection (the HTTP/1.1 one boxed: it is the TLS session itself,
/// over a kilobyte, and handed on once).
enum Made {
    H2(Handle),
    Http1(Box<TlsConnection>),
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
