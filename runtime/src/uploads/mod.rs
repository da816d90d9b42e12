//! Files A2A clients send (file parts with bytes: 1.0 `raw`, 0.3 `file.bytes`), kept under
//! `<data dir>/uploads/<context>/files/<name>` with an index (`index.json`: original file
//! name, media type, size, task and message) beside the folder, and offered read-only at
//! [`UPLOADS_MOUNT`] to skills granted the `uploads` interface.
//!
//! A message's files are all stored — written, synced and indexed — before its task is
//! stored or answered (`AgentExecutor::intake`), or none is: a part over
//! `uploads.max_file_bytes`, a context over `uploads.max_context_bytes` or
//! `uploads.max_context_files`, a malformed media type, or a disk error refuses the whole
//! request. The workspace-wide limits (`uploads.max_total_bytes`, `uploads.max_contexts`)
//! are checked against running totals (`totals.rs`), O(1) per message. Contexts are removed
//! after `uploads.retention` or once the task store holds none of their tasks (`sweep.rs`).
//! Names on disk are made safe in `names.rs`; the index in `index.rs`; the shared
//! bookkeeping (held only briefly, never across file I/O) in `state.rs`.

mod index;
pub mod names;
mod state;
mod sweep;
mod totals;

use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use molecule_a2a::types::{Message, PartContent};
use molecule_a2a::IntakeError;
use serde_json::json;

pub use index::UploadRecord;
pub use sweep::{SweepReport, Sweeper, ORPHAN_GRACE, SWEEP_EVERY, SWEEP_MAX_CONTEXTS};
pub use totals::Totals;

/// Where a granted skill sees its task's context uploads (read-only WASI preopen).
pub const UPLOADS_MOUNT: &str = "/uploads";
/// The part metadata key the runtime adds to each stored file part:
/// `{"name", "path", "bytes", "mediaType"}` (`path` under [`UPLOADS_MOUNT`]).
pub const METADATA_KEY: &str = "molecule.upload";

/// `skill` with the uploads folder `dir` preopened read-only at [`UPLOADS_MOUNT`] (same
/// compiled component and tools; its grants plus the folder).
pub fn mounted(
    skill: &crate::component::SkillComponent,
    dir: &Path,
) -> crate::component::SkillComponent {
    crate::python::run::with_dirs(
        skill,
        [crate::grants::DirGrant {
            host: dir.to_owned(),
            guest: UPLOADS_MOUNT.to_owned(),
            writable: false,
        }],
    )
}

/// The limits of config.yaml `uploads` (bytes decoded, files counted per context) and how
/// long files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// `uploads.max_file_bytes`.
    pub max_file_bytes: u64,
    /// `uploads.max_context_bytes`.
    pub max_context_bytes: u64,
    /// `uploads.max_context_files`.
    pub max_context_files: u64,
    /// `uploads.max_total_bytes`.
    pub max_total_bytes: u64,
    /// `uploads.max_contexts`.
    pub max_contexts: u64,
    /// `uploads.retention`: a context's files are removed this long after its last upload.
    pub retention: Duration,
}

impl From<&molecule_config::UploadsConfig> for UploadLimits {
    fn from(c: &molecule_config::UploadsConfig) -> Self {
        UploadLimits {
            max_file_bytes: c.max_file_bytes,
            max_context_bytes: c.max_context_bytes,
            max_context_files: c.max_context_files,
            max_total_bytes: c.max_total_bytes,
            max_contexts: c.max_contexts,
            retention: c.retention,
        }
    }
}

/// The workspace's upload store. Cheap to clone. A store or a removal claims its context
/// (`state.rs`), so two messages never pick the same name and a sweep never removes a
/// context while a message is being stored in it; a message's bytes are reserved in the
/// running totals before they are written, so two messages never both pass a workspace
/// limit. The lock behind both is never held across file I/O.
#[derive(Clone)]
pub struct Uploads {
    root: PathBuf,
    limits: UploadLimits,
    state: Arc<state::Shared>,
}

/// One file part of a message, checked, waiting to be written.
struct Incoming {
    part: usize,
    filename: Option<String>,
    media_type: String,
    bytes: Vec<u8>,
}

impl Uploads {
    /// A store under `root` (`<data dir>/uploads`; made on first upload) with `limits`. A
    /// relative `root` is made absolute against the current folder now, so every path the
    /// store hands out (to a CLI agent's program, which runs in its own task folder) is
    /// absolute.
    pub fn new(root: impl Into<PathBuf>, limits: UploadLimits) -> Self {
        let root = root.into();
        Uploads {
            root: std::path::absolute(&root).unwrap_or(root),
            limits,
            state: Arc::default(),
        }
    }

    /// The running totals, counted from the disk if this store has not counted yet.
    /// Errors: reading the uploads folder.
    pub fn totals(&self) -> std::io::Result<Totals> {
        self.state.totals(&self.root)
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        self.state.lock()
    }

