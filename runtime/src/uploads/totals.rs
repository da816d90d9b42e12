//! The workspace-wide running totals of the upload store (contexts holding uploads, bytes
//! they hold) behind `uploads.max_contexts` and `uploads.max_total_bytes`: counted once from
//! the disk (at the boot sweep or the first upload, whichever comes first), then kept up to
//! date under the store's lock by every store (reserved before its files are written) and
//! every removal, so checking a message against them is O(1) — it never reads another
//! context's index.

use std::path::Path;

use super::index;

/// Contexts with an upload index under the root, and the bytes of the files they hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Context folders with an `index.json`.
    pub contexts: u64,
    /// The sum of their files' sizes in bytes (as indexed; see [`held`]).
    pub bytes: u64,
}

impl Totals {
    /// Counts the contexts under `root` (no folder yet: zero). O(contexts): called once per
    /// process, and again only after a removal failed half way. Errors: reading `root`.
    pub fn scan(root: &Path) -> std::io::Result<Totals> {
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Totals::default()),
            Err(e) => return Err(e),
        };
        let mut totals = Totals::default();
        for entry in entries {
            let dir = entry?.path();
            if !dir.join(index::INDEX_FILE).is_file() {
                continue;
            }
            totals.contexts += 1;
            totals.bytes = totals.bytes.saturating_add(held(&dir).bytes);
        }
        Ok(totals)
    }

    /// The totals once a context holding `held` is gone.
    pub fn remove(&mut self, held: Held) {
        if held.indexed {
            self.contexts = self.contexts.saturating_sub(1);
        }
        self.bytes = self.bytes.saturating_sub(held.bytes);
    }

    /// The totals with a context holding `held` (what was left of one a removal could not
    /// finish).
    pub fn add(&mut self, held: Held) {
        self.contexts += u64::from(held.indexed);
        self.bytes = self.bytes.saturating_add(held.bytes);
    }
}

/// What one context folder holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// It has an index (it counts against `uploads.max_contexts`).
    pub indexed: bool,
    /// Files (indexed, or on disk when the index is unreadable).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What the context folder `dir` holds: its index's sizes; when the index cannot be read
/// (logged naming the file), the sizes of the files under `files/` (so a damaged index
/// still counts against `uploads.max_total_bytes`).
pub fn held(dir: &Path) -> Held {
    let indexed = dir.join(index::INDEX_FILE).is_file();
    match index::read(dir) {
        Ok(records) => Held {
            indexed,
            files: records.len() as u64,
            bytes: records.iter().fold(0u64, |n, r| n.saturating_add(r.bytes)),
        },
        Err(err) => {
            let file = dir.join(index::INDEX_FILE);
            tracing::warn!(file = %file.display(), error = %err,
                "cannot read an upload index; counting the files on disk");
            on_disk(&dir.join("files"), indexed)
        }
    }
}

/// The files directly under `files` and their sizes (what can be read of them).
fn on_disk(files: &Path, indexed: bool) -> Held {
    let mut held = Held {
        indexed,
        ..Held::default()
    };
    let Ok(entries) = std::fs::read_dir(files) else {
        return held;
    };
    for meta in entries.flatten().filter_map(|e| e.metadata().ok()) {
        if meta.is_file() {
            held.files += 1;
            held.bytes = held.bytes.saturating_add(meta.len());
        }
    }
    held
}
