//! A body bounded while it streams: at most `limit` bytes of data, at most
//! `idle` between frames, the frames already read before it was wrapped
//! (a prefix) given first, and whatever must live as long as the body (a
//! tenant's concurrency slot) held until it ends. Why it stopped is kept
//! in an [`Overrun`] for whoever answers, because hyper hands the error on
//! wrapped.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::time::{Instant, Sleep};

use super::BoxError;

/// Why a [`Capped`] body stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the body is over the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("no part of the body came for {} ms", .after.as_millis())]
    Idle { after: Duration },
    /// What it wraps failed (the connection broke, its encoding is wrong).
    #[error("{0}")]
    Broken(String),
}

/// Where a [`Capped`] body records why it stopped, and how many bytes
/// of data passed (shared by clones).
#[derive(Debug, Clone, Default)]
pub struct Overrun(Arc<Outcome>);

#[derive(Debug, Default)]
struct Outcome {
    stopped: OnceLock<StreamError>,
    seen: AtomicU64,
}

impl Overrun {
    /// Why the body stopped early, if it did.
    pub fn get(&self) -> Option<StreamError> {
        self.0.stopped.get().cloned()
    }

    /// The bytes of data the body gave so far (the prefix included).
    pub fn seen(&self) -> u64 {
        self.0.seen.load(Ordering::Relaxed)
    }

    fn set(&self, error: StreamError) {
        let _ = self.0.stopped.set(error);
    }
}

/// `inner` bounded in size and in the wait for each frame (`idle` from
/// the first wait, or from the last frame once it has waited).
pub struct Capped<B> {
    inner: B,
    prefix: VecDeque<Bytes>,
    limit: usize,
    seen: usize,
    idle: Option<Duration>,
    /// Made at the first wait for a frame: a body whose frames are there
    /// whenever they are asked for (most answers, read whole) never arms
    /// a timer, nor moves one in the runtime's wheel at each frame.
    timer: Option<Pin<Box<Sleep>>>,
    overrun: Overrun,
    hold: Option<Box<dyn std::any::Any + Send>>,
    done: bool,
}

impl<B> Capped<B> {
    /// `inner` with at most `limit` bytes and `idle` (if any) between frames.
    pub fn new(inner: B, limit: usize, idle: Option<Duration>) -> (Self, Overrun) {
        let overrun = Overrun::default();
        let capped = Self {
            inner,
            prefix: VecDeque::new(),
            limit,
            seen: 0,
            idle,
            timer: None,
            overrun: overrun.clone(),
            hold: None,
            done: false,
        };
        (capped, overrun)
    }

    /// Gives `prefix` (already read from `inner`, counted too) first.
    pub fn after(mut self, prefix: VecDeque<Bytes>) -> Self {
        self.prefix = prefix;
        self
    }

    /// Keeps `guard` until the body ends or is dropped.
    pub fn holding(mut self, guard: impl std::any::Any + Send) -> Self {
        self.hold = Some(Box::new(guard));
        self
    }

    fn fail(&mut self, error: StreamError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.overrun.set(error.clone());
        self.done = true;
        self.hold = None;
        Poll::Ready(Some(Err(Box::new(error))))
    }

    /// Counts `data` against the limit.
    fn count(&mut self, data: usize) -> Result<(), StreamError> {
        self.seen = self.seen.saturating_add(data);
        self.overrun
            .0
            .seen
            .fetch_add(data as u64, Ordering::Relaxed);
        if self.seen > self.limit {
            return Err(StreamError::TooLarge { limit: self.limit });
        }
        Ok(())
    }
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(data) = this.prefix.pop_front() {
            if let Err(e) = this.count(data.len()) {
                return this.fail(e);
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(timer), Some(idle)) = (this.timer.as_mut(), this.idle) {
                    timer.as_mut().reset(Instant::now() + idle);
                }
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.count(data.len())
                {
                    return this.fail(e);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let e: BoxError = e.into();
                this.overrun.set(StreamError::Broken(e.to_string()));
                this.done = true;
                this.hold = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.done = true;
                this.hold = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(after) = this.idle else {
                    return Poll::Pending;
                };
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => this.fail(StreamError::Idle { after }),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.prefix.is_empty() && self.inner.is_end_stream())
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};

    use super::*;

    fn frames(parts: &[&'static str]) -> VecDeque<Bytes> {
        parts
            .iter()
            .map(|p| Bytes::from_static(p.as_bytes()))
            .collect()
    }

    #[tokio::test]
    async fn the_prefix_comes_first_and_everything_counts() {
        let (body, overrun) = Capped::new(
            Full::new(Bytes::from("cd")),
            4,
            Some(Duration::from_secs(5)),
        );
        let body = body.after(frames(&["a", "b"]));
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(all, Bytes::from("abcd"));
        assert_eq!(overrun.get(), None);
        assert_eq!(overrun.seen(), 4);

        let (body, overrun) = Capped::new(
            Full::new(Bytes::from("cde")),
            4,
            Some(Duration::from_secs(5)),
        );
        let error = body.after(frames(&["a", "b"])).collect().await.unwrap_err();
        assert_eq!(error.to_string(), "the body is over the 4-byte limit");
        assert_eq!(overrun.get(), Some(StreamError::TooLarge { limit: 4 }));
    }

    #[tokio::test]
    async fn a_stalled_body_ends_after_the_idle_time() {
        let (body, overrun) = Capped::new(Stalled, 100, Some(Duration::from_millis(20)));
        let error = body.collect().await.unwrap_err();
        assert!(
            error.to_string().starts_with("no part of the body came"),
            "{error}"
        );
        assert!(matches!(overrun.get(), Some(StreamError::Idle { .. })));
    }

    #[tokio::test]
    async fn a_body_that_never_waits_arms_no_timer() {
        let (mut body, overrun) = Capped::new(
            Full::new(Bytes::from("whole")),
            64,
            Some(Duration::from_secs(5)),
        );
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from("whole"));
        assert!(body.frame().await.is_none());
        assert!(body.timer.is_none());
        assert_eq!(overrun.get(), None);
    }

    #[tokio::test]
    async fn what_it_holds_is_let_go_at_the_end() {
        let held = Arc::new(());
        let (body, _) = Capped::new(Full::new(Bytes::from("x")), 4, Some(Duration::from_secs(5)));
        let body = body.holding(held.clone());
        assert_eq!(Arc::strong_count(&held), 2);
        body.collect().await.unwrap();
        assert_eq!(Arc::strong_count(&held), 1);
    }

    /// A body that never yields.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }
}
