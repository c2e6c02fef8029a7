//! The multi-tenant gateway behind `twoway serve`: tenants built from the
//! config (identity, transport, session, callers), the plugin registry, the
//! inbound and admin listeners, and reload without restart.

mod admin;
mod auth;
mod limit;
mod metrics;
mod problem;
mod routing;
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, RwLock};

use crate::config::{Config, Tenant};
use crate::plugin::{Registry, Runtime, Watcher};
use crate::session::{MemoryStore, SessionStore};
use crate::upstream::{SetupError, TenantUpstream};

pub use metrics::Metrics;
pub use problem::Problem;
pub use routing::parse_route;
pub use server::{Running, start};

/// Why the gateway could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Tenant(#[from] SetupError),
    #[error("plugin runtime: {0}")]
    Runtime(String),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("inbound TLS: {0}")]
    Tls(String),
}

/// One tenant as the gateway serves it.
pub struct TenantRuntime {
    pub config: Arc<Tenant>,
    pub upstream: Arc<TenantUpstream>,
    /// Requests being served (`max_concurrency`) and waiting (`max_queued`).
    pub limit: limit::TenantLimit,
    /// The tenant's API keys as digests.
    pub api_keys: auth::ApiKeys,
    /// Verifies callers against the tenant's own CA (`callers.ca`).
    pub callers_ca: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// What one config produced: swapped whole on reload.
pub struct Generation {
    pub config: Arc<Config>,
    pub tenants: HashMap<String, Arc<TenantRuntime>>,
}

/// State shared by every connection.
pub struct Shared {
    pub generation: RwLock<Arc<Generation>>,
    pub registry: Arc<Registry>,
    pub metrics: Metrics,
    pub config_path: Option<PathBuf>,
    pub shutting_down: AtomicBool,
    /// Sessions and login budgets of every tenant.
    pub store: Arc<dyn SessionStore>,
    pub reloads: AtomicU64,
    pub last_reload_error: RwLock<Option<String>>,
    _watcher: RwLock<Option<Watcher>>,
}

impl Shared {
    /// The current generation.
    pub fn current(&self) -> Arc<Generation> {
        self.generation
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Builds the tenants of `config`, reusing those of `previous` whose config
/// did not change (so their sessions and pools survive a reload).
fn build_tenants(
    config: &Config,
    previous: Option<&Generation>,
    store: &Arc<dyn SessionStore>,
) -> Result<HashMap<String, Arc<TenantRuntime>>, GatewayError> {
    let mut tenants = HashMap::new();
    for tenant in &config.tenants {
        let reuse = previous
            .and_then(|g| g.tenants.get(&tenant.name))
            .filter(|t| *t.config == *tenant && same_files(t))
            .cloned();
        let runtime = match reuse {
            Some(existing) => existing,
            None => {
                // A changed tenant starts without the old tenant's session.
                store.clear(&tenant.name);
                let config_arc = Arc::new(tenant.clone());
                Arc::new(TenantRuntime {
                    upstream: Arc::new(TenantUpstream::with_store(
                        config_arc.clone(),
                        &config.upstream,
                        store.clone(),
                    )?),
                    limit: limit::TenantLimit::new(
                        tenant.max_concurrency,
                        tenant.max_queued,
                        tenant.queue_timeout,
                    ),
                    api_keys: auth::ApiKeys::new(&tenant.api_keys),
                    callers_ca: callers_verifier(tenant)?,
                    config: config_arc,
                })
            }
        };
        tenants.insert(tenant.name.clone(), runtime);
    }
    Ok(tenants)
}

/// The verifier of a tenant's own caller CA, when it has one.
fn callers_verifier(
    tenant: &Tenant,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, GatewayError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
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
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| bad(&e))?;
    Ok(Some(verifier))
}

/// A tenant whose identity files changed on disk (certificate rotation)
/// is rebuilt even when its config text is the same.
fn same_files(t: &TenantRuntime) -> bool {
    let Some(identity) = t.upstream.identity() else {
        return true;
    };
    let Some(source) = &t.config.identity else {
        return true;
    };
    match crate::identity::load(source) {
        Ok(now) => {
            now.leaf.sha256_fingerprint == identity.leaf.sha256_fingerprint
                && now.chain == identity.chain
        }
        Err(_) => true,
    }
}

/// The plugin directory as an absolute path, so watcher events match slots.
fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()))
}

