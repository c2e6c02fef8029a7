//! Building a generation (tenants and plugin slots of one config) and
//! swapping it in: at start ([`prepare`]) and on reload ([`reload`]).
//!
//! A reload builds everything first and touches nothing that serves: the
//! tenants are succeeded ([`super::tenants::build`]), the plugin slots are
//! prepared beside the served ones, and only then, under the generation's
//! write lock, the registry's slots and the generation are swapped together.
//! A reload that fails at any step leaves the previous generation serving,
//! its sessions and pools untouched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::inbound_tls::InboundTls;
use super::watch::PluginDirWatch;
use super::{GatewayError, Generation, Metrics, Shared, tenants};
use crate::config::Config;
use crate::plugin::{POLICY_SLOT, Registry, Runtime, SlotSpec, Slots, World};
use crate::session::SessionStore;

/// The plugin directory as an absolute path, so watcher events match slots.
pub(super) fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()))
}

/// Workflow and policy slots for the registry, from the config.
fn slot_specs(config: &Config) -> Vec<SlotSpec> {
    let dir = absolute(&config.plugins.dir);
    config
        .tenants
        .iter()
        .flat_map(|t| {
            let dir = dir.clone();
            let workflows = t
                .workflows
                .iter()
                .map(|w| (World::Workflow, w.name.clone(), w));
            let policy = (t.policy.iter()).map(|p| (World::Policy, POLICY_SLOT.to_string(), p));
            workflows
                .chain(policy)
                .map(move |(world, name, w)| SlotSpec {
                    world,
                    tenant: t.name.clone(),
                    workflow: name,
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

/// Loads the plugin slots of `config` beside the served ones (blocking
/// work on the blocking pool).
async fn prepare_slots(
    registry: &Arc<Registry>,
    config: &Config,
) -> Result<Arc<Slots>, GatewayError> {
    let specs = slot_specs(config);
    let registry = registry.clone();
    tokio::task::spawn_blocking(move || registry.prepare(specs))
        .await
        .map_err(|e| GatewayError::Runtime(e.to_string()))
}

/// Builds everything from `config` (tenants, plugins) before any port binds.
pub async fn prepare(
    config: Config,
    config_path: Option<PathBuf>,
) -> Result<Arc<Shared>, GatewayError> {
    let metrics = Arc::new(Metrics::default());
    metrics.config_accepted();
    let fallbacks = metrics.store_fallback_logins.clone();
    let on_fallback = Arc::new(move || {
        fallbacks.inc();
    });
    let opened = crate::session::fleet::open(&config.store, Some(on_fallback))
        .await
        .map_err(|e| GatewayError::Runtime(format!("[store]: {e}")))?;
    let store: Arc<dyn SessionStore> = opened.sessions;
    let observer: Arc<dyn crate::upstream::Observer> = metrics.clone();
    let tenants = tenants::build(&config, None, &store, &observer)?;
    let tls = config
        .server
        .tls
        .as_ref()
        .map(|t| InboundTls::load(t, None))
        .transpose()?;
    let cache_dir = config.plugins.cache_dir.clone();
    let runtime = tokio::task::spawn_blocking(move || Runtime::new(&cache_dir))
        .await
        .map_err(|e| GatewayError::Runtime(e.to_string()))?
        .map_err(|e| GatewayError::Runtime(format!("{e:#}")))?;
    let runtime = runtime.observed(metrics.clone());
    let registry = Arc::new(Registry::new(Arc::new(runtime)));
    let plugins = prepare_slots(&registry, &config).await?;
    registry.install(plugins.clone());
    let plugin_watch = PluginDirWatch::default();
    plugin_watch.follow(&config.plugins.dir, &registry);
    let files = RwLock::new(config.files.clone());
    Ok(Arc::new(Shared {
        generation: RwLock::new(Arc::new(Generation {
            config: Arc::new(config),
            tenants,
            plugins,
            tls,
        })),
        registry,
        metrics,
        config_path,
        drain: Default::default(),
        store,
        reloads: AtomicU64::new(0),
        last_reload_error: RwLock::new(None),
        reloading: tokio::sync::Mutex::new(()),
        plugin_watch,
        files,
        front_door: super::front_door::State::new(opened.shelf),
        problems: Default::default(),
    }))
}

/// Loads the config file again; a valid one replaces the current generation,
/// an invalid one is refused with its reasons and the old keeps serving.
pub async fn reload(shared: &Arc<Shared>) -> Result<(), GatewayError> {
    let Some(path) = shared.config_path.clone() else {
        return Ok(());
    };
    // One reload at a time: each builds on the generation the last one left.
    let _one = shared.reloading.lock().await;
    let result = async {
        let config = crate::config::load(&path)?;
        // Watched from now on, even if the reload fails further on: a
        // fix of one of them is picked up.
        *shared.files.write().unwrap_or_else(|e| e.into_inner()) = config.files.clone();
        let previous = shared.current();
        let observer: Arc<dyn crate::upstream::Observer> = shared.metrics.clone();
        let tenants = tenants::build(&config, Some(&previous), &shared.store, &observer)?;
        let tls = match (&config.server.tls, &previous.tls) {
            (Some(tls), Some(old)) => Some(InboundTls::load(tls, Some(old))?),
            (None, None) => None,
            _ => {
                return Err(GatewayError::Tls(
                    "[server.tls] was added or removed: the listener keeps HTTP or HTTPS until a restart".into(),
                ));
            }
        };
        let plugins = prepare_slots(&shared.registry, &config).await?;
        Ok::<_, GatewayError>(Generation {
            config: Arc::new(config),
            tenants,
            plugins,
            tls,
        })
    }
    .await;
    match result {
        Ok(next) => {
            let dir = next.config.plugins.dir.clone();
            {
                let mut current = shared.generation.write().unwrap_or_else(|e| e.into_inner());
                shared.registry.install(next.plugins.clone());
                *current = Arc::new(next);
            }
            shared.plugin_watch.follow(&dir, &shared.registry);
            shared.reloads.fetch_add(1, Ordering::Relaxed);
            shared.metrics.config_reloaded(true);
            *shared
                .last_reload_error
                .write()
                .unwrap_or_else(|e| e.into_inner()) = None;
            tracing::info!(config = %path.display(), "configuration reloaded");
            Ok(())
        }
        Err(e) => {
            shared.metrics.config_reloaded(false);
            *shared
                .last_reload_error
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            tracing::error!(config = %path.display(), error = %e, "configuration rejected; the previous one keeps serving");
            Err(e)
        }
    }
}