    /// Notes that a message reached `context_id` (spared by a sweep running now). Takes the
    /// lock only for the note: never waits behind a sweep's or a store's file work.
    fn touch(&self, context_id: &str) {
        if let Some(touched) = self.lock().touched.as_mut() {
            touched.insert(names::context_dir_name(context_id));
        }
    }

    /// The folder holding `context_id`'s files (it may not exist).
    pub fn files_dir(&self, context_id: &str) -> PathBuf {
        self.context_dir(context_id).join("files")
    }

    /// [`Self::files_dir`] when the context has uploaded something.
    pub fn existing_files_dir(&self, context_id: &str) -> Option<PathBuf> {
        Some(self.files_dir(context_id)).filter(|d| d.is_dir())
    }

    /// The index of `context_id`'s uploads, oldest first (empty when none or unreadable).
    pub fn records(&self, context_id: &str) -> Vec<UploadRecord> {
        index::read(&self.context_dir(context_id)).unwrap_or_default()
    }

    fn context_dir(&self, context_id: &str) -> PathBuf {
        self.root.join(names::context_dir_name(context_id))
    }

    /// Stores every file part of `message` (its `contextId` set) and adds [`METADATA_KEY`]
    /// to each; all or none. Errors: [`IntakeError::Refused`] naming the part, the limit and
    /// its config key; [`IntakeError::Failed`] when the disk fails (logged with the path).
    pub async fn take_in(&self, message: &mut Message) -> Result<(), IntakeError> {
        let context = message.context_id.clone().unwrap_or_default();
        self.touch(&context);
        let incoming = self.check(message)?;
        if incoming.is_empty() {
            return Ok(());
        }
        let (task, id) = (message.task_id.clone(), message.message_id.clone());
        let this = self.clone();
        let stored = tokio::task::spawn_blocking(move || {
            this.store(&context, incoming, task.as_deref(), &id)
        })
        .await
        .map_err(|e| IntakeError::Failed(format!("storing the uploads stopped: {e}")))??;
        for (part, record) in stored {
            let meta = json!({"name": record.name, "bytes": record.bytes,
                              "mediaType": record.media_type,
                              "path": format!("{UPLOADS_MOUNT}/{}", record.name)});
            if let Some(p) = message.parts.get_mut(part) {
                p.metadata
                    .get_or_insert_with(Default::default)
                    .insert(METADATA_KEY.to_owned(), meta);
            }
        }
        Ok(())
    }

    /// The message's file parts, each within `uploads.max_file_bytes` and with a usable
    /// media type.
    fn check(&self, message: &Message) -> Result<Vec<Incoming>, IntakeError> {
        let mut out = Vec::new();
        for (i, part) in message.parts.iter().enumerate() {
            let PartContent::Raw(bytes) = &part.content else {
                continue;
            };
            let shown = shown_name(i, part.filename.as_deref());
            if bytes.len() as u64 > self.limits.max_file_bytes {
                return Err(IntakeError::Refused(format!(
                    "{shown}: {} bytes is over the upload limit of {} bytes per file \
                     (uploads.max_file_bytes); nothing of this message was stored",
                    bytes.len(),
                    self.limits.max_file_bytes
                )));
            }
            let media_type = names::media_type(part.media_type.as_deref())
                .map_err(|e| IntakeError::Refused(format!("{shown}: {e}")))?;
            out.push(Incoming {
                part: i,
                filename: part.filename.clone(),
                media_type,
                bytes: bytes.clone(),
            });
        }
        Ok(out)
    }

    /// Writes `incoming` for `context` (on a blocking thread: it may wait for a removal of
    /// the context to finish): limits, names, files, then the index.
    fn store(
        &self,
        context: &str,
        incoming: Vec<Incoming>,
        task: Option<&str>,
        message: &str,
    ) -> Result<Vec<(usize, UploadRecord)>, IntakeError> {
        let _claim = self.state.claim(&names::context_dir_name(context));
        let dir = self.context_dir(context);
        let mut records = index::read(&dir).map_err(|e| disk(&dir, &e))?;
        self.check_context(&records, &incoming)?;
        let new_context = !dir.join(index::INDEX_FILE).is_file();
        let adding: u64 = incoming.iter().map(|i| i.bytes.len() as u64).sum();
        self.reserve(new_context, adding)?;
        let written = write_files(&dir, &mut records, incoming, task, message);
        if written.is_err() {
            let mut state = self.lock();
            if let Some(totals) = state.totals.as_mut() {
                totals.bytes = totals.bytes.saturating_sub(adding);
                totals.contexts = totals.contexts.saturating_sub(u64::from(new_context));
            }
        }
        written
    }

