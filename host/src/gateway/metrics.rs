//! Prometheus metrics (`/metrics`, OpenMetrics text) by the Prometheus
//! conventions: cumulative values are counters named `*_total` that live as
//! long as the process (a config reload never resets them), durations are
//! histograms in seconds, and the series of a removed tenant or workflow
//! are dropped ([`Metrics::retain`]). Labels carry only tenant, workflow,
//! API, status and outcome codes: never a secret.
//!
//! Counters are counted where the work happens: the layers that do it tell
//! [`Metrics`] as their observer (`upstream::Observer`: calls, logins,
//! handshakes; `plugin::Observer`: loads, dropped log lines; the store's
//! fallback hook), and a reload's successors tell the same one, so no
//! reload resets a count. Gauges are set from the state they describe just
//! before a scrape by [`super::gauges`].

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::problem::UpstreamCode;
use crate::salesforce::{Api, Verdict};

/// Seconds: from 5 ms to 30 s (workflows and upstream calls).
const CALL_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Seconds: from no wait at all to 10 s (queue waits).
const WAIT_BUCKETS: [f64; 11] = [0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A label set that belongs to a tenant (and maybe one of its workflows):
/// dropped when the tenant or workflow leaves the config.
pub trait Scoped {
    fn tenant(&self) -> &str;
    fn workflow(&self) -> Option<&str> {
        None
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub tenant: String,
    pub workflow: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkflowLabels {
    pub tenant: String,
    pub workflow: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

/// One upstream call: its API (`soap-partner`, `rest`, ...) and how it
/// ended: the answer's verdict (`success`, `fault`, `unexpected_body`) or
/// the problem code of a call without an answer (`upstream_timeout`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub tenant: String,
    pub api: &'static str,
    pub code: &'static str,
}

/// One front-door request: the API it named (`soap-partner`, `rest`,
/// `bulk1`, `bulk2`, `identity`, `oauth-token`, ...) and how it ended: the
/// API's answer (`success`, or `fault` for an error status) or the problem
/// code the gateway answered with (`unauthorized`, `payload_too_large`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrontDoorLabels {
    pub tenant: String,
    pub api: &'static str,
    pub code: &'static str,
}

/// One front-door request's duration, by tenant and API.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrontDoorApiLabels {
    pub tenant: String,
    pub api: &'static str,
}

/// One login: `outcome` is `success` or `failure`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    pub tenant: String,
    pub outcome: &'static str,
}

/// A config reload: `result` is `success` or `failure`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// `inbound` or `admin`.
    pub listener: &'static str,
}

impl Scoped for RequestLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
    fn workflow(&self) -> Option<&str> {
        Some(&self.workflow)
    }
}
impl Scoped for WorkflowLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
    fn workflow(&self) -> Option<&str> {
        Some(&self.workflow)
    }
}
impl Scoped for TenantLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}
impl Scoped for UpstreamLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}
impl Scoped for FrontDoorLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}
impl Scoped for FrontDoorApiLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}
impl Scoped for LoginLabels {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}

/// A [`Family`] that remembers its label sets, so that the series of a
/// removed tenant or workflow can be dropped.
pub struct Tracked<S, M, C = fn() -> M> {
    family: Family<S, M, C>,
    labels: Mutex<HashSet<S>>,
}

impl<S, M, C> Tracked<S, M, C>
where
    S: Clone + Hash + Eq + Scoped,
    C: MetricConstructor<M>,
{
    fn with(family: Family<S, M, C>) -> Self {
        Self {
            family,
            labels: Mutex::new(HashSet::new()),
        }
    }

    fn labels(&self) -> MutexGuard<'_, HashSet<S>> {
        self.labels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the series of `labels`, creating it if need be.
    pub fn with_series<T>(&self, labels: &S, f: impl FnOnce(&M) -> T) -> T {
        // A series that exists is known (both are written under the lock
        // below): the request path only reads the family.
        if let Some(series) = self.family.get(labels) {
            return f(&series);
        }
        let mut known = self.labels();
        if !known.contains(labels) {
            known.insert(labels.clone());
        }
        f(&self.family.get_or_create(labels))
    }

    /// Every series now: its labels and its metric (a handle on the same
    /// value).
    pub fn series(&self) -> Vec<(S, M)>
    where
        M: Clone,
    {
        let known = self.labels();
        (known.iter())
            .map(|labels| (labels.clone(), (*self.family.get_or_create(labels)).clone()))
            .collect()
    }

    /// Drops every series whose tenant (and workflow) `keep` refuses.
    pub fn retain(&self, keep: &dyn Fn(&str, Option<&str>) -> bool) {
        self.labels().retain(|labels| {
            let kept = keep(labels.tenant(), labels.workflow());
            if !kept {
                self.family.remove(labels);
            }
            kept
        });
    }

    fn family(&self) -> Family<S, M, C>
    where
        C: Clone,
    {
        self.family.clone()
    }
}

