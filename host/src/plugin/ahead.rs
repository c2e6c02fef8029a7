//! Instances prepared ahead of demand. A version that carries a language
//! engine (JavaScript's or Python's: the component is megabytes, its memory
//! a heap snapshot of about 10 MiB) keeps a few fresh instances ready, each
//! in a Store of its own, made in the background; a call takes one, uses it
//! once and drops it after its answer, and a task makes the next. Nothing crosses calls: an instance made ahead has run
//! no guest code but its instantiation, sees no call until it is handed
//! out, and is dropped after its one call, like one made on demand.

use std::sync::{Arc, Mutex, Weak};

use wasmtime::Engine;

use super::generated::{Policy, Workflow};
use super::{Linked, Run};
use crate::config::PluginLimits;

/// Instances kept ready per version: a call finds one, and a burst of
/// calls past it is instantiated on demand, as without this module.
/// Each ready instance holds a pool slot and the pages its instantiation
/// wrote (tens of KiB), so the count stays small.
pub const DEPTH: usize = 2;

/// A component this large carries a language engine and is prepared
/// ahead: componentize-js's are about 12 MiB, componentize-py's 18 MiB,
/// and their instantiation takes up to a millisecond; the Rust examples are
/// 50 to 300 KiB and instantiate in tens of microseconds, where preparing
/// ahead would only move the same CPU to another task (measured:
/// docs/performance.md).
pub const LARGE_COMPONENT: usize = 2 << 20;

/// A fresh instance of a version, not yet called.
pub(super) enum Fresh {
    Workflow(Workflow),
    Policy(Policy),
}

/// A fresh instance and its Store, made before its call.
pub(super) struct Prepared {
    pub run: Run,
    pub instance: Fresh,
}

/// What a version knows about preparing its instances ahead.
pub(super) struct Ahead {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    mode: Mode,
    ready: Vec<Prepared>,
    /// Instances being made in the background.
    making: usize,
    /// The memory limit of the calls: the ready ones were made under it
    /// (their initial memory was checked against it).
    memory_bytes: u64,
    served_ahead: u64,
    served_on_demand: u64,
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Every call instantiates its own.
    #[default]
    OnDemand,
    /// Expensive: instances are made ahead.
    Ahead,
    /// Making one in the background failed (a trap or a limit while
    /// instantiating): calls instantiate their own, which reports why.
    Failed,
}

/// How a version's calls got their instances, for `/admin/plugins`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AheadStatus {
    /// Instances are prepared ahead for this version.
    pub prepared_ahead: bool,
    /// Instances ready now.
    pub ready: usize,
    /// Calls served by an instance made ahead.
    pub calls_ahead: u64,
    /// Calls that instantiated their own (none was ready, or the version
    /// is not prepared ahead).
    pub calls_on_demand: u64,
}

