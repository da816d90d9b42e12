//! The index of one context's uploads, `<context>/index.json` (a JSON array of
//! [`UploadRecord`], oldest first), and the durable writes of the store: a file is written
//! to a temporary name, synced, then renamed (never over an existing file); the index is
//! replaced the same way, so a crash leaves the old index or the new one, never half of one.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The index file's name inside a context's folder.
pub const INDEX_FILE: &str = "index.json";

/// One stored upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRecord {
    /// The name on disk, under `files/` (and under `/uploads` for a granted skill).
    pub name: String,
    /// The file name the client gave, as given (not used on disk).
    pub filename: Option<String>,
    /// The media type kept (`type/subtype`, lower case).
    pub media_type: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The task the message went to.
    pub task_id: Option<String>,
    /// The message it came in.
    pub message_id: String,
}

/// The records of the context folder `dir` (none when it has no index yet).
pub fn read(dir: &Path) -> std::io::Result<Vec<UploadRecord>> {
    match std::fs::read(dir.join(INDEX_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Replaces the index of `dir` with `records`, durably.
pub fn write(dir: &Path, records: &[UploadRecord]) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(records)?;
    let tmp = temp_file(dir, &bytes)?;
    tmp.persist(dir.join(INDEX_FILE)).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Writes `bytes` to the new file `path` (an existing file is an error, never replaced),
/// through a synced temporary file in `dir`.
pub fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_file(dir, bytes)?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn temp_file(dir: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
