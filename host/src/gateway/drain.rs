//! Shutdown in phases a load balancer can see, shared by every callers'
//! listener: *serving*; *draining* (`/readyz` answers 503 and every answer
//! carries `Connection: close`, while the listeners still accept, for
//! `drain_grace_ms`, so load balancers take the instance out before it
//! stops taking connections); *stopping* (the accept loops end, in-flight
//! requests finish within `shutdown_timeout_ms`, idle connections close).
//!
//! A listener obeys it by: accepting until [`Drain::stopped`] fires, wrapping
//! each connection in [`Drain::watcher`] (so the end waits for it), and
//! passing each answer through [`Drain::mark`].

use std::sync::Mutex;
use std::time::Duration;

use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::sync::watch;

/// Where the gateway is in its shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Serving,
    /// Not ready, still accepting.
    Draining,
    /// No longer accepting; in-flight requests finish.
    Stopping,
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every in-flight request finished.
    Clean,
    /// Requests were still running at `shutdown_timeout_ms`.
    TimedOut,
    /// Cut short (a second signal).
    Interrupted,
}

/// The shutdown phase and the connections it waits for.
pub struct Drain {
    phase: watch::Sender<Phase>,
    /// Taken when stopping starts: later connections are not served.
    connections: Mutex<Option<GracefulShutdown>>,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            phase: watch::channel(Phase::Serving).0,
            connections: Mutex::new(Some(GracefulShutdown::new())),
        }
    }
}

impl Drain {
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// True from the first signal on: not ready.
    pub fn draining(&self) -> bool {
        self.phase() != Phase::Serving
    }

    /// Resolves once the listeners must stop accepting.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut phase = self.phase.subscribe();
        async move {
            let _ = phase.wait_for(|p| *p == Phase::Stopping).await;
        }
    }

    /// Tracks one accepted connection (take it before spawning the
    /// connection's task); `None` once stopping started: close it.
    pub fn watcher(&self) -> Option<Watcher> {
        self.lock().as_ref().map(GracefulShutdown::watcher)
    }

    /// While draining, asks the caller to close the connection after this
    /// answer, so keep-alive connections move to the instances that stay.
    pub fn mark<B>(&self, response: &mut http::Response<B>) {
        if self.draining() {
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<GracefulShutdown>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the whole sequence: draining for `grace`, then stopping with
    /// `timeout` for the requests in flight. `interrupt` (a second signal)
    /// ends it at once.
    pub(super) async fn run(
        &self,
        grace: Duration,
        timeout: Duration,
        interrupt: impl Future<Output = ()>,
    ) -> Drained {
        tokio::pin!(interrupt);
        self.phase.send_replace(Phase::Draining);
        if !grace.is_zero() {
            tracing::info!(
                grace_ms = grace.as_millis() as u64,
                "draining: /readyz answers 503, still accepting"
            );
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = &mut interrupt => return Drained::Interrupted,
            }
        }
        self.phase.send_replace(Phase::Stopping);
        let Some(connections) = self.lock().take() else {
            return Drained::Clean;
        };
        tracing::info!(
            connections = connections.count(),
            timeout_ms = timeout.as_millis() as u64,
            "stopped accepting; finishing in-flight requests"
        );
        tokio::select! {
            finished = tokio::time::timeout(timeout, connections.shutdown()) => match finished {
                Ok(()) => Drained::Clean,
                Err(_) => {
                    tracing::warn!(timeout_ms = timeout.as_millis() as u64, "in-flight requests still running at shutdown_timeout_ms");
                    Drained::TimedOut
                }
            },
            _ = &mut interrupt => Drained::Interrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_follow_each_other_and_an_interrupt_cuts_the_grace() {
        let drain = Drain::default();
        assert_eq!(drain.phase(), Phase::Serving);
        let mut response = http::Response::new(());
        drain.mark(&mut response);
        assert!(response.headers().get("connection").is_none());
        let ended = drain
            .run(
                Duration::from_secs(3600),
                Duration::from_secs(3600),
                async {},
            )
            .await;
        assert_eq!(ended, Drained::Interrupted);
        assert_eq!(drain.phase(), Phase::Draining);
        drain.mark(&mut response);
        assert_eq!(response.headers()["connection"], "close");
        assert!(drain.watcher().is_some(), "still accepting while draining");

        let drain = Drain::default();
        let stopped = drain.stopped();
        let ended = drain
            .run(
                Duration::ZERO,
                Duration::from_secs(3600),
                std::future::pending(),
            )
            .await;
        assert_eq!(ended, Drained::Clean, "no connection to wait for");
        assert_eq!(drain.phase(), Phase::Stopping);
        assert!(drain.watcher().is_none(), "no connection after stopping");
        stopped.await;
    }
}