impl Ahead {
    /// A version's, before its first call: prepared ahead when `prepare`
    /// and the component is at least [`LARGE_COMPONENT`] bytes. The memory
    /// limit is taken from the first call.
    pub fn new(prepare: bool, component_bytes: usize) -> Self {
        let mode = if prepare && component_bytes >= LARGE_COMPONENT {
            Mode::Ahead
        } else {
            Mode::OnDemand
        };
        Self {
            state: Mutex::new(State {
                mode,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ready instance made under `limits`' memory limit, if there is one.
    pub fn take(&self, limits: PluginLimits) -> Option<Prepared> {
        let stale;
        let mut state = self.lock();
        if state.mode != Mode::Ahead {
            state.served_on_demand += 1;
            return None;
        }
        if state.memory_bytes != limits.memory_bytes {
            // The slot's limit changed (a config reload kept this
            // version): the ready ones were checked against the old one.
            state.memory_bytes = limits.memory_bytes;
            stale = std::mem::take(&mut state.ready);
        } else {
            stale = Vec::new();
        }
        let taken = state.ready.pop();
        match taken {
            Some(_) => state.served_ahead += 1,
            None => state.served_on_demand += 1,
        }
        drop(state);
        drop(stale);
        taken
    }

    /// True when this version's instances are prepared ahead.
    pub fn expensive(&self) -> bool {
        self.lock().mode == Mode::Ahead
    }

    /// Starts making instances in the background until [`DEPTH`] are ready
    /// or being made (nothing when the version is not prepared ahead, or
    /// outside a tokio runtime).
    pub fn refill(self: &Arc<Self>, engine: &Engine, linked: &Linked, limits: PluginLimits) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let wanted = {
            let mut state = self.lock();
            if state.mode != Mode::Ahead || state.memory_bytes != limits.memory_bytes {
                return;
            }
            let wanted = DEPTH.saturating_sub(state.ready.len() + state.making);
            state.making += wanted;
            wanted
        };
        for _ in 0..wanted {
            let ahead = Arc::downgrade(self);
            let (engine, linked) = (engine.clone(), linked.clone());
            handle.spawn(async move {
                let made = make(&engine, &linked, limits).await;
                Self::made(&ahead, made, limits);
            });
        }
    }

    /// Keeps an instance made in the background, or stops preparing when
    /// making it failed.
    fn made(ahead: &Weak<Self>, made: Option<Prepared>, limits: PluginLimits) {
        // The version was replaced meanwhile: the instance is dropped here.
        let Some(ahead) = ahead.upgrade() else {
            return;
        };
        let mut state = ahead.lock();
        state.making = state.making.saturating_sub(1);
        match made {
            Some(prepared) if state.memory_bytes == limits.memory_bytes => {
                state.ready.push(prepared)
            }
            Some(_) => {}
            None => {
                tracing::debug!("preparing plugin instances ahead failed; they are made per call");
                state.mode = Mode::Failed;
                let stale = std::mem::take(&mut state.ready);
                drop(state);
                drop(stale);
            }
        }
    }

    /// What `/admin/plugins` shows.
    pub fn status(&self) -> AheadStatus {
        let state = self.lock();
        AheadStatus {
            prepared_ahead: state.mode == Mode::Ahead,
            ready: state.ready.len(),
            calls_ahead: state.served_ahead,
            calls_on_demand: state.served_on_demand,
        }
    }
}

/// A fresh instance of `linked` in a Store of its own under `limits`, no
/// call attached; `None` when instantiating trapped or ran past a limit.
async fn make(engine: &Engine, linked: &Linked, limits: PluginLimits) -> Option<Prepared> {
    let mut run = super::store(engine, None, limits);
    run.store.set_epoch_deadline(1);
    let store = &mut run.store;
    let instantiate = async {
        match linked {
            Linked::Workflow(pre) => pre.instantiate_fresh(store).await.map(Fresh::Workflow),
            Linked::Policy(pre) => pre.instantiate_fresh(store).await.map(Fresh::Policy),
        }
    };
    let instance = tokio::time::timeout(limits.timeout, instantiate)
        .await
        .ok()?
        .ok()?;
    Some(Prepared { run, instance })
}

/// Drops a used instance's Store after the answer has gone: the slot's
/// reset (its written pages copied back or unmapped) is then not on the
/// caller's time.
pub(super) fn retire(run: Run) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(async move { drop(run) });
        }
        Err(_) => drop(run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory_bytes: u64) -> PluginLimits {
        PluginLimits {
            memory_bytes,
            timeout: std::time::Duration::from_secs(1),
            max_output_bytes: 1 << 20,
        }
    }

    #[test]
    fn only_large_components_are_prepared_ahead_and_only_when_asked() {
        assert!(Ahead::new(true, LARGE_COMPONENT).expensive());
        assert!(!Ahead::new(true, LARGE_COMPONENT - 1).expensive());
        assert!(!Ahead::new(false, 12 << 20).expensive());
    }

    #[test]
    fn a_call_that_finds_none_ready_is_counted_as_made_on_demand() {
        let ahead = Ahead::new(true, 12 << 20);
        assert!(ahead.take(limits(64 << 20)).is_none());
        let small = Ahead::new(true, 100 << 10);
        assert!(small.take(limits(64 << 20)).is_none());
        for status in [ahead.status(), small.status()] {
            assert_eq!((status.calls_ahead, status.calls_on_demand), (0, 1));
        }
        assert!(ahead.status().prepared_ahead);
        assert!(!small.status().prepared_ahead);
    }

    #[test]
    fn a_failed_preparation_stops_preparing() {
        let ahead = Arc::new(Ahead::new(true, 12 << 20));
        let limits = limits(64 << 20);
        assert!(ahead.take(limits).is_none());
        ahead.lock().making = 1;
        Ahead::made(&Arc::downgrade(&ahead), None, limits);
        assert!(!ahead.expensive());
        assert_eq!(ahead.lock().making, 0);
    }
}
