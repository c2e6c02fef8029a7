//! What makes the gateway reload by itself: the config watcher (file
//! changes, SIGHUP) and the plugins-directory watcher, which follows
//! `[plugins].dir` when a reload moves it or when it appears later.
//!
//! The config watcher watches the file's directory, not the file: editors
//! replace files, and Kubernetes mounts a ConfigMap as a symlink
//! (`twoway.toml` -> `..data/twoway.toml`, `..data` -> `..2026_xx/`) whose
//! `..data` link is swapped atomically. Any change in the directory makes it
//! read the config (through the links) and reload when the content's hash
//! differs from the last one seen.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Shared;
use super::reload::{absolute, reload};
use crate::plugin::{Registry, Watcher};

/// Quiet time after the last file event before the config is read.
const CONFIG_DEBOUNCE: Duration = Duration::from_millis(200);
/// How often a missing plugins directory is looked for.
const DIR_POLL: Duration = Duration::from_millis(500);

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

/// Why the config watcher woke up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Something changed in the config's directory: reload if the content did.
    Files,
    /// SIGHUP: reload whatever the content.
    Signal,
}

/// The SHA-256 of the config's content, read through any symlinks.
fn content_hash(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into())
}

/// Starts reloading `shared` on config-file changes and SIGHUP.
pub fn watch_config(shared: Arc<Shared>) -> ConfigWatcher {
    use notify::Watcher as _;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Trigger>();
    // Not canonicalized: the link, not its current target, is what stays.
    let path = shared
        .config_path
        .as_deref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let watcher = path.as_ref().and_then(|path| {
        let dir = path.parent()?.to_path_buf();
        let tx = tx.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && !event.kind.is_access()
                {
                    let _ = tx.send(Trigger::Files);
                }
            })
            .inspect_err(|e| tracing::warn!(error = %e, "cannot watch the config; reload with SIGHUP or POST /admin/reload"))
            .ok()?;
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .inspect_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the config's directory; reload with SIGHUP or POST /admin/reload"))
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
                if tx.send(Trigger::Signal).is_err() {
                    return;
                }
            }
        });
    }
    let mut seen = path.as_deref().and_then(content_hash);
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut trigger = first;
            // Editors and kubelet write in several steps: wait for quiet.
            while let Ok(Some(next)) = tokio::time::timeout(CONFIG_DEBOUNCE, rx.recv()).await {
                if next == Trigger::Signal {
                    trigger = Trigger::Signal;
                }
            }
            let now = path.as_deref().and_then(content_hash);
            if trigger == Trigger::Files && (now.is_none() || now == seen) {
                continue;
            }
            seen = now;
            let _ = reload(&shared).await;
        }
    });
    ConfigWatcher {
        _watcher: watcher,
        task,
    }
}

/// Keeps the plugins directory of the current config watched.
#[derive(Default)]
pub struct PluginDirWatch {
    followed: Arc<Mutex<Followed>>,
}

/// The directory followed now and how.
#[derive(Default)]
struct Followed {
    dir: Option<PathBuf>,
    /// Watching it (it exists).
    watcher: Option<Watcher>,
    /// Waiting for it to appear.
    waiting: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Followed {
    fn drop(&mut self) {
        if let Some(task) = self.waiting.take() {
            task.abort();
        }
    }
}

impl PluginDirWatch {
    /// Watches `dir` (as the config names it) from now on, unless it is
    /// watched already. A directory that does not exist yet is looked for
    /// until it does; then it is watched and every served plugin is loaded.
    pub fn follow(&self, dir: &Path, registry: &Arc<Registry>) {
        let dir = absolute(dir);
        let mut followed = lock(&self.followed);
        if followed.dir.as_ref() == Some(&dir)
            && (followed.watcher.is_some()
                || followed.waiting.as_ref().is_some_and(|t| !t.is_finished()))
        {
            return;
        }
        followed.watcher = None;
        if let Some(task) = followed.waiting.take() {
            task.abort();
        }
        followed.dir = Some(dir.clone());
        if dir.is_dir() {
            followed.watcher = start(&dir, registry);
            return;
        }
        tracing::warn!(dir = %dir.display(), "the plugins directory does not exist; its plugins load when it appears");
        // Weak: the task ends once the gateway is gone.
        let state: Weak<Mutex<Followed>> = Arc::downgrade(&self.followed);
        let registry = registry.clone();
        followed.waiting = Some(tokio::spawn(async move {
            while !dir.is_dir() {
                if state.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(DIR_POLL).await;
            }
            {
                let Some(state) = state.upgrade() else {
                    return;
                };
                let mut followed = lock(&state);
                if followed.dir.as_ref() != Some(&dir) {
                    return;
                }
                followed.watcher = start(&dir, &registry);
            }
            tracing::info!(dir = %dir.display(), "the plugins directory appeared; loading its plugins");
            let _ = tokio::task::spawn_blocking(move || {
                for path in registry.paths() {
                    registry.reload_path(&path);
                }
            })
            .await;
        }));
    }
}

fn lock(followed: &Mutex<Followed>) -> std::sync::MutexGuard<'_, Followed> {
    followed.lock().unwrap_or_else(|e| e.into_inner())
}

fn start(dir: &Path, registry: &Arc<Registry>) -> Option<Watcher> {
    Watcher::start(dir, registry.clone())
        .inspect(|_| tracing::info!(dir = %dir.display(), "watching the plugins directory"))
        .inspect_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the plugins directory; plugins reload with the config only"))
        .ok()
}