impl<S: Clone + Hash + Eq + Scoped, M: Default> Tracked<S, M> {
    fn new() -> Self {
        Self::with(Family::default())
    }
}

impl<S: Clone + Hash + Eq + Scoped> Tracked<S, Histogram> {
    fn histogram(buckets: fn() -> Histogram) -> Self {
        Self::with(Family::new_with_constructor(buckets))
    }
}

/// Every metric the gateway exports, for the life of the process.
pub struct Metrics {
    registry: Registry,
    /// `process_*` (no `twoway_` prefix): [`super::process`].
    process: Registry,
    // Counters (`*_total`).
    pub requests: Tracked<RequestLabels, Counter>,
    pub front_door_requests: Tracked<FrontDoorLabels, Counter>,
    pub plugin_reloads: Tracked<WorkflowLabels, Counter>,
    pub plugin_failures: Tracked<WorkflowLabels, Counter>,
    pub plugin_log_dropped: Tracked<WorkflowLabels, Counter>,
    pub logins: Tracked<TenantLabels, Counter>,
    pub login_failures: Tracked<TenantLabels, Counter>,
    pub upstream_handshakes: Tracked<TenantLabels, Counter>,
    /// Counted by [`super::reload`], success or failure.
    pub config_reloads: Family<ReloadLabels, Counter>,
    pub store_fallback_logins: Counter,
    // Histograms (seconds).
    pub latency: Tracked<WorkflowLabels, Histogram>,
    pub front_door_latency: Tracked<FrontDoorApiLabels, Histogram>,
    pub upstream_latency: Tracked<UpstreamLabels, Histogram>,
    pub login_duration: Tracked<LoginLabels, Histogram>,
    pub queue_wait: Tracked<TenantLabels, Histogram>,
    // Gauges.
    pub api_used: Tracked<TenantLabels, Gauge>,
    pub api_limit: Tracked<TenantLabels, Gauge>,
    pub api_budget: Tracked<TenantLabels, Gauge>,
    pub certificate_expiry: Tracked<TenantLabels, Gauge>,
    pub queued: Tracked<TenantLabels, Gauge>,
    pub slots_in_use: Tracked<TenantLabels, Gauge>,
    pub in_flight: Gauge,
    pub connections: Family<ListenerLabels, Gauge>,
    /// 1 while the shared session store (Redis) is unreachable.
    pub store_degraded: Gauge,
    /// 1 when the last reload was accepted (or none was tried), 0 after a refused one.
    pub config_last_reload_successful: Gauge,
    /// Unix time of the last accepted configuration (the start counts).
    pub config_last_reload_success: Gauge,
}

fn call_buckets() -> Histogram {
    Histogram::new(CALL_BUCKETS)
}

fn wait_buckets() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

