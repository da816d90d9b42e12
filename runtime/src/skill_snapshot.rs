//! The per-version snapshot of a script skill folder (Python or JavaScript) that the shared
//! interpreter or engine reads at `/skill`, and the fingerprint that names a version.
//!
//! The folder is untrusted input (skills come from other people), so the snapshot never
//! follows a link out of it: a symbolic link is taken only when it points at a file inside
//! the folder, and is otherwise skipped with a warning (a direct preopen of the folder would
//! refuse it the same way). The snapshot is bounded — [`MAX_FILES`] entries, [`MAX_DEPTH`]
//! levels, [`MAX_COPIED_BYTES`] copied (source files — [`Language::sources`] — are copied;
//! other files are hard-linked, and copied only where linking fails) — and a folder over a
//! bound is an error naming it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use sha2::{Digest, Sha256};

/// How long an older version's folder is kept after a newer one appears: calls that started
/// on the older version (bounded by the call timeout) finish on its files.
const KEEP_OLD_VERSIONS: std::time::Duration = std::time::Duration::from_secs(300);
/// Most entries (files and folders) a snapshot holds.
pub const MAX_FILES: usize = 10_000;
/// Deepest folder nesting a snapshot follows.
pub const MAX_DEPTH: usize = 32;
/// Most bytes a snapshot copies (bytes).
pub const MAX_COPIED_BYTES: u64 = 64 * 1024 * 1024;

/// What a snapshot of one language's skill folder holds.
#[derive(Debug, Clone, Copy)]
pub struct Language {
    /// The language's name in messages, e.g. `Python`.
    pub name: &'static str,
    /// Extensions of its source files: copied (never linked) and fingerprinted.
    pub sources: &'static [&'static str],
    /// Folder names never snapshotted, besides hidden entries and `target/`.
    pub skip: &'static [&'static str],
    /// Empty folders created beside `src/` in each version (e.g. a bytecode cache).
    pub extra_dirs: &'static [&'static str],
}

/// Python skills: `.py` sources; `__pycache__` skipped; a `pycache/` folder per version.
pub const PYTHON: Language = Language {
    name: "Python",
    sources: &["py"],
    skip: &["__pycache__"],
    extra_dirs: &["pycache"],
};

/// JavaScript skills: `.js` and `.mjs` sources (exactly what the engine can import);
/// `node_modules` (an author's development dependencies, e.g. the SDK linked for
/// `node --test`) skipped.
pub const JAVASCRIPT: Language = Language {
    name: "JavaScript",
    sources: &["js", "mjs"],
    skip: &["node_modules"],
    extra_dirs: &[],
};

impl Language {
    fn is_source(&self, rel: &Path) -> bool {
        rel.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| self.sources.contains(&e))
    }
}

