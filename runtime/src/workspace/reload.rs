//! Hot reload: a `notify` watcher on the folders that hold components (skills, plugins,
//! adapters). Events are debounced (about 100 ms of quiet), mapped to what changed, and handed
//! to a reload function; the reload builds and checks the new version before swapping it in.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::skills::SkillRegistry;

/// Default quiet time before a burst of file events is acted on.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// A future returned by a reload callback.
pub type ReloadFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running watcher; dropping it stops watching.
pub struct FolderWatcher {
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches `folders` recursively and calls `on_change` with the set of changed paths after
/// each debounced burst. Paths inside `target/` folders and hidden files are ignored.
pub fn watch_folders(
    folders: &[PathBuf],
    debounce: Duration,
    on_change: impl Fn(Vec<PathBuf>) -> ReloadFuture + Send + Sync + 'static,
) -> anyhow::Result<FolderWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let watched: Vec<PathBuf> = folders.to_vec();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if matches!(event.kind, notify::EventKind::Access(_)) {
                return;
            }
            for path in event.paths {
                let rel = watched
                    .iter()
                    .find_map(|root| path.strip_prefix(root).ok())
                    .unwrap_or(&path);
                if !ignored(rel) {
                    let _ = tx.send(path);
                }
            }
        }
    })
    .context("starting the file watcher")?;
    for folder in folders {
        if folder.is_dir() {
            watcher
                .watch(folder, RecursiveMode::Recursive)
                .with_context(|| format!("watching {}", folder.display()))?;
        }
    }
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changed = BTreeSet::from([first]);
            // Collect until the folder has been quiet for `debounce`.
            while let Ok(Some(path)) = tokio::time::timeout(debounce, rx.recv()).await {
                changed.insert(path);
            }
            on_change(changed.into_iter().collect()).await;
        }
    });
    Ok(FolderWatcher {
        _watcher: watcher,
        task,
    })
}

/// True for build output and hidden files, judged on the path below the watched folder.
fn ignored(path: &Path) -> bool {
    path.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "target" || (s.starts_with('.') && s != "." && s != "..")
    })
}

/// Watches the registry's skill roots and reloads the skills whose folders changed.
pub fn watch_skills(
    registry: Arc<SkillRegistry>,
    debounce: Duration,
) -> anyhow::Result<FolderWatcher> {
    let roots: Vec<PathBuf> = registry
        .roots()
        .into_iter()
        .map(|r| r.canonicalize().unwrap_or(r))
        .collect();
    watch_folders(&roots.clone(), debounce, move |paths| {
        let registry = registry.clone();
        let ids = skill_ids(&roots, &paths);
        Box::pin(async move {
            if ids.is_empty() {
                return;
            }
            let started = std::time::Instant::now();
            let snapshot = registry.reload(&ids).await;
            tracing::info!(
                skills = ?ids,
                generation = snapshot.generation,
                elapsed = ?started.elapsed(),
                "skills reloaded"
            );
        })
    })
}

/// The skill ids (first folder below a root) that `paths` touch.
pub fn skill_ids(roots: &[PathBuf], paths: &[PathBuf]) -> Vec<String> {
    let mut ids = BTreeSet::new();
    for path in paths {
        for root in roots {
            let root = root.canonicalize().unwrap_or_else(|_| root.clone());
            let rel = path.strip_prefix(&root).ok();
            if let Some(first) = rel.and_then(|r| r.components().next()) {
                ids.insert(first.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    ids.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_skill_ids() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let paths = vec![
            root.join("notes/SKILL.md"),
            root.join("notes/src/lib.rs"),
            root.join("web-fetch/tool.wasm"),
            PathBuf::from("/elsewhere/x"),
        ];
        assert_eq!(skill_ids(&[root], &paths), ["notes", "web-fetch"]);
    }

    #[test]
    fn ignores_build_output_and_hidden_files() {
        assert!(ignored(Path::new("notes/target/release/x.wasm")));
        assert!(ignored(Path::new("notes/.SKILL.md.swp")));
        assert!(!ignored(Path::new("notes/SKILL.md")));
    }
}
