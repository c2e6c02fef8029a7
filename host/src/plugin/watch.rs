//! Hot reload: a notify watcher on the plugins directory, debounced, that
//! reloads changed files off the request path (a blocking task each).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};

use super::Registry;

/// Quiet time after the last event before a file is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Keeps the directory watched while alive.
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    /// Watches `dir` and reloads what changes in it into `registry`.
    pub fn start(dir: &Path, registry: Arc<Registry>) -> notify::Result<Self> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && (event.kind.is_modify() || event.kind.is_create() || event.kind.is_remove())
                {
                    for path in event.paths {
                        let _ = tx.send(path);
                    }
                }
            })?;
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut changed = BTreeSet::from([first]);
                // Debounce: a copy arrives as several writes.
                while let Ok(Some(path)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    changed.insert(path);
                }
                let registry = registry.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let served = registry.paths();
                    for path in changed.iter().filter(|p| served.contains(p)) {
                        registry.reload_path(path);
                    }
                })
                .await;
            }
        });
        Ok(Self {
            _watcher: watcher,
            task,
        })
    }
}
