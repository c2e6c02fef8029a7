//! The events subscriber's connection to Redis: a socket of its own (TCP,
//! or TLS verified as the store's other connection is: against `ca_file`,
//! else the system's roots), read through a cap on the bytes not yet handed
//! on as a message. redis-rs reads a whole reply into memory before it
//! hands it on, so a message larger than any the fleet publishes would be
//! read whole; past the cap the connection ends instead, and the
//! subscriber connects again.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ConnectionAddr, ProtocolVersion, PushInfo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::StoreError;

/// The most the subscriber reads without a message coming of it: several
/// of the largest message the fleet publishes
/// ([`super::events::MAX_MESSAGE`]), far below what one hostile message
/// could take.
pub(super) const MAX_UNREAD: usize = 4 * super::events::MAX_MESSAGE;

/// A RESP3 connection subscribed to `channel`, its messages sent to `tx`.
pub(super) async fn subscribe(
    client: &Client,
    ca: Option<&[u8]>,
    channel: &str,
    bound: Duration,
    tx: mpsc::UnboundedSender<PushInfo>,
) -> Result<MultiplexedConnection, StoreError> {
    let info = client.get_connection_info();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let unread = Arc::new(AtomicUsize::new(0));
    let handed_on = unread.clone();
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(bound))
        .set_push_sender(move |push: PushInfo| {
            handed_on.store(0, Ordering::Relaxed);
            tx.send(push)
        });
    let attempt = async {
        let stream = Capped {
            inner: connect(info.addr(), ca).await?,
            unread,
            cap: MAX_UNREAD,
        };
        let (mut conn, driver) =
            MultiplexedConnection::new_with_config(&settings, stream, config).await?;
        tokio::spawn(driver);
        conn.subscribe(channel).await?;
        Ok::<_, StoreError>(conn)
    };
    tokio::time::timeout(bound, attempt)
        .await
        .unwrap_or(Err(StoreError::Timeout(bound)))
}

/// What the connection reads and writes through.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

async fn connect(addr: &ConnectionAddr, ca: Option<&[u8]>) -> Result<Box<dyn Io>, StoreError> {
    let tcp = |host: &str, port: u16| {
        let host = host.to_string();
        async move {
            let stream = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| {
                    StoreError::Redis(format!("connecting for the fleet's events: {e}"))
                })?;
            let _ = stream.set_nodelay(true);
            Ok::<_, StoreError>(stream)
        }
    };
    match addr {
        ConnectionAddr::Tcp(host, port) => Ok(Box::new(tcp(host, *port).await?)),
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            ..
        } => {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| StoreError::Redis(format!("the Redis host name: {e}")))?;
            let stream = tcp(host, *port).await?;
            let tls = tokio_rustls::TlsConnector::from(tls_config(ca)?)
                .connect(name, stream)
                .await
                .map_err(|e| {
                    StoreError::Redis(format!(
                        "TLS for the fleet's events: {e} (is [store] ca_file the CA that issued the server's certificate?)"
                    ))
                })?;
            Ok(Box::new(tls))
        }
        _ => Err(StoreError::Redis(
            "the fleet's events need a redis:// or a verified rediss:// URL".into(),
        )),
    }
}

/// Server verification as for the store's other connection: the CA of
/// `ca_file` only, or the system's roots.
fn tls_config(ca: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            let certs = crate::pem::certificates(pem)
                .map_err(|e| StoreError::Redis(format!("store.ca_file: {e}")))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| StoreError::Redis(format!("store.ca_file: {e}")))?;
            }
        }
        None => {
            let _ =
                roots.add_parsable_certificates(crate::transport::system_roots().iter().cloned());
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Redis(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A stream that fails once more than `cap` bytes were read since the
/// last message was handed on (`unread` is reset then).
struct Capped<S> {
    inner: S,
    unread: Arc<AtomicUsize>,
    cap: usize,
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unread.load(Ordering::Relaxed) > this.cap {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "more than {} bytes on the fleet's events channel without a message: larger than any the fleet publishes",
                    this.cap
                ),
            )));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        this.unread.fetch_add(n, Ordering::Relaxed);
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_reader_stops_past_the_cap_until_a_message_is_handed_on() {
        let (mut server, client) = tokio::io::duplex(1024);
        let unread = Arc::new(AtomicUsize::new(0));
        let mut capped = Capped {
            inner: client,
            unread: unread.clone(),
            cap: 4096,
        };
        let writer = tokio::spawn(async move {
            let chunk = [b'x'; 1024];
            let mut written = 0usize;
            while server.write_all(&chunk).await.is_ok() {
                written += chunk.len();
                if written >= 1 << 20 {
                    break;
                }
            }
            written
        });
        let mut read = 0usize;
        let mut reset = false;
        let mut buf = [0u8; 512];
        let error = loop {
            match capped.read(&mut buf).await {
                Ok(0) => panic!("the writer ended first"),
                Ok(n) => read += n,
                Err(e) => break e,
            }
            if read >= 3000 && !reset {
                // A message was handed on: the count starts again.
                reset = true;
                unread.store(0, Ordering::Relaxed);
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            read > 4096 && read <= 3072 + 4096 + buf.len(),
            "read {read} bytes"
        );
        drop(capped);
        assert!(writer.await.unwrap() < 1 << 20, "the rest was never read");
    }
}
