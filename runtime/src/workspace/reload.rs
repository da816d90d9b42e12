//! Hot reload: a `notify` watcher on the folders that hold components (skills, plugins,
//! adapters). Events are debounced (about 100 ms of quiet), mapped to what changed, and handed
//! to a reload function; the reload builds and checks the new version before swapping it in.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
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
    _watcher: Arc<Mutex<RecommendedWatcher>>,
    task: JoinHandle<()>,
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Most folder levels watched below a root (a guard against symlink loops).
const MAX_DEPTH: usize = 12;

/// Watches `folders` and every folder below them, except build output (`target/`) and hidden
/// folders (such as `.molecule`, where the task database is written on every status change),
/// and calls `on_change` with the set of changed paths after each debounced burst. Folders
/// created later are watched as they appear.
pub fn watch_folders(
    folders: &[PathBuf],
    debounce: Duration,
    on_change: impl Fn(Vec<PathBuf>) -> ReloadFuture + Send + Sync + 'static,
) -> anyhow::Result<FolderWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(PathBuf, bool)>();
    let roots: Vec<PathBuf> = folders.to_vec();
    let watched = roots.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let created = matches!(event.kind, notify::EventKind::Create(_));
        for path in event.paths {
            if !ignored(below_root(&watched, &path)) {
                let _ = tx.send((path, created));
            }
        }
    })
    .context("starting the file watcher")?;
    let watcher = Arc::new(Mutex::new(watcher));
    for folder in folders.iter().filter(|f| f.is_dir()) {
        watch_tree(&mut lock(&watcher), folder, 0)?;
    }
    let adder = watcher.clone();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changed = BTreeSet::new();
            let mut note = |(path, created): (PathBuf, bool)| {
                // A new folder: watch it (and what it holds) from now on.
                if created && path.is_dir() {
                    let depth = below_root(&roots, &path).components().count();
                    if let Err(e) = watch_tree(&mut lock(&adder), &path, depth) {
                        tracing::warn!(error = %format!("{e:#}"), "file watcher");
                    }
                }
                changed.insert(path);
            };
            note(first);
            // Collect until the folder has been quiet for `debounce`.
            while let Ok(Some(event)) = tokio::time::timeout(debounce, rx.recv()).await {
                note(event);
            }
            on_change(changed.into_iter().collect()).await;
        }
    });
    Ok(FolderWatcher {
        _watcher: watcher,
        task,
    })
}

/// Watches `dir` (not recursively) and, below it, every folder that is not ignored.
fn watch_tree(watcher: &mut RecommendedWatcher, dir: &Path, depth: usize) -> anyhow::Result<()> {
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("watching {}", dir.display()))?;
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !ignored(Path::new(&entry.file_name())) {
            watch_tree(watcher, &path, depth + 1)?;
        }
    }
    Ok(())
}

/// `path` relative to the first of `roots` that holds it (or `path` itself).
fn below_root<'a>(roots: &[PathBuf], path: &'a Path) -> &'a Path {
    roots
        .iter()
        .find_map(|root| path.strip_prefix(root).ok())
        .unwrap_or(path)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// True for build output, hidden files and `node_modules/` (a JavaScript skill's development
/// dependencies, never part of what is served), judged on the path below the watched folder.
fn ignored(path: &Path) -> bool {
    path.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "target" || s == "node_modules" || (s.starts_with('.') && s != "." && s != "..")
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
        assert!(ignored(Path::new("greeter/node_modules/molecule-skill")));
        assert!(!ignored(Path::new("greeter/app.js")));
        assert!(!ignored(Path::new("notes/SKILL.md")));
    }
}
