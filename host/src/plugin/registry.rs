//! Which plugin version serves each (tenant, workflow) and each tenant's
//! front-door policy: an `Arc<Version>` swapped atomically on reload, so
//! in-flight calls finish on the version they started with. A component that
//! fails to load leaves the old one serving.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{LoadError, Runtime, Version, World};
use crate::config::PluginLimits;

/// The slot name of a tenant's front-door policy (no workflow name starts
/// with `@`).
pub const POLICY_SLOT: &str = "@policy";

/// Largest component file accepted.
pub(super) const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;

/// One configured workflow and its live version.
pub struct Slot {
    pub tenant: String,
    /// The workflow's name, or [`POLICY_SLOT`].
    pub workflow: String,
    /// What the component must be.
    pub world: World,
    pub path: PathBuf,
    pub config: Arc<BTreeMap<String, String>>,
    pub limits: PluginLimits,
    live: RwLock<Option<Arc<Version>>>,
    last_error: RwLock<Option<String>>,
    reloads: AtomicU64,
    failures: AtomicU64,
}

impl Slot {
    /// The version serving now, if one ever loaded.
    pub fn live(&self) -> Option<Arc<Version>> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records why the file did not load, saying what serves meanwhile:
    /// the version that loaded before, or nothing yet.
    fn record_error(&self, error: String) {
        let error = match self.live() {
            Some(version) => {
                format!("{error}; version {} keeps serving", version.id)
            }
            None => format!(
                "{error}; no version of this workflow has loaded yet, so calls get 503 \
                 plugin_unavailable until the file loads"
            ),
        };
        tracing::warn!(tenant = %self.tenant, workflow = %self.workflow, %error, "plugin not loaded");
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.write().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    fn clear_error(&self) {
        *self.last_error.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// What `/admin/plugins` shows of a slot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SlotStatus {
    pub tenant: String,
    pub workflow: String,
    pub path: String,
    pub version: Option<String>,
    pub loaded_at: Option<String>,
    pub reloads: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    /// Log lines dropped over the per-call cap (never reset).
    pub log_lines_dropped: u64,
    /// How the live version's calls got their instances (made ahead or
    /// per call), since it loaded.
    pub instances: Option<super::AheadStatus>,
}

/// A workflow to serve, from the config.
#[derive(Debug, Clone)]
pub struct SlotSpec {
    pub tenant: String,
    /// The workflow's name, or [`POLICY_SLOT`].
    pub workflow: String,
    pub world: World,
    pub path: PathBuf,
    pub config: BTreeMap<String, String>,
    pub limits: PluginLimits,
}

/// The workflows of one config and their live versions: what one gateway
/// generation serves (swapped together with its tenants).
#[derive(Default)]
pub struct Slots {
    map: HashMap<(String, String), Arc<Slot>>,
}

impl Slots {
    /// The slot of (tenant, workflow).
    pub fn get(&self, tenant: &str, workflow: &str) -> Option<Arc<Slot>> {
        self.map
            .get(&(tenant.to_string(), workflow.to_string()))
            .cloned()
    }
}

/// All live plugin versions.
pub struct Registry {
    runtime: Arc<Runtime>,
    slots: RwLock<Arc<Slots>>,
}

impl Registry {
    /// An empty registry on `runtime`.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self {
            runtime,
            slots: RwLock::new(Arc::default()),
        }
    }

    /// The runtime the versions run on.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The slots of `specs`, not yet served: a workflow whose file did not
    /// change keeps its loaded version; the others are loaded now (errors
    /// recorded per slot). The served slots are left as they are. Blocking:
    /// compiles.
    pub fn prepare(&self, specs: Vec<SlotSpec>) -> Arc<Slots> {
        let old = self.current();
        let mut slots = HashMap::new();
        for spec in specs {
            let key = (spec.tenant.clone(), spec.workflow.clone());
            let previous = old
                .map
                .get(&key)
                .filter(|s| s.path == spec.path && s.world == spec.world)
                .and_then(|s| s.live());
            let slot = Arc::new(Slot {
                tenant: spec.tenant,
                workflow: spec.workflow,
                world: spec.world,
                path: spec.path,
                config: Arc::new(spec.config),
                limits: spec.limits,
                live: RwLock::new(previous),
                last_error: RwLock::new(None),
                reloads: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            });
            self.reload_slot(&slot);
            slots.insert(key, slot);
        }
        Arc::new(Slots { map: slots })
    }

    /// Serves `slots` (made by [`Registry::prepare`]) from now on.
    pub fn install(&self, slots: Arc<Slots>) {
        *self.slots.write().unwrap_or_else(|e| e.into_inner()) = slots;
    }

