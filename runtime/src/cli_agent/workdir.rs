//! A task's working folder for a CLI agent's run: `<work root>/<task id>-<pid>-<n>` (the work
//! root is `runtime_config.work_root`, else `<temp dir>/molecule-cli-tasks-<uid>`, and must
//! be a real folder owned by the runtime's user), made
//! empty (mode 0700) before the run and removed with everything in it afterwards (also when
//! the task's future is dropped).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Characters of the task id kept in the folder name.
const ID_CHARS: usize = 64;

/// A working folder that is removed when done with.
pub struct TaskFolder {
    path: PathBuf,
    removed: bool,
}

impl TaskFolder {
    /// Makes a new empty folder for `task_id` under `root` (created if needed). The name
    /// keeps only `[A-Za-z0-9_-]` of the id (at most 64) plus a number unique in this process.
    pub fn create(root: &Path, task_id: &str) -> Result<TaskFolder, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id: String = task_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .take(ID_CHARS)
            .collect();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("{id}-{}-{n}", std::process::id()));
        let made = std::fs::create_dir_all(root).and_then(|()| {
            let mut builder = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&path)
        });
        let made = made.and_then(|()| owned_folder(root));
        made.map_err(|e| {
            format!(
                "cannot make the task's working folder {}: {e}",
                path.display()
            )
        })?;
        Ok(TaskFolder {
            path,
            removed: false,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the folder and everything in it (off the async threads); a failure is logged.
    pub async fn remove(mut self) {
        self.removed = true;
        let path = self.path.clone();
        let done = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&path)).await;
        if let Ok(Err(err)) = done {
            tracing::warn!(folder = %self.path.display(), error = %err, "cannot remove a cli task's working folder");
        }
    }
}

impl Drop for TaskFolder {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Refuses a work root that is a link or another user's folder (in a shared temp dir someone
/// else could have made it first).
fn owned_folder(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(root)?;
    let mine = meta.uid() == rustix::process::getuid().as_raw();
    if meta.is_dir() && mine {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "the work root {} is not a folder owned by this user (runtime_config.work_root)",
        root.display()
    )))
}