/// Creates (if needed) and returns `<cache_dir>/skills/<folder hash>/<source fingerprint>`
/// holding `src/` (a snapshot of the skill folder; hidden entries, `target/` and the
/// language's [`Language::skip`] folders skipped) and the language's extra folders. A
/// version's snapshot is what its calls read, so an edit in progress never reaches a loaded
/// version. Nothing is removed here: see [`mark_current`]. Errors name the folder and the
/// bound it passed.
pub fn version_dir(lang: Language, skill_dir: &Path, cache_dir: &Path) -> anyhow::Result<PathBuf> {
    let folder = hex::encode(&Sha256::digest(skill_dir.to_string_lossy().as_bytes())[..8]);
    let parent = cache_dir.join("skills").join(folder);
    let version = source_fingerprint(lang, skill_dir)?;
    let dir = parent.join(&version);
    if !dir.join("src").is_dir() {
        let tmp = parent.join(format!(".tmp-{version}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let root = skill_dir
            .canonicalize()
            .with_context(|| format!("resolving {}", skill_dir.display()))?;
        let mut budget = Budget {
            warn_links: true,
            ..Budget::default()
        };
        if let Err(err) = copy_tree(lang, &root, &tmp.join("src"), &mut budget) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(err);
        }
        for extra in lang.extra_dirs {
            std::fs::create_dir_all(tmp.join(extra))
                .with_context(|| format!("creating {}", tmp.join(extra).display()))?;
        }
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another loader made the same version first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok(dir)
}

/// Hex digest of every source file's relative path, size and mtime (ns) under `dir`,
/// skipping what the snapshot skips and links out of `dir`; bounded like the snapshot.
pub fn source_fingerprint(lang: Language, dir: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    let mut budget = Budget::default();
    walk(lang, dir, dir, 0, &mut budget, &mut |rel, _src, meta| {
        if lang.is_source(rel) {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(meta.len().to_le_bytes());
            hasher.update(mtime.to_le_bytes());
        }
        Ok(())
    })?;
    Ok(hex::encode(&hasher.finalize()[..8]))
}

/// What a snapshot has used of its bounds so far.
#[derive(Default)]
struct Budget {
    entries: usize,
    copied: u64,
    /// Whether a skipped link is logged (once per snapshot taken, not per fingerprint).
    warn_links: bool,
}

/// Records `version` (a folder from [`version_dir`] that just loaded) as its skill's current
/// version: the version it replaces is stamped "superseded now", and versions (and
/// unfinished `.tmp-*` snapshots) superseded more than 5 minutes ago are removed, so a call
/// that started on an older version finishes on its files, and a failed load never removes
/// the version still serving. Best effort: a clean-up error only costs disk space.
pub fn mark_current(version: &Path) {
    let (Some(parent), Some(name)) = (version.parent(), version.file_name()) else {
        return;
    };
    let marker = parent.join("current");
    let previous = std::fs::read_to_string(&marker).unwrap_or_default();
    if previous.trim() != name.to_string_lossy() {
        if !previous.trim().is_empty() {
            let _ = touch(&parent.join(previous.trim()));
        }
        let tmp = parent.join(format!(".current-{}", std::process::id()));
        if std::fs::write(&tmp, name.to_string_lossy().as_bytes()).is_ok() {
            let _ = std::fs::rename(&tmp, &marker);
        }
    }
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let entry_name = entry.file_name();
        if entry_name == name || entry_name == "current" {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > KEEP_OLD_VERSIONS);
        if stale {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

/// The bytes of the regular files under `dir` (links not followed); 0 when unreadable.
pub fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .map(|(path, kind)| {
            if kind.is_dir() {
                tree_bytes(&path)
            } else if kind.is_file() {
                std::fs::symlink_metadata(&path).map_or(0, |m| m.len())
            } else {
                0
            }
        })
        .sum()
}

/// Stamps `dir` with the current time (the clean-up measures from it).
fn touch(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.set_modified(std::time::SystemTime::now())
}

/// Copies the files under `root` to `to`, source files by copy and the rest by hard link
/// where possible.
fn copy_tree(lang: Language, root: &Path, to: &Path, budget: &mut Budget) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut copied = 0u64;
    let mut files = Vec::new();
    walk(lang, root, root, 0, budget, &mut |rel, src, meta| {
        files.push((rel.to_owned(), src.to_owned(), meta.len()));
        Ok(())
    })?;
    for (rel, src, len) in files {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if lang.is_source(&rel) || std::fs::hard_link(&src, &dest).is_err() {
            copied += len;
            if copied > MAX_COPIED_BYTES {
                bail!(
                    "{} holds more than {MAX_COPIED_BYTES} bytes to copy for a {} skill \
                     snapshot; keep large data out of the skill folder",
                    root.display(),
                    lang.name
                );
            }
            std::fs::copy(&src, &dest)
                .with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
        }
    }
    budget.copied += copied;
    Ok(())
}

type Visit<'a> = dyn FnMut(&Path, &Path, &std::fs::Metadata) -> anyhow::Result<()> + 'a;

/// Calls `visit(relative path, source path, metadata)` for every regular file under `dir`
/// (inside `root`), in name order, without following links out of `root`.
fn walk(
    lang: Language,
    root: &Path,
    dir: &Path,
    depth: usize,
    budget: &mut Budget,
    visit: &mut Visit<'_>,
) -> anyhow::Result<()> {
    if depth > MAX_DEPTH {
        bail!(
            "{} is nested deeper than {MAX_DEPTH} folders; a {} skill folder may not be",
            dir.display(),
            lang.name
        );
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || text == "target" || lang.skip.contains(&text.as_ref()) {
            continue;
        }
        budget.entries += 1;
        if budget.entries > MAX_FILES {
            bail!(
                "{} holds more than {MAX_FILES} files and folders; a {} skill folder may not",
                root.display(),
                lang.name
            );
        }
        let path = entry.path();
        let meta = match linked_file_inside(lang, root, &path, budget.warn_links)? {
            Some(meta) => meta,
            None => continue,
        };
        if meta.is_dir() {
            walk(lang, root, &path, depth + 1, budget, visit)?;
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            visit(rel, &path, &meta)?;
        }
    }
    Ok(())
}

/// The metadata of `path` when it is a plain file or folder, or a link to a file inside
/// `root`; `None` (with a warning) for a link that leads elsewhere or nowhere, and for
/// anything that is neither file nor folder.
fn linked_file_inside(
    lang: Language,
    root: &Path,
    path: &Path,
    warn: bool,
) -> anyhow::Result<Option<std::fs::Metadata>> {
    let own =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !own.file_type().is_symlink() {
        return Ok((own.is_file() || own.is_dir()).then_some(own));
    }
    let target = path.canonicalize().ok();
    match target {
        Some(target) if target.starts_with(root) && target.is_file() => {
            Ok(Some(std::fs::metadata(&target)?))
        }
        _ if !warn => Ok(None),
        _ => {
            tracing::warn!(
                link = %crate::redact::escape(&path.display().to_string()),
                language = lang.name,
                "skipped a link in a skill folder: only links to files inside the folder are \
                 followed"
            );
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_out_of_the_folder_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (skill, cache) = (dir.path().join("skill"), dir.path().join("cache"));
        std::fs::create_dir_all(skill.join("sub")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "host secret").unwrap();
        std::fs::write(skill.join("app.py"), "x = 1\n").unwrap();
        std::fs::write(skill.join("sub/data.txt"), "inside").unwrap();
        let link = |to: &str, at: &str| std::os::unix::fs::symlink(to, skill.join(at)).unwrap();
        link("../secret.txt", "leak.txt");
        link("/etc", "etc");
        link("sub/data.txt", "alias.txt");
        link("..", "up");
        let src = version_dir(PYTHON, &skill, &cache).unwrap().join("src");
        assert!(src.join("app.py").is_file());
        assert_eq!(
            std::fs::read_to_string(src.join("alias.txt")).unwrap(),
            "inside"
        );
        for gone in ["leak.txt", "etc", "up"] {
            assert!(!src.join(gone).exists(), "{gone} was followed");
        }
    }

    #[test]
    fn a_superseded_version_is_kept_until_its_grace_period_ends() {
        let dir = tempfile::tempdir().unwrap();
        let (skill, cache) = (dir.path().join("skill"), dir.path().join("cache"));
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(skill.join("app.py"), "x = 1\n").unwrap();
        let v1 = version_dir(PYTHON, &skill, &cache).unwrap();
        mark_current(&v1);
        // v1 loaded long ago: backdate it, as a long-running workspace would have it.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::open(&v1).unwrap().set_modified(old).unwrap();
        std::fs::write(skill.join("app.py"), "x = 22\n").unwrap();
        let v2 = version_dir(PYTHON, &skill, &cache).unwrap();
        assert!(
            v1.is_dir(),
            "taking a new snapshot removes nothing (its load may fail)"
        );
        mark_current(&v2);
        assert!(
            v1.is_dir(),
            "just superseded: kept for calls still running on it"
        );
        std::fs::File::open(&v1).unwrap().set_modified(old).unwrap();
        mark_current(&v2);
        assert!(!v1.exists(), "superseded long ago: removed");
        assert!(v2.is_dir());
    }

    #[test]
    fn an_oversized_folder_is_refused_naming_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (skill, cache) = (dir.path().join("skill"), dir.path().join("cache"));
        let mut deep = skill.clone();
        for _ in 0..=MAX_DEPTH + 1 {
            deep = deep.join("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(skill.join("app.py"), "x = 1\n").unwrap();
        let err = format!("{:#}", version_dir(PYTHON, &skill, &cache).unwrap_err());
        assert!(err.contains("nested deeper than"), "{err}");
    }
}
