//! The wire under every tenant: a pooled HTTP client over rustls with the
//! tenant's client identity (one HTTP/2 connection per host and pool,
//! [`h2`], each request driving its own stream, [`stream`]; hyper-util's
//! keep-alive pool for a host that speaks only
//! HTTP/1.1), with timeouts for connect, handshake and response, and a cap
//! on response bodies; optionally through an HTTP CONNECT proxy ([`Proxy`]).
//! A cold host's first connection is made before the requests that wait for
//! it, so that HTTP/2 carries a stampede on one connection.

mod capped;
mod connector;
mod corked;
mod gzip;
mod h2;
mod proxy;
mod stream;
mod tls;

use std::cell::Cell;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use capped::{Capped, Overrun, StreamError};
pub use gzip::{Gunzip, GzipError, accepts_gzip, is_gzip};
pub use tls::client_config;
pub(crate) use tls::system_roots;

use crate::config::{Proxy, Upstream};
use connector::TlsConnector;
use stream::{Answer, Outgoing};

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "TLS handshake with {target} failed: {reason} (is the server's CA in extra_roots? is the client certificate accepted?)"
    )]
    Tls { target: String, reason: String },
    #[error("{phase} with {target} timed out after {after:?}")]
    Timeout {
        phase: &'static str,
        target: String,
        after: Duration,
    },
    #[error("response larger than the {limit}-byte cap ([upstream].max_response_kb)")]
    TooLarge { limit: usize },
    #[error("only https:// URLs are used, not {0}")]
    NotHttps(String),
    #[error("extra root {path}: {reason}")]
    Roots { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    /// The outbound proxy would not open a tunnel (never names credentials).
    #[error("proxy {proxy} could not open a tunnel to {target}: {reason}")]
    Proxy {
        proxy: String,
        target: String,
        reason: String,
    },
}

/// An answer read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A future an [`Exchange`] answers with.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Result<Reply, TransportError>> + Send + 'a>>;

/// Called once for each TLS handshake a pool makes, where it is made (the
/// gateway's metrics count them per tenant).
pub type OnHandshake = Arc<dyn Fn() + Send + Sync>;

/// Why a body stopped.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body that goes (or comes) a frame at a time.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// An answer whose head is in and whose body is still coming.
pub type Opened = http::Response<Body>;

/// A future [`Exchange::open`] answers with.
pub type Opening<'a> = Pin<Box<dyn Future<Output = Result<Opened, TransportError>> + Send + 'a>>;

/// `bytes` as a [`Body`].
pub fn whole(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// One request out, its whole answer back: the seam under the session and
/// upstream layers (logins and API calls go through it). [`Transport`] is
/// the pooled mutual-TLS client; a unit test scripts one instead, so that
/// re-login and retry, budgets, classification and redaction are tested
/// without sockets.
pub trait Exchange: Send + Sync {
    /// Sends `request` and reads the whole answer.
    fn exchange(&self, request: http::Request<Bytes>) -> Pending<'_>;

    /// Sends `request` as its body comes and answers once the answer's
    /// head is in; its body streams. This default (scripted exchanges)
    /// holds both bodies whole.
    fn open(&self, request: http::Request<Body>) -> Opening<'_> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| TransportError::Http(e.to_string()))?;
            let reply = self
                .exchange(http::Request::from_parts(parts, body.to_bytes()))
                .await?;
            let mut answer = http::Response::new(whole(reply.body));
            *answer.status_mut() = http::StatusCode::from_u16(reply.status)
                .map_err(|e| TransportError::Http(e.to_string()))?;
            *answer.headers_mut() = reply.headers;
            Ok(answer)
        })
    }
}

impl Exchange for Transport {
    fn exchange(&self, request: http::Request<Bytes>) -> Pending<'_> {
        Box::pin(self.send(request))
    }

    fn open(&self, request: http::Request<Body>) -> Opening<'_> {
        Box::pin(self.open(request))
    }
}

/// One tenant's pooled client.
#[derive(Clone)]
pub struct Transport {
    pools: Arc<Pools>,
    settings: Upstream,
    handshakes: Arc<AtomicU64>,
}

/// Most per-core pools; threads pinned past it share the last one.
const MAX_CORES: usize = 64;

/// A transport's connection pools: one for every thread not pinned to a
/// core (index 0), and one per core a thread is pinned to ([`pin_to_core`]),
/// each made on first use on that core, so that its connections' tasks run
/// on the core's runtime.
struct Pools {
    connector: TlsConnector,
    per_core: Box<[OnceLock<Pool>]>,
}

/// One core's connections: HTTP/2 ones per host, and hyper-util's pool
/// for hosts that speak only HTTP/1.1.
struct Pool {
    hosts: h2::Hosts,
    client: Client<TlsConnector, Body>,
    connector: TlsConnector,
}