/// Registers `metric` as `twoway_<name>` (counters get `_total` on top).
fn add<M>(registry: &mut Registry, name: &str, help: &str, metric: M)
where
    M: prometheus_client::registry::Metric,
{
    registry.register(name, help, metric);
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            registry: Registry::default(),
            process: Registry::default(),
            requests: Tracked::new(),
            front_door_requests: Tracked::new(),
            plugin_reloads: Tracked::new(),
            plugin_failures: Tracked::new(),
            plugin_log_dropped: Tracked::new(),
            logins: Tracked::new(),
            login_failures: Tracked::new(),
            upstream_handshakes: Tracked::new(),
            config_reloads: Family::default(),
            store_fallback_logins: Counter::default(),
            latency: Tracked::histogram(call_buckets),
            front_door_latency: Tracked::histogram(call_buckets),
            upstream_latency: Tracked::histogram(call_buckets),
            login_duration: Tracked::histogram(call_buckets),
            queue_wait: Tracked::histogram(wait_buckets),
            api_used: Tracked::new(),
            api_limit: Tracked::new(),
            api_budget: Tracked::new(),
            certificate_expiry: Tracked::new(),
            queued: Tracked::new(),
            slots_in_use: Tracked::new(),
            in_flight: Gauge::default(),
            connections: Family::default(),
            store_degraded: Gauge::default(),
            config_last_reload_successful: Gauge::default(),
            config_last_reload_success: Gauge::default(),
        };
        // Both results exist from the start, at 0 (rate() sees the first one).
        for result in ["success", "failure"] {
            let _ = m.config_reloads.get_or_create(&ReloadLabels { result });
        }
        let mut registry = Registry::with_prefix("twoway");
        let r = &mut registry;
        add(
            r,
            "requests",
            "Workflow requests by tenant, workflow and HTTP status",
            m.requests.family(),
        );
        add(
            r,
            "request_duration_seconds",
            "Workflow request duration, from the first byte to the answer",
            m.latency.family(),
        );
        add(
            r,
            "front_door_requests",
            "Front-door requests by tenant, API and outcome code",
            m.front_door_requests.family(),
        );
        add(
            r,
            "front_door_request_duration_seconds",
            "Front-door request duration by tenant and API, from the head to the answer's head",
            m.front_door_latency.family(),
        );
        add(
            r,
            "upstream_request_duration_seconds",
            "Duration of calls to the API by tenant, API and outcome code (a re-login and retry count as one call)",
            m.upstream_latency.family(),
        );
        add(
            r,
            "login_duration_seconds",
            "Time each login took, by tenant and outcome (success or failure)",
            m.login_duration.family(),
        );
        add(
            r,
            "plugin_reloads",
            "Plugin versions loaded",
            m.plugin_reloads.family(),
        );
        add(
            r,
            "plugin_reload_failures",
            "Plugin files that failed to load",
            m.plugin_failures.family(),
        );
        add(
            r,
            "plugin_log_lines_dropped",
            "Plugin log lines dropped over the per-call cap",
            m.plugin_log_dropped.family(),
        );
        add(
            r,
            "logins",
            "Successful logins by tenant",
            m.logins.family(),
        );
        add(
            r,
            "login_failures",
            "Failed logins by tenant",
            m.login_failures.family(),
        );
        add(
            r,
            "upstream_tls_handshakes",
            "TLS handshakes made to the API",
            m.upstream_handshakes.family(),
        );
        add(
            r,
            "config_reloads",
            "Configuration reloads by result (success: swapped in; failure: refused, the previous one keeps serving)",
            m.config_reloads.clone(),
        );
        add(
            r,
            "config_last_reload_successful",
            "1 when the last configuration reload was accepted, 0 when it was refused",
            m.config_last_reload_successful.clone(),
        );
        add(
            r,
            "config_last_reload_success_timestamp_seconds",
            "When the configuration now serving was loaded (Unix seconds)",
            m.config_last_reload_success.clone(),
        );
        add(
            r,
            "api_requests_used",
            "The org's API requests in the last 24 hours, as Salesforce last reported them",
            m.api_used.family(),
        );
        add(
            r,
            "api_requests_limit",
            "The org's API request limit per 24 hours, as Salesforce last reported it",
            m.api_limit.family(),
        );
        add(
            r,
            "api_requests_budget",
            "Usage at which the gateway refuses calls (the lesser of api_budget_per_day and the limit less api_reserve)",
            m.api_budget.family(),
        );
        add(
            r,
            "client_certificate_expiry_timestamp_seconds",
            "When the tenant's client certificate expires (Unix seconds)",
            m.certificate_expiry.family(),
        );
        add(
            r,
            "requests_in_flight",
            "Requests being handled now",
            m.in_flight.clone(),
        );
        add(
            r,
            "tenant_queue_wait_seconds",
            "Time requests waited for one of their tenant's max_concurrency slots",
            m.queue_wait.family(),
        );
        add(
            r,
            "tenant_queued_requests",
            "Requests waiting for a slot of their tenant now",
            m.queued.family(),
        );
        add(
            r,
            "tenant_slots_in_use",
            "Requests of the tenant running a workflow now (at most max_concurrency)",
            m.slots_in_use.family(),
        );
        add(
            r,
            "open_connections",
            "Open connections per listener (at most [server] max_connections)",
            m.connections.clone(),
        );
        add(
            r,
            "store_degraded",
            "1 while the shared session store ([store] kind = \"redis\") is unreachable and this instance works on its own",
            m.store_degraded.clone(),
        );
        add(
            r,
            "store_fallback_logins",
            "Logins this instance decided without the shared session store",
            m.store_fallback_logins.clone(),
        );
        registry.register_collector(Box::new(super::process::BuildInfo));
        let mut process = Registry::default();
        process.register_collector(Box::new(super::process::Process));
        Self {
            registry,
            process,
            ..m
        }
    }
}

impl Metrics {
    /// The configuration now serving was loaded (at start or by a reload).
    pub fn config_accepted(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.config_last_reload_success
            .set(i64::try_from(now).unwrap_or(i64::MAX));
        self.config_last_reload_successful.set(1);
    }

