//! The callers' listener's timer for hyper's header-read timeout: one
//! watcher task per listener (per core) instead of one of tokio's timers
//! per request. hyper arms a fresh timer at the start of every request
//! head (and for the wait for the next one on a keep-alive connection) and
//! drops it once the head is in, so with tokio's own timer every request
//! registered and removed a timer entry, and one registered earlier than
//! the runtime's next wake-up wrote to its eventfd (a system call, and a
//! turn of the event loop) though it fired almost never. Here a timer is a
//! deadline and a waker in a table; the watcher sleeps until the earliest
//! deadline and wakes those that have passed. Deadlines are kept exactly.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use hyper::rt::{Sleep, Timer};
use tokio::sync::Notify;

/// hyper's [`Timer`] for one listener; its watcher runs on the runtime
/// that made it and ends once the timer and every sleep it made are gone.
#[derive(Clone)]
pub struct HeaderTimer {
    table: Arc<Table>,
}

/// The armed deadlines, and what wakes the watcher.
struct Table {
    armed: Mutex<Armed>,
    /// Wakes the watcher for a deadline earlier than the one it waits for,
    /// or to end.
    watcher: Arc<Notify>,
}

#[derive(Default)]
struct Armed {
    /// Deadline and waker of each armed sleep (`None`: a free slot).
    slots: Vec<Option<(Instant, Option<Waker>)>>,
    free: Vec<usize>,
    /// The deadline the watcher sleeps until, if any.
    watching: Option<Instant>,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, Armed> {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        self.watcher.notify_one();
    }
}

impl HeaderTimer {
    /// A timer whose watcher is spawned on the current runtime.
    pub fn new() -> Self {
        let watcher = Arc::new(Notify::new());
        let table = Arc::new(Table {
            armed: Mutex::new(Armed::default()),
            watcher: watcher.clone(),
        });
        tokio::spawn(watch(Arc::downgrade(&table), watcher));
        Self { table }
    }
}

/// Sleeps until the earliest armed deadline, wakes every sleep whose
/// deadline has passed, and again; ends once the table is gone.
async fn watch(table: Weak<Table>, woken: Arc<Notify>) {
    loop {
        let until = {
            let Some(table) = table.upgrade() else { return };
            let mut armed = table.lock();
            let now = Instant::now();
            let mut earliest: Option<Instant> = None;
            for (deadline, waker) in armed.slots.iter_mut().flatten() {
                if *deadline <= now {
                    if let Some(waker) = waker.take() {
                        waker.wake();
                    }
                } else {
                    earliest = Some(earliest.map_or(*deadline, |e| e.min(*deadline)));
                }
            }
            armed.watching = earliest;
            earliest
        };
        match until {
            Some(until) => {
                tokio::select! {
                    _ = woken.notified() => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
            }
            None => woken.notified().await,
        }
    }
}

impl Timer for HeaderTimer {
    fn sleep(&self, duration: std::time::Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeaderSleep {
            table: self.table.clone(),
            deadline,
            slot: None,
        })
    }
}

/// One armed deadline: in the table from its first pending poll until it
/// is dropped.
struct HeaderSleep {
    table: Arc<Table>,
    deadline: Instant,
    slot: Option<usize>,
}

impl Future for HeaderSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        let mut armed = this.table.lock();
        match this.slot {
            Some(slot) => {
                if let Some(Some((_, waker))) = armed.slots.get_mut(slot) {
                    match waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => *waker = Some(cx.waker().clone()),
                    }
                }
            }
            None => {
                let entry = Some((this.deadline, Some(cx.waker().clone())));
                let slot = match armed.free.pop() {
                    Some(slot) => {
                        armed.slots[slot] = entry;
                        slot
                    }
                    None => {
                        armed.slots.push(entry);
                        armed.slots.len() - 1
                    }
                };
                this.slot = Some(slot);
                // The watcher waits for a later deadline, or for none.
                if armed.watching.is_none_or(|w| this.deadline < w) {
                    armed.watching = Some(this.deadline);
                    drop(armed);
                    this.table.watcher.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep for HeaderSleep {}

impl Drop for HeaderSleep {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut armed = self.table.lock();
            armed.slots[slot] = None;
            armed.free.push(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_sleep_ends_at_its_deadline_and_not_before() {
        let timer = HeaderTimer::new();
        let started = Instant::now();
        // The later one is armed first: the earlier one must wake the watcher.
        let late = timer.sleep(Duration::from_millis(300));
        let early = timer.sleep(Duration::from_millis(50));
        let mut late = late;
        tokio::select! {
            _ = &mut late => panic!("the later sleep ended first"),
            _ = early => {}
        }
        assert!(started.elapsed() >= Duration::from_millis(50));
        late.await;
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_dropped_sleep_leaves_the_table_and_its_slot_is_reused() {
        let timer = HeaderTimer::new();
        for _ in 0..3 {
            let mut sleep = timer.sleep(Duration::from_secs(60));
            let pending = std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
            assert!(pending.is_pending());
            assert_eq!(timer.table.lock().slots.iter().flatten().count(), 1);
        }
        let armed = timer.table.lock();
        assert_eq!(armed.slots.iter().flatten().count(), 0);
        assert_eq!(armed.slots.len(), 1, "the slot was not reused");
    }

    #[tokio::test]
    async fn the_watcher_ends_with_the_timer() {
        let timer = HeaderTimer::new();
        let table = Arc::downgrade(&timer.table);
        let notifier = timer.table.watcher.clone();
        let sleep = timer.sleep(Duration::from_millis(20));
        drop(timer);
        sleep.await;
        assert!(table.upgrade().is_none());
        // The watcher's task ends, and with it its hold on the notifier.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(Arc::strong_count(&notifier), 1, "the watcher still runs");
    }
}
