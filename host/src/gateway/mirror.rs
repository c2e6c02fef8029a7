//! Bringing `/metrics` up to date before a scrape (and before a reload
//! swaps the generation): gauges are set from the state they describe, and
//! counters of work counted elsewhere (a session's logins, a pool's
//! handshakes, a plugin slot's reloads) grow by what their source counted
//! since the last look. Sources are told apart by identity, so a counter
//! keeps growing when a reload replaces its source (a new pool, a new
//! session, new plugin slots) and never goes back. Series of tenants and
//! workflows no longer configured are dropped.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use prometheus_client::metrics::counter::Counter;

use super::Shared;
use super::metrics::{Metrics, Scoped, TenantLabels, Tracked, WorkflowLabels};

/// Where a mirrored count comes from.
#[derive(Clone)]
pub enum Source {
    /// A source told apart by a number (a session epoch; 0 for a source
    /// that lives as long as the process).
    Number(u64),
    /// An object, held weakly so that its address is not reused while it
    /// is remembered.
    Object(Weak<dyn Any + Send + Sync>),
}

impl Source {
    pub fn object<T: Any + Send + Sync>(object: &Arc<T>) -> Self {
        let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(object) as Weak<_>;
        Self::Object(weak)
    }

    fn same(&self, other: &Source) -> bool {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a == b,
            (Self::Object(a), Self::Object(b)) => Weak::ptr_eq(a, b),
            _ => false,
        }
    }
}

struct Seen {
    source: Source,
    last: u64,
}

/// The last value read of each mirrored series, by (metric, tenant, workflow).
#[derive(Default)]
pub struct Mirror {
    seen: Mutex<HashMap<(&'static str, String, String), Seen>>,
}

impl Mirror {
    /// How much a counter must grow now that `source` says `value`: all of
    /// it for a source not seen before (or one that went back), else what
    /// it counted since the last look.
    fn delta(
        &self,
        metric: &'static str,
        tenant: &str,
        workflow: &str,
        source: Source,
        value: u64,
    ) -> u64 {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let key = (metric, tenant.to_string(), workflow.to_string());
        match seen.get_mut(&key) {
            Some(s) if s.source.same(&source) && value >= s.last => {
                let delta = value - s.last;
                s.last = value;
                delta
            }
            _ => {
                seen.insert(
                    key,
                    Seen {
                        source,
                        last: value,
                    },
                );
                value
            }
        }
    }

    fn retain(&self, keep: &dyn Fn(&str, Option<&str>) -> bool) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|(_, tenant, workflow), _| {
            tenant.is_empty() || keep(tenant, (!workflow.is_empty()).then_some(workflow.as_str()))
        });
    }
}

/// Grows the counter of `labels` in `family` to match `source`'s `value`.
fn grow<S: Clone + std::hash::Hash + Eq + Scoped>(
    mirror: &Mirror,
    metric: &'static str,
    family: &Tracked<S, Counter>,
    labels: &S,
    source: Source,
    value: u64,
) {
    let delta = mirror.delta(
        metric,
        labels.tenant(),
        labels.workflow().unwrap_or(""),
        source,
        value,
    );
    family.with_series(labels, |c| c.inc_by(delta));
}

fn mirror_one(mirror: &Mirror, metric: &'static str, counter: &Counter, value: u64) {
    counter.inc_by(mirror.delta(metric, "", "", Source::Number(0), value));
}

/// Sets the gauges and mirrored counters from the current state and drops
/// the series of removed tenants and workflows.
pub fn refresh(shared: &Shared) {
    let m: &Metrics = &shared.metrics;
    let mirror = &m.mirror;
    let store = shared.store.health();
    m.store_degraded.set(i64::from(store.degraded));
    mirror_one(
        mirror,
        "store_fallback_logins",
        &m.store_fallback_logins,
        store.fallback_logins,
    );
    let generation = shared.current();
    let slots = shared.registry.current();
    let mut workflows = HashSet::new();
    for status in shared.registry.status() {
        let Some(slot) = slots.get(&status.tenant, &status.workflow) else {
            continue;
        };
        let labels = WorkflowLabels {
            tenant: status.tenant,
            workflow: status.workflow,
        };
        let source = Source::object(&slot);
        grow(
            mirror,
            "plugin_reloads",
            &m.plugin_reloads,
            &labels,
            source.clone(),
            status.reloads,
        );
        grow(
            mirror,
            "plugin_failures",
            &m.plugin_failures,
            &labels,
            source,
            status.failures,
        );
        // Counted by the runtime, which lives as long as the process.
        grow(
            mirror,
            "plugin_log_dropped",
            &m.plugin_log_dropped,
            &labels,
            Source::Number(0),
            status.log_lines_dropped,
        );
        workflows.insert((labels.tenant, labels.workflow));
    }
    for (name, tenant) in &generation.tenants {
        let labels = TenantLabels {
            tenant: name.clone(),
        };
        let upstream = &tenant.upstream;
        let sessions = upstream.sessions();
        let epoch = Source::Number(sessions.epoch());
        grow(
            mirror,
            "logins",
            &m.logins,
            &labels,
            epoch.clone(),
            sessions.logins(),
        );
        grow(
            mirror,
            "login_failures",
            &m.login_failures,
            &labels,
            epoch,
            sessions.login_failures(),
        );
        grow(
            mirror,
            "upstream_handshakes",
            &m.upstream_handshakes,
            &labels,
            Source::Object(upstream.pool_id()),
            upstream.handshakes(),
        );
        let usage = upstream.usage();
        if usage.limit > 0 {
            m.api_used
                .with_series(&labels, |g| g.set(gauge(usage.used)));
            m.api_limit
                .with_series(&labels, |g| g.set(gauge(usage.limit)));
        }
        match usage.threshold {
            Some(threshold) => {
                m.api_budget
                    .with_series(&labels, |g| g.set(gauge(threshold)));
            }
            None => m.api_budget.retain(&|t, _| t != name),
        }
        m.queued
            .with_series(&labels, |g| g.set(gauge(tenant.limit.queued() as u64)));
        m.slots_in_use
            .with_series(&labels, |g| g.set(gauge(tenant.limit.in_use() as u64)));
        match upstream.identity() {
            Some(identity) => {
                let expiry = identity.leaf.not_after.unix_timestamp();
                m.certificate_expiry.with_series(&labels, |g| g.set(expiry));
            }
            None => m.certificate_expiry.retain(&|t, _| t != name),
        }
    }
    let keep = |tenant: &str, workflow: Option<&str>| match workflow {
        Some(workflow) => workflows.contains(&(tenant.to_string(), workflow.to_string())),
        None => generation.tenants.contains_key(tenant),
    };
    m.retain(&keep);
    mirror.retain(&keep);
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
