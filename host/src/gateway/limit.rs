//! A tenant's concurrency limit with a bounded queue in front of it.
//!
//! `max_concurrency` requests run at once; a request that finds every slot
//! busy waits in a FIFO queue (tokio's semaphore hands out permits in the
//! order they were asked for, and a free permit goes to a waiter before any
//! newcomer) for up to `queue_timeout`; when `max_queued` requests already
//! wait, or the wait times out, it is refused as `overloaded`. Salesforce
//! limits an org to 25 concurrent *long-running* (over 20 s) requests; short
//! requests in a burst should wait briefly, not fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a request got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "all {slots} slots are busy and {queued} requests already wait for one (max_concurrency, max_queued)"
    )]
    QueueFull { slots: usize, queued: usize },
    #[error("all {slots} slots stayed busy for {waited:?} (max_concurrency, queue_timeout_ms)")]
    Timeout { slots: usize, waited: Duration },
}

/// Slots and queue of one tenant.
pub struct TenantLimit {
    slots: Arc<Semaphore>,
    max_concurrency: usize,
    max_queued: usize,
    queue_timeout: Duration,
    queued: AtomicUsize,
}

/// A request's slot, held until dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    /// How long the request waited in the queue.
    pub waited: Duration,
}

impl TenantLimit {
    pub fn new(max_concurrency: usize, max_queued: usize, queue_timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            max_queued,
            queue_timeout,
            queued: AtomicUsize::new(0),
        }
    }

    /// True when this limit has these settings (a reload keeps it, with
    /// the requests it is serving and queueing).
    pub fn has_settings(
        &self,
        max_concurrency: usize,
        max_queued: usize,
        queue_timeout: Duration,
    ) -> bool {
        (self.max_concurrency, self.max_queued, self.queue_timeout)
            == (max_concurrency, max_queued, queue_timeout)
    }

    /// A free slot now, or after waiting in the queue, or a refusal.
    pub async fn acquire(&self) -> Result<Slot, Refusal> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(Slot {
                _permit: permit,
                waited: Duration::ZERO,
            });
        }
        let joined = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_queued).then_some(n + 1)
            });
        if let Err(queued) = joined {
            return Err(Refusal::QueueFull {
                slots: self.max_concurrency,
                queued,
            });
        }
        // Leaves the queue however the wait ends (slot, timeout, or the
        // caller going away and this future being dropped).
        let _in_queue = Queued(&self.queued);
        let started = Instant::now();
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot {
                _permit: permit,
                waited: started.elapsed(),
            }),
            // The semaphore is never closed; treat it like a timeout anyway.
            Ok(Err(_)) | Err(_) => Err(Refusal::Timeout {
                slots: self.max_concurrency,
                waited: started.elapsed(),
            }),
        }
    }

    /// Requests waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Slots taken now.
    pub fn in_use(&self) -> usize {
        self.max_concurrency
            .saturating_sub(self.slots.available_permits())
    }
}

struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_in_order_then_refuses_when_full_or_late() {
        let limit = Arc::new(TenantLimit::new(1, 2, Duration::from_secs(3600)));
        let first = limit.acquire().await.unwrap();
        assert_eq!(first.waited, Duration::ZERO);
        assert_eq!(limit.in_use(), 1);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for n in 0..2 {
            let (waiter, tx) = (limit.clone(), tx.clone());
            tokio::spawn(async move {
                let slot = waiter.acquire().await;
                tx.send(n).unwrap();
                drop(slot);
            });
            while limit.queued() < n + 1 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(
            limit.acquire().await.err(),
            Some(Refusal::QueueFull {
                slots: 1,
                queued: 2
            })
        );
        drop(first);
        assert_eq!(rx.recv().await, Some(0));
        assert_eq!(rx.recv().await, Some(1));
        while limit.queued() > 0 || limit.in_use() > 0 {
            tokio::task::yield_now().await;
        }

        let short = TenantLimit::new(1, 1, Duration::from_millis(20));
        let _held = short.acquire().await.unwrap();
        assert!(matches!(
            short.acquire().await,
            Err(Refusal::Timeout { slots: 1, .. })
        ));
        assert_eq!(short.queued(), 0);
        let none = TenantLimit::new(1, 0, Duration::from_secs(1));
        let _held = none.acquire().await.unwrap();
        assert!(matches!(
            none.acquire().await,
            Err(Refusal::QueueFull { queued: 0, .. })
        ));
    }
}
