//! An HTTP/2 connection's writes gathered while its task runs and sent as
//! one when the task's poll ends. h2 flushes its connection after every
//! DATA frame it does not copy into its own buffer (one of 256 bytes or
//! more), so each request that one wake-up of the connection sends would
//! go as a TLS record and a system call of its own; corked, they go in one.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Gathered past this, a write waits until what is gathered has gone.
const MOST: usize = 64 << 10;

/// `io` corked for an HTTP/2 connection: the I/O to make the connection
/// on, and the [`Cork`] its task sends what a poll wrote with.
pub fn cork<T>(io: T) -> (Corked<T>, Cork<T>) {
    let shared = Arc::new(Mutex::new(Gathered {
        io,
        out: Vec::new(),
        sent: 0,
        failed: None,
    }));
    (Corked(Cork(shared.clone())), Cork(shared))
}

/// The connection's I/O as h2 sees it: its writes gathered, its flushes
/// left to the end of the connection task's poll.
pub struct Corked<T>(Cork<T>);

/// Sends what the connection's last poll wrote ([`Cork::poll_send`]).
pub struct Cork<T>(Arc<Mutex<Gathered<T>>>);

/// The I/O and what is gathered for it.
struct Gathered<T> {
    io: T,
    out: Vec<u8>,
    /// How much of `out` has gone.
    sent: usize,
    /// Why sending what was gathered failed, for h2's next read or write.
    failed: Option<io::Error>,
}

impl<T> Cork<T> {
    fn lock(&self) -> MutexGuard<'_, Gathered<T>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: AsyncWrite + Unpin> Cork<T> {
    /// Drives `connection` (the h2 connection made on this cork's
    /// [`Corked`]), sending what each of its polls wrote as that poll ends.
    pub async fn drive<F: Future>(self, connection: F) -> F::Output {
        let mut connection = std::pin::pin!(connection);
        std::future::poll_fn(|cx| {
            let polled = connection.as_mut().poll(cx);
            self.poll_send(cx);
            polled
        })
        .await
    }

    /// Sends what is gathered and flushes the I/O, after a poll of the
    /// connection's task: a failure is kept for h2's next read or write,
    /// and the task woken to make one; a full socket wakes the task when
    /// it can take more.
    pub fn poll_send(&self, cx: &mut Context<'_>) {
        let mut gathered = self.lock();
        if let Poll::Ready(Err(e)) = gathered.poll_send(cx) {
            // What was gathered is lost with the connection.
            gathered.out.clear();
            gathered.sent = 0;
            gathered.failed = Some(e);
            cx.waker().wake_by_ref();
        }
    }
}

impl<T: AsyncWrite + Unpin> Gathered<T> {
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.out.clear();
        self.sent = 0;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Gathers `bufs`, once fewer than [`MOST`] bytes wait to go.
    fn poll_gather(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.failed.take() {
            return Poll::Ready(Err(e));
        }
        if self.out.len() >= MOST {
            ready!(self.poll_send(cx))?;
        }
        let mut n = 0;
        for buf in bufs {
            self.out.extend_from_slice(buf);
            n += buf.len();
        }
        Poll::Ready(Ok(n))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Corked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut gathered = self.0.lock();
        if let Some(e) = gathered.failed.take() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut gathered.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Corked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.lock().poll_gather(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.lock().poll_gather(cx, bufs)
    }

    /// Gathering takes slices as cheaply as one buffer, so h2 hands
    /// over a DATA frame's payload without first copying it.
    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Left to the end of the task's poll ([`Cork::poll_send`]).
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut gathered = self.0.lock();
        ready!(gathered.poll_send(cx))?;
        Pin::new(&mut gathered.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    /// An in-memory pipe's near end that counts the writes it takes.
    struct Counted {
        io: DuplexStream,
        writes: Arc<AtomicUsize>,
    }

    impl Counted {
        fn count(&self, written: &Poll<io::Result<usize>>) {
            if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
                self.writes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let written = Pin::new(&mut self.io).poll_write(cx, buf);
            self.count(&written);
            written
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
            self.count(&written);
            written
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// What the connection's task does at the end of a poll.
    async fn end_of_poll<T: AsyncWrite + Unpin>(cork: &Cork<T>) {
        std::future::poll_fn(|cx| {
            cork.poll_send(cx);
            Poll::Ready(())
        })
        .await
    }

    #[tokio::test]
    async fn a_polls_writes_and_flushes_go_as_one_write_when_the_poll_ends() {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let writes = Arc::new(AtomicUsize::new(0));
        let (mut corked, cork) = cork(Counted {
            io: near,
            writes: writes.clone(),
        });
        assert!(corked.is_write_vectored());
        corked.write_all(b"one ").await.unwrap();
        corked.flush().await.unwrap();
        let two = [io::IoSlice::new(b"two "), io::IoSlice::new(b"three")];
        assert_eq!(corked.write_vectored(&two).await.unwrap(), 9);
        corked.flush().await.unwrap();
        assert_eq!(writes.load(Ordering::Relaxed), 0, "a write went early");

        end_of_poll(&cork).await;
        assert_eq!(writes.load(Ordering::Relaxed), 1);
        let mut got = [0; 13];
        far.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"one two three");

        // Nothing gathered: the next poll's end writes nothing.
        end_of_poll(&cork).await;
        assert_eq!(writes.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_write_waits_while_the_most_gathered_has_not_gone() {
        // The pipe takes 4 KB until its far end reads.
        let (near, mut far) = tokio::io::duplex(4 << 10);
        let (mut corked, cork) = cork(near);
        corked.write_all(&vec![1; MOST]).await.unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            Pin::new(&mut corked).poll_write(&mut cx, b"x").is_pending(),
            "a write was gathered past the bound"
        );
        // It goes once the far end has taken what was gathered.
        let read = tokio::spawn(async move {
            let mut all = Vec::new();
            far.read_to_end(&mut all).await.unwrap();
            all
        });
        corked.write_all(b"x").await.unwrap();
        end_of_poll(&cork).await;
        corked.shutdown().await.unwrap();
        let all = read.await.unwrap();
        assert_eq!(all.len(), MOST + 1);
        assert!(all[..MOST].iter().all(|b| *b == 1));
        assert_eq!(all[MOST], b'x');
    }

    #[tokio::test]
    async fn a_failed_send_fails_the_next_read_or_write() {
        for read in [false, true] {
            let (near, far) = tokio::io::duplex(1 << 10);
            drop(far);
            let (mut corked, cork) = cork(near);
            corked.write_all(b"lost").await.unwrap();
            end_of_poll(&cork).await;
            let e = if read {
                corked.read(&mut [0; 8]).await.unwrap_err()
            } else {
                corked.write_all(b"more").await.unwrap_err()
            };
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        }
    }

    #[tokio::test]
    async fn shutdown_sends_what_is_gathered_first() {
        let (near, mut far) = tokio::io::duplex(1 << 10);
        let (mut corked, _cork) = cork(near);
        corked.write_all(b"goodbye").await.unwrap();
        corked.shutdown().await.unwrap();
        let mut all = Vec::new();
        far.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"goodbye");
    }
}
