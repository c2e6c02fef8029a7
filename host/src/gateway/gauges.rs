//! Bringing the gauges of `/metrics` up to date before a scrape: each is
//! set from the state it describes (the store's health, the org's API usage
//! and the tenant's budget, queues and slots, the client certificate's
//! expiry). Counters are not counted here but where the work happens
//! (`upstream::Observer`, `plugin::Observer`, the store's fallback hook);
//! here every configured tenant and workflow only gets each of its counters
//! (at 0 until something is counted), so that `rate()` sees the first one.
//! Series of tenants and workflows no longer configured are dropped, unless
//! a reload is building the next generation (its work is already counted).

use std::collections::HashSet;

use super::Shared;
use super::metrics::{Metrics, TenantLabels, WorkflowLabels};

/// Sets the gauges from the current state and drops the series of removed
/// tenants and workflows.
pub fn refresh(shared: &Shared) {
    let m: &Metrics = &shared.metrics;
    // A reload in progress may have counted work of tenants and workflows
    // it adds: series are dropped only when none runs (until this ends).
    let no_reload = shared.reloading.try_lock().ok();
    m.store_degraded
        .set(i64::from(shared.store.health().degraded));
    let generation = shared.current();
    for (name, tenant) in &generation.tenants {
        let labels = TenantLabels {
            tenant: name.clone(),
        };
        for counter in [&m.logins, &m.login_failures, &m.upstream_handshakes] {
            counter.with_series(&labels, |_| ());
        }
        let upstream = &tenant.upstream;
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
    let mut workflows = HashSet::new();
    for slot in shared.registry.status() {
        let labels = WorkflowLabels {
            tenant: slot.tenant,
            workflow: slot.workflow,
        };
        for counter in [&m.plugin_reloads, &m.plugin_failures, &m.plugin_log_dropped] {
            counter.with_series(&labels, |_| ());
        }
        workflows.insert((labels.tenant, labels.workflow));
    }
    if no_reload.is_none() {
        return;
    }
    m.retain(&|tenant: &str, workflow: Option<&str>| match workflow {
        Some(workflow) => workflows.contains(&(tenant.to_string(), workflow.to_string())),
        None => generation.tenants.contains_key(tenant),
    });
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
