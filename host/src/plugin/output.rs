//! What a plugin may write to the log in one call: its stdout, stderr and
//! `context.log` lines share one budget of lines and bytes. Output past the
//! budget is dropped (never a trap: a chatty plugin still answers) and
//! counted, and the call ends with one line saying how much was dropped.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Log lines one call may write (stdout, stderr and `context.log` together).
pub const MAX_LINES_PER_CALL: u32 = 200;
/// Bytes of log text one call may write.
pub const MAX_BYTES_PER_CALL: usize = 64 * 1024;
/// Longest single line kept; longer ones are cut.
pub const MAX_LINE: usize = 4096;

/// The per-call log budget and what went over it.
#[derive(Debug, Default)]
pub struct LogBudget {
    lines: u32,
    bytes: usize,
    /// Lines not logged because the budget was spent.
    pub dropped_lines: u64,
    /// Bytes not kept because the budget was spent.
    pub dropped_bytes: u64,
}

impl LogBudget {
    /// Takes one line of `len` bytes from the budget; false when it is spent
    /// (the line is counted as dropped).
    pub fn take_line(&mut self, len: usize) -> bool {
        let len = len.min(MAX_LINE);
        if self.lines >= MAX_LINES_PER_CALL || self.bytes + len > MAX_BYTES_PER_CALL {
            self.dropped_lines += 1;
            self.dropped_bytes += len as u64;
            return false;
        }
        self.lines += 1;
        self.bytes += len;
        true
    }

    /// True when anything was dropped.
    pub fn dropped(&self) -> bool {
        self.dropped_lines > 0 || self.dropped_bytes > 0
    }
}

/// A guest stdout or stderr: keeps up to [`MAX_BYTES_PER_CALL`] bytes,
/// accepts and counts the rest.
#[derive(Clone, Default)]
pub struct GuestOutput(Arc<Mutex<Captured>>);

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

impl GuestOutput {
    /// The bytes kept, and how many were dropped past the cap.
    pub fn take(&self) -> (Vec<u8>, u64) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut c.kept), c.dropped)
    }

    fn write(&self, bytes: &[u8]) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_BYTES_PER_CALL.saturating_sub(c.kept.len());
        let kept = bytes.len().min(room);
        c.kept.extend_from_slice(&bytes[..kept]);
        c.dropped += (bytes.len() - kept) as u64;
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        GuestOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always ready: what does not fit is dropped, not refused.
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        GuestOutput::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_lines_and_bytes() {
        let mut budget = LogBudget::default();
        for _ in 0..MAX_LINES_PER_CALL {
            assert!(budget.take_line(10));
        }
        assert!(!budget.take_line(10));
        assert_eq!((budget.dropped_lines, budget.dropped_bytes), (1, 10));

        let mut budget = LogBudget::default();
        for _ in 0..MAX_BYTES_PER_CALL / MAX_LINE {
            assert!(budget.take_line(1_000_000), "long lines count as cut");
        }
        assert!(!budget.take_line(1));
        assert!(budget.dropped());
    }

    #[test]
    fn output_past_the_cap_is_counted_not_refused() {
        let out = GuestOutput::default();
        out.write(&vec![b'x'; MAX_BYTES_PER_CALL - 1]);
        out.write(b"abc");
        let (kept, dropped) = out.take();
        assert_eq!(kept.len(), MAX_BYTES_PER_CALL);
        assert_eq!(dropped, 2);
    }
}