/// Workflow slots for the registry, from the config.
fn slot_specs(config: &Config) -> Vec<crate::plugin::SlotSpec> {
    let dir = absolute(&config.plugins.dir);
    config
        .tenants
        .iter()
        .flat_map(|t| {
            let dir = dir.clone();
            t.workflows.iter().map(move |w| crate::plugin::SlotSpec {
                tenant: t.name.clone(),
                workflow: w.name.clone(),
                path: dir.join(
                    w.plugin
                        .strip_prefix(&config.plugins.dir)
                        .unwrap_or(&w.plugin),
                ),
                config: w.config.clone(),
                limits: w.limits,
            })
        })
        .collect()
}

/// Builds everything from `config` (tenants, plugins) before any port binds.
pub async fn prepare(
    config: Config,
    config_path: Option<PathBuf>,
) -> Result<Arc<Shared>, GatewayError> {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::default());
    let tenants = build_tenants(&config, None, &store)?;
    let cache_dir = config.plugins.cache_dir.clone();
    let runtime = tokio::task::spawn_blocking(move || Runtime::new(&cache_dir))
        .await
        .map_err(|e| GatewayError::Runtime(e.to_string()))?
        .map_err(|e| GatewayError::Runtime(format!("{e:#}")))?;
    let registry = Arc::new(Registry::new(Arc::new(runtime)));
    let specs = slot_specs(&config);
    let r = registry.clone();
    tokio::task::spawn_blocking(move || r.configure(specs))
        .await
        .map_err(|e| GatewayError::Runtime(e.to_string()))?;
    let dir = absolute(&config.plugins.dir);
    let watcher = if dir.is_dir() {
        Some(
            Watcher::start(&dir, registry.clone())
                .map_err(|e| GatewayError::Runtime(format!("watching {}: {e}", dir.display())))?,
        )
    } else {
        tracing::warn!(dir = %dir.display(), "the plugins directory does not exist; no hot reload until it does and the config reloads");
        None
    };
    Ok(Arc::new(Shared {
        generation: RwLock::new(Arc::new(Generation {
            config: Arc::new(config),
            tenants,
        })),
        registry,
        metrics: Metrics::default(),
        config_path,
        shutting_down: AtomicBool::new(false),
        store,
        reloads: AtomicU64::new(0),
        last_reload_error: RwLock::new(None),
        _watcher: RwLock::new(watcher),
    }))
}

/// Loads the config file again; a valid one replaces the current generation,
/// an invalid one is refused with its reasons and the old keeps serving.
pub async fn reload(shared: &Arc<Shared>) -> Result<(), GatewayError> {
    let Some(path) = shared.config_path.clone() else {
        return Ok(());
    };
    let result = async {
        let config = crate::config::load(&path)?;
        let previous = shared.current();
        let tenants = build_tenants(&config, Some(&previous), &shared.store)?;
        let specs = slot_specs(&config);
        let registry = shared.registry.clone();
        tokio::task::spawn_blocking(move || registry.configure(specs))
            .await
            .map_err(|e| GatewayError::Runtime(e.to_string()))?;
        *shared.generation.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Generation {
            config: Arc::new(config),
            tenants,
        });
        Ok::<_, GatewayError>(())
    }
    .await;
    match &result {
        Ok(()) => {
            shared
                .reloads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *shared
                .last_reload_error
                .write()
                .unwrap_or_else(|e| e.into_inner()) = None;
            tracing::info!(config = %path.display(), "configuration reloaded");
        }
        Err(e) => {
            *shared
                .last_reload_error
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            tracing::error!(config = %path.display(), error = %e, "configuration rejected; the previous one keeps serving");
        }
    }
    result
}

/// Reloads when the config file changes (debounced) or on SIGHUP, until dropped.
pub struct ConfigWatcher {
    _watcher: Option<notify::RecommendedWatcher>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts reloading `shared` on config-file changes and SIGHUP.
pub fn watch_config(shared: Arc<Shared>) -> ConfigWatcher {
    use notify::Watcher as _;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let path = shared.config_path.clone().map(|p| absolute(&p));
    let watcher = path.as_ref().and_then(|path| {
        let file = path.clone();
        let tx = tx.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && event.paths.contains(&file)
                    && !event.kind.is_access()
                {
                    let _ = tx.send(());
                }
            })
            .ok()?;
        let dir = path.parent()?.to_path_buf();
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .ok()?;
        Some(watcher)
    });
    #[cfg(unix)]
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
    }
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Editors write in several steps: wait for quiet.
            while let Ok(Some(())) =
                tokio::time::timeout(std::time::Duration::from_millis(200), rx.recv()).await
            {
            }
            let _ = reload(&shared).await;
        }
    });
    ConfigWatcher {
        _watcher: watcher,
        task,
    }
}