    /// Checks `adding` bytes (for a new context when `new_context`) against the workspace
    /// limits and counts them in the running totals, under the lock.
    fn reserve(&self, new_context: bool, adding: u64) -> Result<(), IntakeError> {
        self.totals().map_err(|e| disk(&self.root, &e))?;
        let mut state = self.lock();
        let totals = state.totals.get_or_insert_with(Totals::default);
        self.check_workspace(totals, new_context, adding)?;
        totals.bytes = totals.bytes.saturating_add(adding);
        totals.contexts += u64::from(new_context);
        Ok(())
    }

    /// Refuses `adding` bytes when they would take the workspace past
    /// `uploads.max_total_bytes` or, for a context with no uploads yet, past
    /// `uploads.max_contexts`. O(1): checks the running `totals`.
    fn check_workspace(
        &self,
        totals: &Totals,
        new_context: bool,
        adding: u64,
    ) -> Result<(), IntakeError> {
        let Totals {
            contexts,
            bytes: held,
        } = *totals;
        if new_context && contexts >= self.limits.max_contexts {
            return Err(IntakeError::Refused(format!(
                "{contexts} contexts already hold uploads, the limit (uploads.max_contexts); \
                 nothing of this message was stored"
            )));
        }
        if held.saturating_add(adding) > self.limits.max_total_bytes {
            return Err(IntakeError::Refused(format!(
                "the workspace holds {held} bytes of uploads; {adding} more is over the limit \
                 of {} bytes (uploads.max_total_bytes); nothing of this message was stored",
                self.limits.max_total_bytes
            )));
        }
        Ok(())
    }

    /// Refuses `incoming` when it would take the context past its byte or file budget.
    fn check_context(
        &self,
        records: &[UploadRecord],
        incoming: &[Incoming],
    ) -> Result<(), IntakeError> {
        let files = (records.len() + incoming.len()) as u64;
        if files > self.limits.max_context_files {
            return Err(IntakeError::Refused(format!(
                "this context would hold {files} uploaded files, over the limit of {} \
                 (uploads.max_context_files); nothing of this message was stored",
                self.limits.max_context_files
            )));
        }
        let held: u64 = records.iter().map(|r| r.bytes).sum();
        let adding: u64 = incoming.iter().map(|i| i.bytes.len() as u64).sum();
        if held.saturating_add(adding) > self.limits.max_context_bytes {
            return Err(IntakeError::Refused(format!(
                "this context holds {held} bytes of uploads; {adding} more is over the limit \
                 of {} bytes (uploads.max_context_bytes); nothing of this message was stored",
                self.limits.max_context_bytes
            )));
        }
        Ok(())
    }
}

/// How a refusal names part `i`: `file part 2 (`a.txt`)`.
fn shown_name(i: usize, filename: Option<&str>) -> String {
    match filename {
        Some(f) => {
            let f: String = f.chars().take(80).collect();
            format!("file part {i} (`{}`)", crate::redact::escape(&f))
        }
        None => format!("file part {i}"),
    }
}

/// The safe name of `filename`, numbered past the names `records` already use.
fn free_name(records: &[UploadRecord], filename: Option<&str>) -> String {
    let base = names::safe_file_name(filename);
    let taken = |n: &str| records.iter().any(|r| r.name == n);
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| names::numbered(&base, n))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

/// Writes `incoming` into the context folder `dir` (whose index holds `records`), then the
/// index; on any failure removes what it wrote. Returns each part's record.
fn write_files(
    dir: &Path,
    records: &mut Vec<UploadRecord>,
    incoming: Vec<Incoming>,
    task: Option<&str>,
    message: &str,
) -> Result<Vec<(usize, UploadRecord)>, IntakeError> {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).map_err(|e| disk(&files, &e))?;
    let mut written: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for item in incoming {
        let name = free_name(records, item.filename.as_deref());
        let path = files.join(&name);
        if let Err(err) = index::write_new(dir, &path, &item.bytes) {
            remove_all(&written);
            return Err(disk(&path, &err));
        }
        written.push(path);
        let record = UploadRecord {
            name,
            filename: item.filename,
            media_type: item.media_type,
            bytes: item.bytes.len() as u64,
            task_id: task.map(str::to_owned),
            message_id: message.to_owned(),
        };
        records.push(record.clone());
        out.push((item.part, record));
    }
    if let Err(err) = index::write(dir, records) {
        remove_all(&written);
        return Err(disk(&dir.join(index::INDEX_FILE), &err));
    }
    Ok(out)
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// A disk error: logged with the path, told to the client without it.
fn disk(path: &Path, err: &std::io::Error) -> IntakeError {
    tracing::error!(path = %path.display(), error = %err, "cannot store an upload");
    IntakeError::Failed(
        "the workspace could not store the uploaded file (its disk failed); nothing of this \
         message was stored"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests;
