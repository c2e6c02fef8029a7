//! Lingering close, as nginx does it: after a request is refused before its
//! body was read (too large), the rest of the body is read and thrown away,
//! up to a bound and for a short time, before the connection closes; a
//! client still sending then reads the refusal, where an immediate close
//! would reset the connection under it (a broken pipe instead of a 413).
//! A body refused while it streams upstream ([`kept`]) is taken back from
//! the upstream request and read the same way.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

/// Most bytes read and thrown away after a refusal. A body declared larger
/// (`Content-Length`) is not read at all: the connection closes at once.
pub const MAX_BYTES: u64 = 16 << 20;
/// Longest wait for the next part of the body.
pub const IDLE: Duration = Duration::from_secs(1);
/// Longest time spent reading it in all.
pub const MAX_TIME: Duration = Duration::from_secs(5);

/// Reads and throws away the rest of `body` in the background (within the
/// bounds above; `declared` is the request's `Content-Length`, if any);
/// the connection closes when it is dropped.
pub fn discard<B>(body: B, declared: Option<u64>)
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
{
    if declared.is_some_and(|length| length > MAX_BYTES) {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(MAX_TIME, drain(body)).await;
    });
}

/// Reads `body` until it ends, fails, stalls for [`IDLE`] or passes
/// [`MAX_BYTES`]; how many bytes were read.
async fn drain<B: hyper::body::Body + Unpin>(mut body: B) -> u64 {
    let mut read = 0;
    while read <= MAX_BYTES {
        match tokio::time::timeout(IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, |data| data.remaining() as u64);
            }
            _ => break,
        }
    }
    read
}

/// `body` as a body to send on ([`Kept`]) and a handle ([`Rest`]) that
/// takes back what is left of it when the request is refused midway: the
/// upstream request may drop its half, the caller's body lives on until
/// the handle reads it or is dropped.
pub fn kept<B>(body: B) -> (Kept<B>, Rest<B>) {
    let shared = Arc::new(Mutex::new(Some(body)));
    (Kept(shared.clone()), Rest(shared))
}

/// A body that can be taken back by its [`Rest`]; it ends when taken.
pub struct Kept<B>(Arc<Mutex<Option<B>>>);

/// What is left of a [`Kept`] body.
pub struct Rest<B>(Arc<Mutex<Option<B>>>);

fn inner<B>(shared: &Mutex<Option<B>>) -> MutexGuard<'_, Option<B>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl<B> Rest<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
{
    /// Reads what is left of the body and throws it away, as [`discard`]
    /// does after a refusal on the head.
    pub fn discard(self) {
        if let Some(body) = inner(&self.0).take() {
            discard(body, None);
        }
    }
}

impl<B: Body + Unpin> Body for Kept<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        match inner(&self.0).as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        inner(&self.0)
            .as_ref()
            .is_none_or(|body| body.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        inner(&self.0)
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |body| body.size_hint())
    }
}

/// The `Content-Length` of a request head, when it has a valid one.
pub fn declared(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::{Body, Frame};

    use super::*;

    /// A body of 1 MiB frames without end, or of none ever (`stalled`).
    struct Endless {
        stalled: bool,
    }

    impl Body for Endless {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.stalled {
                return Poll::Pending;
            }
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0u8; 1 << 20])))))
        }
    }

    #[tokio::test]
    async fn a_body_is_read_to_its_end_or_past_the_bound() {
        assert_eq!(drain(Full::new(Bytes::from(vec![0u8; 1000]))).await, 1000);
        let read = drain(Endless { stalled: false }).await;
        assert_eq!(read, MAX_BYTES + (1 << 20));
    }

    #[tokio::test]
    async fn a_kept_body_is_taken_back_from_its_sender() {
        let (mut sent, rest) = kept(Full::new(Bytes::from(vec![0u8; 1000])));
        assert!(!sent.is_end_stream());
        rest.discard();
        // Taken back (and read elsewhere): its sender sees the end.
        assert!(sent.is_end_stream());
        assert!(sent.frame().await.is_none());
        // A sender that outlives its rest still has the body.
        let (mut sent, rest) = kept(Full::new(Bytes::from("abc")));
        drop(rest);
        let frame = sent.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from("abc"));
    }

    #[tokio::test]
    async fn a_stalled_body_is_given_up() {
        assert_eq!(drain(Endless { stalled: true }).await, 0);
    }
}