thread_local! {
    /// The core this thread serves (0: none; [`pin_to_core`]).
    static CORE: Cell<usize> = const { Cell::new(0) };
}

/// Pins the calling thread to `core` (1 and up): the transports it uses
/// send on connections of their own, made and driven on this thread's
/// runtime, one per core and host.
pub fn pin_to_core(core: usize) {
    CORE.with(|c| c.set(core.min(MAX_CORES)));
}

impl Transport {
    /// A pooled client that uses `tls` for every connection.
    pub fn new(tls: Arc<rustls::ClientConfig>, settings: &Upstream) -> Self {
        Self::with_proxy(tls, settings, None, None)
    }

    /// [`Transport::new`] reaching hosts through `proxy` (HTTP CONNECT,
    /// then TLS end to end) unless its `no_proxy` list says otherwise, and
    /// calling `on_handshake` after each TLS handshake it makes.
    pub fn with_proxy(
        tls: Arc<rustls::ClientConfig>,
        settings: &Upstream,
        proxy: Option<Proxy>,
        on_handshake: Option<OnHandshake>,
    ) -> Self {
        let handshakes = Arc::new(AtomicU64::new(0));
        let connector = TlsConnector {
            tls,
            proxy: proxy.map(Arc::new),
            connect_timeout: settings.connect_timeout,
            handshake_timeout: settings.handshake_timeout,
            handshakes: handshakes.clone(),
            on_handshake,
            parked: h2::Parked::default(),
        };
        Self {
            pools: Arc::new(Pools {
                connector,
                per_core: (0..=MAX_CORES).map(|_| OnceLock::new()).collect(),
            }),
            settings: *settings,
            handshakes,
        }
    }

    /// The calling thread's pool.
    fn pool(&self) -> &Pool {
        let core = CORE.with(Cell::get);
        self.pools.per_core[core].get_or_init(|| {
            let connector = TlsConnector {
                parked: h2::Parked::default(),
                ..self.pools.connector.clone()
            };
            Pool {
                hosts: h2::Hosts::default(),
                client: Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(self.settings.pool_idle_timeout)
                    .pool_max_idle_per_host(self.settings.pool_max_idle_per_host)
                    .pool_timer(TokioTimer::new())
                    .timer(TokioTimer::new())
                    .build(connector.clone()),
                connector,
            }
        })
    }

    /// Sends `request` on this thread's pool: on the host's HTTP/2
    /// connection, or through hyper-util's pool when the host speaks only
    /// HTTP/1.1 (or the pool tracks too many hosts); answers with the head.
    async fn request(
        &self,
        request: http::Request<Outgoing>,
    ) -> Result<http::Response<Answer>, TransportError> {
        let pool = self.pool();
        let host = request
            .uri()
            .authority()
            .and_then(|authority| pool.hosts.host(authority.as_str()));
        let (request, _first) = match host {
            Some(host) if !host.http1() => {
                let sent = host
                    .send(
                        request,
                        &pool.connector,
                        &pool.connector.parked,
                        self.settings.pool_idle_timeout,
                    )
                    .await?;
                match sent {
                    h2::Sent::Answer(answer) => return Ok(answer),
                    h2::Sent::Http1 { request, first } => (request, first),
                }
            }
            _ => (request, None),
        };
        pool.client
            .request(request.map(Outgoing::into_body))
            .await
            .map(|answer| answer.map(Answer::Hyper))
            .map_err(client_error)
    }

    /// TLS handshakes this client has made (connection reuse shows here).
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Sends `request` and reads the whole answer, under the response timeout
    /// and the body cap.
    pub async fn send(&self, request: http::Request<Bytes>) -> Result<Reply, TransportError> {
        let target = Target::of(&request);
        let request = request.map(Outgoing::Whole);
        let limit = self.settings.max_response_bytes;
        // Pinned where it is: the exchange's future is some kilobytes (the
        // request's way through the pool and h2, the answer's read), and the
        // timeout would otherwise take it by value, a copy of it a request.
        let exchange = std::pin::pin!(async {
            let response = self.request(request).await?;
            let (parts, body) = response.into_parts();
            // An answer that announces more than the cap is refused on its
            // head, not read until the cap or the timeout.
            if hyper::body::Body::size_hint(&body).lower() > limit as u64 {
                return Err(TransportError::TooLarge { limit });
            }
            Ok(Reply {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: read_whole(body, limit).await?,
            })
        });
        tokio::time::timeout(self.settings.response_timeout, exchange)
            .await
            .map_err(|_| TransportError::Timeout {
                phase: "waiting for the response",
                target: target.to_string(),
                after: self.settings.response_timeout,
            })?
    }
}

