//! The log's writer: each line goes into one buffer, in the order the
//! lines were made, and reaches stderr in batches written by a thread of
//! its own (`twoway serve`: a burst of requests' lines is one `write`, and
//! no request waits on stderr), or at once (every other command, and after
//! [`Batched::stop`]). No line is dropped: a logging thread that finds
//! [`MAX_HELD`] bytes waiting writes them itself. [`flush`] writes what is
//! held at once (the panic hook, and before the process exits).

use std::io::Write as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// How long the writing thread lets a batch gather once a line is waiting.
pub const GATHER: Duration = Duration::from_millis(5);

/// Bytes held before the logging thread writes them itself.
pub const MAX_HELD: usize = 256 * 1024;

/// The log's one writer, once installed.
static INSTALLED: OnceLock<Arc<Shared>> = OnceLock::new();

/// Writes what is held now (the panic hook; before `std::process::exit`).
pub fn flush() {
    if let Some(shared) = INSTALLED.get() {
        shared.flush();
    }
}

/// What the writer and its thread share.
pub struct Shared {
    held: Mutex<Held>,
    /// Wakes the writing thread when a line waits.
    wake: Condvar,
    /// Taken for each write: batches go out whole and in turn. Holds the
    /// spare buffer the next batch is swapped into.
    out: Mutex<Vec<u8>>,
}

#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    /// Lines go to a thread of their own (else each is written at once).
    batching: bool,
    /// The writing thread waits for a line (and must be woken for one).
    idle: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain bytes: still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Adds a line (or part of one) after those already held.
    fn append(&self, line: &[u8]) {
        let mut held = lock(&self.held);
        held.bytes.extend_from_slice(line);
        let write_now = !held.batching || held.bytes.len() >= MAX_HELD;
        let wake = std::mem::take(&mut held.idle);
        drop(held);
        if wake {
            self.wake.notify_one();
        }
        if write_now {
            self.flush();
        }
    }

    /// Writes what is held to stderr.
    fn flush(&self) {
        let mut batch = lock(&self.out);
        batch.clear();
        std::mem::swap(&mut *batch, &mut lock(&self.held).bytes);
        if !batch.is_empty() {
            // Nowhere to report a failed write to stderr.
            let _ = std::io::stderr().lock().write_all(&batch);
        }
    }

    /// The writing thread: waits for a line, lets the batch gather, writes
    /// it; ends once batching stops.
    fn run(&self) {
        loop {
            let mut held = lock(&self.held);
            while held.bytes.is_empty() && held.batching {
                held.idle = true;
                held = self.wake.wait(held).unwrap_or_else(PoisonError::into_inner);
            }
            held.idle = false;
            if !held.batching {
                return;
            }
            drop(held);
            std::thread::sleep(GATHER);
            self.flush();
        }
    }
}

/// The log's writer (`tracing_subscriber`'s `MakeWriter`).
#[derive(Clone)]
pub struct Batched(Arc<Shared>);

impl Batched {
    /// Installs the writer: lines in batches by a thread of its own when
    /// `batching` (and the thread could be started), else each at once.
    pub fn install(batching: bool) -> Self {
        let shared = Arc::new(Shared {
            held: Mutex::new(Held::default()),
            wake: Condvar::new(),
            out: Mutex::new(Vec::new()),
        });
        let _ = INSTALLED.set(shared.clone());
        if batching {
            lock(&shared.held).batching = true;
            let thread = shared.clone();
            let started = std::thread::Builder::new()
                .name("twoway-log".into())
                .spawn(move || thread.run());
            if started.is_err() {
                lock(&shared.held).batching = false;
            }
        }
        Self(shared)
    }

    /// Writes what is held and every line after it at once; the writing
    /// thread ends.
    pub fn stop(&self) {
        lock(&self.0.held).batching = false;
        self.0.wake.notify_one();
        self.0.flush();
    }
}

impl std::io::Write for &Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = &'a Shared;

    fn make_writer(&'a self) -> Self::Writer {
        &self.0
    }
}
