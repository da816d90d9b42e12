//! Content hashes of source trees: each kept file as its path relative to the tree's root and
//! its bytes, in name order, so a build or an interpreter is keyed by exactly what it reads.

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

/// Which files of a tree count. Hidden entries (`.name`) never do.
#[derive(Debug, Clone, Copy)]
pub struct TreeFilter {
    /// Folder or file names skipped at any depth (e.g. `target`, `__pycache__`).
    pub skip: &'static [&'static str],
    /// Names skipped only directly under the root (e.g. `tests`).
    pub skip_at_root: &'static [&'static str],
    /// When set, only files with this extension count.
    pub extension: Option<&'static str>,
}

/// Adds every counted file under `root` to `hasher`. Links are not followed. Errors name the
/// folder or file that could not be read.
pub fn hash_tree(root: &Path, filter: TreeFilter, hasher: &mut Sha256) -> anyhow::Result<()> {
    hash_dir(root, root, filter, hasher)
}

fn hash_dir(
    root: &Path,
    dir: &Path,
    filter: TreeFilter,
    hasher: &mut Sha256,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let skipped = name.starts_with('.')
            || filter.skip.contains(&name.as_ref())
            || (dir == root && filter.skip_at_root.contains(&name.as_ref()));
        if skipped {
            continue;
        }
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if file_type.is_dir() {
            hash_dir(root, &path, filter, hasher)?;
        } else if file_type.is_file()
            && filter
                .extension
                .is_none_or(|ext| path.extension().is_some_and(|e| e == ext))
        {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update([0]);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
    }
    Ok(())
}