    /// Counts one reload, accepted or refused.
    pub fn config_reloaded(&self, accepted: bool) {
        let result = if accepted { "success" } else { "failure" };
        self.config_reloads
            .get_or_create(&ReloadLabels { result })
            .inc();
        if accepted {
            self.config_accepted();
        } else {
            self.config_last_reload_successful.set(0);
        }
    }

    /// The OpenMetrics text exposition (ends with `# EOF`): the gateway's
    /// `twoway_*` metrics, then the process's `process_*` ones.
    pub fn encode(&self) -> String {
        use prometheus_client::encoding::text;
        let mut out = String::new();
        let _ = text::encode_registry(&mut out, &self.registry)
            .and_then(|()| text::encode_registry(&mut out, &self.process))
            .and_then(|()| text::encode_eof(&mut out));
        out
    }

    /// Drops the series of tenants and workflows `keep` refuses (those no
    /// longer in the config).
    pub fn retain(&self, keep: &dyn Fn(&str, Option<&str>) -> bool) {
        self.requests.retain(keep);
        self.front_door_requests.retain(keep);
        self.front_door_latency.retain(keep);
        self.plugin_reloads.retain(keep);
        self.plugin_failures.retain(keep);
        self.plugin_log_dropped.retain(keep);
        self.logins.retain(keep);
        self.login_failures.retain(keep);
        self.upstream_handshakes.retain(keep);
        self.latency.retain(keep);
        self.upstream_latency.retain(keep);
        self.login_duration.retain(keep);
        self.queue_wait.retain(keep);
        self.api_used.retain(keep);
        self.api_limit.retain(keep);
        self.api_budget.retain(keep);
        self.certificate_expiry.retain(keep);
        self.queued.retain(keep);
        self.slots_in_use.retain(keep);
    }
}

impl crate::upstream::Observer for Metrics {
    fn upstream_call(
        &self,
        tenant: &str,
        api: Api,
        ended: Result<&Verdict, UpstreamCode>,
        elapsed: Duration,
    ) {
        super::access::upstream_call(elapsed);
        let labels = UpstreamLabels {
            tenant: tenant.to_string(),
            api: api.name(),
            code: match ended {
                Ok(verdict) => verdict.label(),
                Err(code) => code.code(),
            },
        };
        self.upstream_latency
            .with_series(&labels, |h| h.observe(elapsed.as_secs_f64()));
    }

    fn login(&self, tenant: &str, success: bool, elapsed: Duration) {
        let labels = LoginLabels {
            tenant: tenant.to_string(),
            outcome: if success { "success" } else { "failure" },
        };
        self.login_duration
            .with_series(&labels, |h| h.observe(elapsed.as_secs_f64()));
        let counter = if success {
            &self.logins
        } else {
            &self.login_failures
        };
        counter.with_series(&tenant_labels(tenant), |c| c.inc());
    }

    fn handshake(&self, tenant: &str) {
        self.upstream_handshakes
            .with_series(&tenant_labels(tenant), |c| c.inc());
    }
}

impl crate::plugin::Observer for Metrics {
    fn plugin_loaded(&self, tenant: &str, workflow: &str, live: bool) {
        let counter = if live {
            &self.plugin_reloads
        } else {
            &self.plugin_failures
        };
        counter.with_series(&workflow_labels(tenant, workflow), |c| c.inc());
    }

    fn log_lines_dropped(&self, tenant: &str, workflow: &str, lines: u64) {
        self.plugin_log_dropped
            .with_series(&workflow_labels(tenant, workflow), |c| c.inc_by(lines));
    }
}

fn tenant_labels(tenant: &str) -> TenantLabels {
    TenantLabels {
        tenant: tenant.to_string(),
    }
}

fn workflow_labels(tenant: &str, workflow: &str) -> WorkflowLabels {
    WorkflowLabels {
        tenant: tenant.to_string(),
        workflow: workflow.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_end_in_total_and_removed_tenants_are_dropped() {
        let m = Metrics::default();
        for tenant in ["acme", "globex"] {
            m.requests.with_series(
                &RequestLabels {
                    tenant: tenant.into(),
                    workflow: "user".into(),
                    status: 200,
                },
                |c| c.inc(),
            );
        }
        let text = m.encode();
        assert!(text.contains("# TYPE twoway_requests counter"), "{text}");
        assert!(
            text.contains(
                "twoway_requests_total{tenant=\"globex\",workflow=\"user\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        m.retain(&|tenant, _| tenant == "acme");
        let text = m.encode();
        assert!(!text.contains("globex"), "{text}");
        assert!(text.contains("tenant=\"acme\""), "{text}");
    }
}