    /// The slots served now.
    pub fn current(&self) -> Arc<Slots> {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The slot of (tenant, workflow).
    pub fn get(&self, tenant: &str, workflow: &str) -> Option<Arc<Slot>> {
        self.current().get(tenant, workflow)
    }

    /// The slot of `tenant`'s front-door policy, when it has one.
    pub fn policy(&self, tenant: &str) -> Option<Arc<Slot>> {
        self.current().get(tenant, POLICY_SLOT)
    }

    /// True when every slot has a live version.
    pub fn ready(&self) -> bool {
        self.current().map.values().all(|s| s.live().is_some())
    }

    /// Reloads every slot served from `path` (the watcher calls this). Blocking.
    pub fn reload_path(&self, path: &Path) {
        let slots: Vec<_> = (self.current().map.values())
            .filter(|s| s.path == path)
            .cloned()
            .collect();
        for slot in slots {
            self.reload_slot(&slot);
        }
    }

    /// Loads the slot's file when its content changed. A missing or broken
    /// file leaves the live version serving and records why.
    fn reload_slot(&self, slot: &Slot) {
        let bytes = match read_component(&slot.path) {
            Ok(bytes) => bytes,
            Err(e) => return self.failed(slot, e.to_string()),
        };
        let id_now = slot.live().map(|v| v.id.clone());
        let id = super::version_id(&bytes);
        if id_now.as_deref() == Some(id.as_str()) {
            // The file that serves is back (after a broken or missing one):
            // the earlier failure no longer describes the slot.
            return slot.clear_error();
        }
        match self.runtime.load(&slot.path, &bytes, id, slot.world) {
            Ok(version) => {
                tracing::info!(tenant = %slot.tenant, workflow = %slot.workflow, version = %version.id, previous = ?id_now, "plugin version live");
                *slot.live.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(version));
                slot.clear_error();
                slot.reloads.fetch_add(1, Ordering::Relaxed);
                if let Some(observer) = self.runtime.observer() {
                    observer.plugin_loaded(&slot.tenant, &slot.workflow, true);
                }
            }
            Err(e) => self.failed(slot, e.to_string()),
        }
    }

    /// The slot's file did not load: recorded on the slot and counted.
    fn failed(&self, slot: &Slot, error: String) {
        slot.record_error(error);
        if let Some(observer) = self.runtime.observer() {
            observer.plugin_loaded(&slot.tenant, &slot.workflow, false);
        }
    }

    /// Every slot's state, sorted by tenant and workflow.
    pub fn status(&self) -> Vec<SlotStatus> {
        let slots = self.current();
        let mut out: Vec<_> = slots
            .map
            .values()
            .map(|s| {
                let live = s.live();
                SlotStatus {
                    tenant: s.tenant.clone(),
                    workflow: s.workflow.clone(),
                    path: s.path.display().to_string(),
                    version: live.as_ref().map(|v| v.id.clone()),
                    loaded_at: live.as_ref().map(|v| {
                        time::OffsetDateTime::from(v.loaded_at)
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    }),
                    reloads: s.reloads.load(Ordering::Relaxed),
                    failures: s.failures.load(Ordering::Relaxed),
                    last_error: s
                        .last_error
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                    log_lines_dropped: self.runtime.log_lines_dropped(&s.tenant, &s.workflow),
                    instances: live.as_ref().map(|v| v.ahead()),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.workflow).cmp(&(&b.tenant, &b.workflow)));
        out
    }

    /// The plugin files the registry serves (for the watcher).
    pub fn paths(&self) -> Vec<PathBuf> {
        let slots = self.current();
        slots.map.values().map(|s| s.path.clone()).collect()
    }
}

/// Reads a component file, at most [`MAX_COMPONENT_BYTES`]; a missing file's
/// error names the underscore spelling when that one exists.
pub fn read_component(path: &Path) -> Result<Vec<u8>, LoadError> {
    let read_error = |reason: String| LoadError::Read {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            read_error(format!("no such file{}", underscore_hint(path)))
        } else {
            read_error(e.to_string())
        }
    })?;
    if meta.len() > MAX_COMPONENT_BYTES {
        return Err(read_error(format!(
            "{} bytes is over the {MAX_COMPONENT_BYTES}-byte limit",
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| read_error(e.to_string()))
}

/// ` (did you mean …?)` when the file is missing but its name with
/// underscores for dashes exists (cargo names `contact-dedupe`'s component
/// `contact_dedupe.wasm`).
fn underscore_hint(path: &Path) -> String {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return String::new();
    };
    let underscored = path.with_file_name(name.replace('-', "_"));
    if name.contains('-') && underscored.is_file() {
        format!(
            " (did you mean {}? cargo writes a crate's component with underscores)",
            underscored.display()
        )
    } else {
        String::new()
    }
}