impl Transport {
    /// Sends `request` as its body comes; answers when the answer's head
    /// is in (within the response timeout). The answer's body then waits
    /// at most the response timeout for each of its frames; its size is
    /// the caller's to bound.
    pub async fn open(&self, request: http::Request<Body>) -> Result<Opened, TransportError> {
        let target = Target::of(&request);
        let after = self.settings.response_timeout;
        // Pinned where it is, not moved into the timeout (as in `send`).
        let exchange = std::pin::pin!(self.request(request.map(Outgoing::Streamed)));
        let response = tokio::time::timeout(after, exchange).await.map_err(|_| {
            TransportError::Timeout {
                phase: "waiting for the response",
                target: target.to_string(),
                after,
            }
        })??;
        Ok(response.map(|body| Capped::new(body, usize::MAX, Some(after)).0.boxed_unsync()))
    }
}

/// The whole of `body` (an answer from [`Transport::open`], or any body
/// of [`Bytes`]), at most `limit` bytes. A body of one frame, as most
/// answers are, is that frame's bytes, not a copy.
pub async fn read_whole<B>(body: B, limit: usize) -> Result<Bytes, TransportError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut body = body;
    let mut first = Bytes::new();
    let mut more: Option<bytes::BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let e: BoxError = e.into();
            match e.downcast_ref::<StreamError>() {
                Some(StreamError::Idle { after }) => TransportError::Timeout {
                    phase: "reading the response",
                    target: "the API".into(),
                    after: *after,
                },
                _ => TransportError::Http(e.to_string()),
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        let had = more.as_ref().map_or(first.len(), bytes::BytesMut::len);
        if had + data.len() > limit {
            return Err(TransportError::TooLarge { limit });
        }
        match &mut more {
            Some(more) => more.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = bytes::BytesMut::with_capacity(had + data.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&data);
                more = Some(both);
            }
        }
    }
    Ok(more.map_or(first, bytes::BytesMut::freeze))
}

/// The host and port a request goes to, kept for an error and spelled
/// out only if one happens.
struct Target(Option<http::uri::Authority>);

impl Target {
    fn of<B>(request: &http::Request<B>) -> Self {
        Self(request.uri().authority().cloned())
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(authority) => authority.fmt(f),
            None => Ok(()),
        }
    }
}

/// Finds our connector's typed error inside hyper's, if there is one.
fn client_error(e: hyper_util::client::legacy::Error) -> TransportError {
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<TransportError>() {
            return clone_error(t);
        }
        source = s.source();
    }
    TransportError::Http(e.to_string())
}

fn clone_error(e: &TransportError) -> TransportError {
    match e {
        TransportError::Connect { target, reason } => TransportError::Connect {
            target: target.clone(),
            reason: reason.clone(),
        },
        TransportError::Tls { target, reason } => TransportError::Tls {
            target: target.clone(),
            reason: reason.clone(),
        },
        TransportError::Timeout {
            phase,
            target,
            after,
        } => TransportError::Timeout {
            phase,
            target: target.clone(),
            after: *after,
        },
        TransportError::Proxy {
            proxy,
            target,
            reason,
        } => TransportError::Proxy {
            proxy: proxy.clone(),
            target: target.clone(),
            reason: reason.clone(),
        },
        other => TransportError::Http(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    use super::*;

    /// A body of these frames, then the end; `None` is a frame that fails.
    struct Frames(VecDeque<Option<&'static [u8]>>);

    impl hyper::body::Body for Frames {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.0.pop_front().map(|frame| match frame {
                Some(data) => Ok(Frame::data(Bytes::from_static(data))),
                None => Err("the peer reset it".into()),
            }))
        }
    }

    fn frames(frames: &[Option<&'static [u8]>]) -> Frames {
        Frames(frames.iter().copied().collect())
    }

    #[tokio::test]
    async fn a_whole_body_is_its_one_frame_or_its_frames_joined_within_the_cap() {
        let one: &'static [u8] = b"<soapenv:Envelope/>";
        let read = read_whole(frames(&[Some(one)]), 64).await.unwrap();
        assert_eq!(read.as_ptr(), one.as_ptr(), "one frame was copied");

        let parts = [
            Some(&b""[..]),
            Some(b"ab"),
            Some(b""),
            Some(b"cd"),
            Some(b"e"),
        ];
        assert_eq!(read_whole(frames(&parts), 5).await.unwrap(), "abcde");
        assert_eq!(read_whole(frames(&[]), 5).await.unwrap(), "");

        for parts in [&[Some(&b"abcdef"[..])][..], &[Some(b"ab"), Some(b"cdef")]] {
            let e = read_whole(frames(parts), 5).await.unwrap_err();
            assert!(matches!(e, TransportError::TooLarge { limit: 5 }), "{e}");
        }
        let e = read_whole(frames(&[Some(b"ab"), None]), 5)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, TransportError::Http(why) if why.contains("reset")),
            "{e}"
        );
    }
}
