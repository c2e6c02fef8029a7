//! Lingering close, as nginx does it: after a request is refused before its
//! body was read (too large), the rest of the body is read and thrown away,
//! up to a bound and for a short time, before the connection closes; a
//! client still sending then reads the refusal, where an immediate close
//! would reset the connection under it (a broken pipe instead of a 413).

use std::time::Duration;

use bytes::Buf;
use http_body_util::BodyExt;

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
    async fn a_stalled_body_is_given_up() {
        assert_eq!(drain(Endless { stalled: true }).await, 0);
    }
}
