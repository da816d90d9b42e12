//! The files a client sent to a CLI agent's A2A context (stored by `crate::uploads` at
//! intake, as for wasm adapters), as the program sees them. A native program cannot get a
//! read-only view of its own, so it gets the real paths: `MOLECULE_UPLOADS_DIR` (the
//! context's `<data dir>/uploads/<context>/files` folder, when it holds any) and
//! [`FILES_FILE`] in the task's working folder (its path in `MOLECULE_FILES_FILE`): one JSON
//! line per file of the current message, in part order,
//! `{"path", "name", "filename", "mediaType", "bytes"}` (`path` absolute; `name` the safe
//! name on disk; `filename` the client's, or null). Earlier messages' files are listed the
//! same way in their history lines (`history.rs`). The list comes from the context's upload
//! index (what the runtime stored), never from part metadata a client could write.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::uploads::{UploadRecord, Uploads};

/// The file's name in the task's working folder.
pub const FILES_FILE: &str = "files.jsonl";

/// One context's stored uploads (empty without an upload store or uploads).
#[derive(Debug, Default)]
pub struct ContextFiles {
    dir: Option<PathBuf>,
    records: Vec<UploadRecord>,
}

impl ContextFiles {
    /// The uploads of `context_id` in `uploads` (read from its index off the async threads;
    /// an unreadable index reads as none).
    pub async fn read(uploads: Option<&Uploads>, context_id: &str) -> ContextFiles {
        let Some(uploads) = uploads.cloned() else {
            return ContextFiles::default();
        };
        let context = context_id.to_owned();
        let read = tokio::task::spawn_blocking(move || {
            let dir = uploads.existing_files_dir(&context);
            let records = dir.as_ref().map(|_| uploads.records(&context));
            ContextFiles {
                dir,
                records: records.unwrap_or_default(),
            }
        });
        read.await.unwrap_or_default()
    }

    /// The context's uploads folder, when it holds files (`MOLECULE_UPLOADS_DIR`).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref().filter(|_| !self.records.is_empty())
    }

    /// The files message `message_id` of task `task_id` brought, as JSON objects.
    pub fn of(&self, task_id: &str, message_id: &str) -> Vec<Value> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        self.records
            .iter()
            .filter(|r| r.message_id == message_id && r.task_id.as_deref() == Some(task_id))
            .map(|r| {
                json!({"path": dir.join(&r.name), "name": r.name, "filename": r.filename,
                       "mediaType": r.media_type, "bytes": r.bytes})
            })
            .collect()
    }
}

/// Writes `files` as JSON lines into `folder`'s [`FILES_FILE`]; returns its path. `Err` names
/// the file.
pub async fn write_files(folder: &Path, files: &[Value]) -> Result<PathBuf, String> {
    let text: String = files.iter().map(|f| format!("{f}\n")).collect();
    let path = folder.join(FILES_FILE);
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
