//! Prometheus metrics (`/metrics`): requests and latency per tenant and
//! workflow, plugin reloads, logins, API usage and certificate expiry.
//! Labels carry only tenant, workflow and status: never a secret.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// `inbound` or `admin`.
    pub listener: &'static str,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<WorkflowLabels, Histogram>,
    pub plugin_reloads: Family<WorkflowLabels, Gauge>,
    pub plugin_failures: Family<WorkflowLabels, Gauge>,
    pub plugin_log_dropped: Family<WorkflowLabels, Gauge>,
    pub logins: Family<TenantLabels, Gauge>,
    pub login_failures: Family<TenantLabels, Gauge>,
    pub api_used: Family<TenantLabels, Gauge>,
    pub api_limit: Family<TenantLabels, Gauge>,
    pub certificate_days: Family<TenantLabels, Gauge>,
    pub upstream_handshakes: Family<TenantLabels, Gauge>,
    pub in_flight: Gauge,
    pub queue_wait: Family<TenantLabels, Histogram>,
    pub queued: Family<TenantLabels, Gauge>,
    pub slots_in_use: Family<TenantLabels, Gauge>,
    pub connections: Family<ListenerLabels, Gauge>,
    /// 1 while the shared session store (Redis) is unreachable.
    pub store_degraded: Gauge,
    pub store_fallback_logins: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("twoway");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<WorkflowLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
        });
        let metrics = Self {
            requests,
            latency,
            plugin_reloads: Family::default(),
            plugin_failures: Family::default(),
            plugin_log_dropped: Family::default(),
            logins: Family::default(),
            login_failures: Family::default(),
            api_used: Family::default(),
            api_limit: Family::default(),
            certificate_days: Family::default(),
            upstream_handshakes: Family::default(),
            in_flight: Gauge::default(),
            queue_wait: Family::<TenantLabels, Histogram>::new_with_constructor(|| {
                Histogram::new([0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            }),
            queued: Family::default(),
            slots_in_use: Family::default(),
            connections: Family::default(),
            store_degraded: Gauge::default(),
            store_fallback_logins: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Workflow requests by tenant, workflow and status",
            metrics.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Workflow request latency",
            metrics.latency.clone(),
        );
        registry.register(
            "plugin_reloads",
            "Plugin versions loaded by reload",
            metrics.plugin_reloads.clone(),
        );
        registry.register(
            "plugin_reload_failures",
            "Plugin files that failed to load",
            metrics.plugin_failures.clone(),
        );
        registry.register(
            "plugin_log_lines_dropped",
            "Plugin log lines dropped over the per-call cap",
            metrics.plugin_log_dropped.clone(),
        );
        registry.register(
            "logins",
            "Successful logins by tenant",
            metrics.logins.clone(),
        );
        registry.register(
            "login_failures",
            "Failed logins by tenant",
            metrics.login_failures.clone(),
        );
        registry.register(
            "api_requests_used",
            "API requests used today, as Salesforce reports",
            metrics.api_used.clone(),
        );
        registry.register(
            "api_requests_limit",
            "API request limit per day, as Salesforce reports",
            metrics.api_limit.clone(),
        );
        registry.register(
            "client_certificate_days_to_expiry",
            "Days until the tenant's client certificate expires",
            metrics.certificate_days.clone(),
        );
        registry.register(
            "upstream_tls_handshakes",
            "TLS handshakes made to the API",
            metrics.upstream_handshakes.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Requests being handled now",
            metrics.in_flight.clone(),
        );
        registry.register(
            "tenant_queue_wait_seconds",
            "Time requests waited for one of their tenant's max_concurrency slots",
            metrics.queue_wait.clone(),
        );
        registry.register(
            "tenant_queued_requests",
            "Requests waiting for a slot of their tenant now",
            metrics.queued.clone(),
        );
        registry.register(
            "tenant_slots_in_use",
            "Requests of the tenant running a workflow now (at most max_concurrency)",
            metrics.slots_in_use.clone(),
        );
        registry.register(
            "open_connections",
            "Open connections per listener (at most [server] max_connections)",
            metrics.connections.clone(),
        );
        registry.register(
            "store_degraded",
            "1 while the shared session store ([store] kind = \"redis\") is unreachable and this instance works on its own",
            metrics.store_degraded.clone(),
        );
        registry.register(
            "store_fallback_logins",
            "Logins this instance decided without the shared session store",
            metrics.store_fallback_logins.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
