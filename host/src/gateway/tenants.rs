//! The tenants of one config as the gateway serves them, and how a reload
//! rebuilds them changing only what changed: callers (API keys, caller
//! policy) and limits are rebuilt cheaply each time; the upstream (pool and
//! session) is kept or succeeded by [`TenantUpstream::successor`]. Nothing
//! here touches the previous generation, so a failed reload leaves no trace.

use std::collections::HashMap;
use std::sync::Arc;

use super::{GatewayError, Generation, auth, limit};
use crate::config::{Config, Tenant, Upstream};
use crate::session::{SessionSettings, SessionStore};
use crate::upstream::{self, TenantUpstream};

/// One tenant as the gateway serves it.
pub struct TenantRuntime {
    pub config: Arc<Tenant>,
    pub upstream: Arc<TenantUpstream>,
    /// Requests being served (`max_concurrency`) and waiting (`max_queued`).
    pub limit: Arc<limit::TenantLimit>,
    /// The tenant's API keys as digests.
    pub api_keys: auth::ApiKeys,
    /// Verifies callers against the tenant's own CA (`callers.ca`).
    pub callers_ca: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// What the session layer needs of a tenant.
pub fn session_settings(tenant: &Tenant) -> SessionSettings {
    SessionSettings {
        tenant: tenant.name.clone(),
        login_url: tenant.login_url.clone(),
        api_version: tenant.api_version.clone(),
        auth: tenant.auth.clone(),
        session_seconds: tenant.session_seconds,
        login_timeout: tenant.login_timeout,
        login_budget_per_hour: tenant.login_budget_per_hour,
    }
}

/// What a tenant's upstream needs (no API keys, callers or workflows).
pub fn upstream_settings(tenant: &Tenant, upstream: &Upstream) -> upstream::Settings {
    upstream::Settings {
        tenant: tenant.name.clone(),
        identity: tenant.identity.clone(),
        extra_roots: tenant.extra_roots.clone(),
        mutual_auth: tenant.mutual_auth,
        mutual_auth_port: tenant.mutual_auth_port,
        transport: *upstream,
        proxy: tenant.proxy.clone(),
        session: session_settings(tenant),
        api_budget: upstream::ApiBudget {
            per_day: tenant.api_budget_per_day,
            reserve: tenant.api_reserve,
        },
    }
}

/// Builds the tenants of `config`; those also in `previous` keep their
/// pool, session, API usage and limit where their settings allow. New
/// upstreams report to `observer` (the metrics).
pub fn build(
    config: &Config,
    previous: Option<&Generation>,
    store: &Arc<dyn SessionStore>,
    observer: &Arc<dyn upstream::Observer>,
) -> Result<HashMap<String, Arc<TenantRuntime>>, GatewayError> {
    let mut tenants = HashMap::new();
    for tenant in &config.tenants {
        let old = previous.and_then(|g| g.tenants.get(&tenant.name));
        let settings = upstream_settings(tenant, &config.upstream);
        let upstream = match old {
            Some(old) => old.upstream.successor(settings)?,
            None => Arc::new(TenantUpstream::observed(
                settings,
                store.clone(),
                observer.clone(),
            )?),
        };
        let limit = old
            .map(|old| old.limit.clone())
            .filter(|l| {
                l.has_settings(
                    tenant.max_concurrency,
                    tenant.max_queued,
                    tenant.queue_timeout,
                )
            })
            .unwrap_or_else(|| {
                Arc::new(limit::TenantLimit::new(
                    tenant.max_concurrency,
                    tenant.max_queued,
                    tenant.queue_timeout,
                ))
            });
        let runtime = TenantRuntime {
            upstream,
            limit,
            api_keys: auth::ApiKeys::new(&tenant.api_keys),
            callers_ca: callers_verifier(tenant)?,
            config: Arc::new(tenant.clone()),
        };
        tenants.insert(tenant.name.clone(), Arc::new(runtime));
    }
    Ok(tenants)
}

/// The verifier of a tenant's own caller CA, when it has one.
fn callers_verifier(
    tenant: &Tenant,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, GatewayError> {
    let Some(ca) = tenant.callers.as_ref().and_then(|c| c.ca.as_ref()) else {
        return Ok(None);
    };
    let bad = |e: &dyn std::fmt::Display| {
        GatewayError::Tls(format!(
            "tenant[{}].callers.ca {}: {e}",
            tenant.name,
            ca.display()
        ))
    };
    let mut roots = rustls::RootCertStore::empty();
    let bytes = std::fs::read(ca).map_err(|e| bad(&e))?;
    for cert in crate::pem::certificates(&bytes).map_err(|e| bad(&e))? {
        roots.add(cert).map_err(|e| bad(&e))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| bad(&e))?;
    Ok(Some(verifier))
}
