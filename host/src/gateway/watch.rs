//! What makes the gateway reload by itself: the config watcher (changes of
//! the config or of any file it names, SIGHUP) and the plugins-directory
//! watcher, which follows `[plugins].dir` when a reload moves it or when it
//! appears later.
//!
//! The config watcher watches folders, not files: editors replace files,
//! and Kubernetes mounts a ConfigMap or a Secret as symlinks (`tls.pem` ->
//! `..data/tls.pem`, `..data` -> `..2026_xx/`) whose `..data` link is
//! swapped atomically. It watches the folder of the config and of every file
//! the config names (`Config::files`: `*_file` secrets, client identities,
//! `extra_roots`, CAs), and the folder of each one's final target (a link
//! into another folder, as certbot's `live/` -> `archive/`). Any change
//! there makes it read them all again (through the links) and reload when
//! one's content differs from the last seen; a file that is missing is
//! waited for (a rotation in progress), not reloaded without.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Shared;
use super::reload::{absolute, reload};
use crate::plugin::{Registry, Watcher};

/// Quiet time after the last file event before the files are read.
const CONFIG_DEBOUNCE: Duration = Duration::from_millis(200);
/// How often a missing plugins directory is looked for.
const DIR_POLL: Duration = Duration::from_millis(500);

/// Reloads when the config or a file it names changes (debounced) or on
/// SIGHUP, until dropped.
pub struct ConfigWatcher {
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
    /// Something changed in a watched folder: reload if a content did.
    Files,
    /// SIGHUP: reload whatever the content.
    Signal,
}

/// The SHA-256 of a file's content, read through any symlinks.
fn content_hash(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into())
}

/// The config and the files it names, their folders watched and their
/// contents as last seen.
struct Files {
    config: PathBuf,
    watcher: Option<notify::RecommendedWatcher>,
    dirs: BTreeSet<PathBuf>,
    seen: BTreeMap<PathBuf, Option<[u8; 32]>>,
}

/// What reading the files again found.
enum Look {
    Same,
    Changed,
    /// A named file is missing (mid-rotation, or deleted): not reloaded.
    Missing(PathBuf),
}

impl Files {
    /// The config, then every file the last config read names.
    fn paths(&self, shared: &Shared) -> Vec<PathBuf> {
        let named = shared.files.read().unwrap_or_else(|e| e.into_inner());
        std::iter::once(self.config.clone())
            .chain(named.iter().map(|p| {
                // Not canonicalized: the link, not its current target, is what stays.
                std::path::absolute(p).unwrap_or_else(|_| p.clone())
            }))
            .collect()
    }

    /// Watches the folders of `paths` and of their targets (and no others).
    fn follow(&mut self, paths: &[PathBuf]) {
        use notify::Watcher as _;
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let wanted: BTreeSet<PathBuf> = paths
            .iter()
            .flat_map(|p| [Some(p.clone()), std::fs::canonicalize(p).ok()])
            .flatten()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&wanted) {
            let _ = watcher.unwatch(gone);
        }
        let mut watched = BTreeSet::new();
        for dir in &wanted {
            if self.dirs.contains(dir) {
                watched.insert(dir.clone());
                continue;
            }
            match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => {
                    watched.insert(dir.clone());
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch a folder of the config's files; reload with SIGHUP or POST /admin/reload")
                }
            }
        }
        self.dirs = watched;
    }

    /// Reads `paths` again; remembers what it saw unless one is missing.
    fn look(&mut self, paths: &[PathBuf]) -> Look {
        let now: BTreeMap<PathBuf, Option<[u8; 32]>> =
            paths.iter().map(|p| (p.clone(), content_hash(p))).collect();
        if let Some((missing, _)) = now.iter().find(|(_, hash)| hash.is_none()) {
            return Look::Missing(missing.clone());
        }
        if now == self.seen {
            return Look::Same;
        }
        self.seen = now;
        Look::Changed
    }
}

/// Starts reloading `shared` on changes of its config or its files, and on SIGHUP.
pub fn watch_config(shared: Arc<Shared>) -> ConfigWatcher {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Trigger>();
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
    let Some(config) = shared.config_path.as_deref() else {
        return ConfigWatcher {
            task: tokio::spawn(async {}),
        };
    };
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
        {
            let _ = tx.send(Trigger::Files);
        }
    })
    .inspect_err(|e| tracing::warn!(error = %e, "cannot watch the config; reload with SIGHUP or POST /admin/reload"))
    .ok();
    let mut files = Files {
        config: std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf()),
        watcher,
        dirs: BTreeSet::new(),
        seen: BTreeMap::new(),
    };
    let paths = files.paths(&shared);
    files.follow(&paths);
    files.look(&paths);
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut trigger = first;
            // Editors and kubelet write in several steps: wait for quiet.
            while let Ok(Some(next)) = tokio::time::timeout(CONFIG_DEBOUNCE, rx.recv()).await {
                if next == Trigger::Signal {
                    trigger = Trigger::Signal;
                }
            }
            let paths = files.paths(&shared);
            // A link may point elsewhere now.
            files.follow(&paths);
            match files.look(&paths) {
                Look::Same if trigger == Trigger::Files => continue,
                Look::Missing(path) if trigger == Trigger::Files => {
                    tracing::warn!(file = %path.display(), "a file the config names is missing; reloading once it is back");
                    continue;
                }
                _ => {}
            }
            let _ = reload(&shared).await;
            // The config may name other files now: watch them, as they are.
            let paths = files.paths(&shared);
            files.follow(&paths);
            let seen = std::mem::take(&mut files.seen);
            files.seen = paths
                .into_iter()
                .map(|p| {
                    let hash = seen.get(&p).copied().unwrap_or_else(|| content_hash(&p));
                    (p, hash)
                })
                .collect();
        }
    });
    ConfigWatcher { task }
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
