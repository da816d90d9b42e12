//! Unpacking a content layer, which is untrusted input: only regular files and folders, only
//! relative paths that stay inside the package (no `..`, no absolute paths, no links of any
//! kind, no devices), within the entry count, depth and byte budgets of [`Limits`]. Files are
//! created fresh (never through an existing path) in a folder this process just made.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use crate::limits::Limits;

/// Why an entry was refused: the entry's name (escaped) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The entry as named in the tar, escaped (control characters as `\u{…}`).
    pub entry: String,
    /// Why it was refused.
    pub reason: String,
}

impl Refusal {
    fn new(entry: &str, reason: impl Into<String>) -> Self {
        Refusal {
            entry: entry.escape_debug().to_string(),
            reason: reason.into(),
        }
    }
}

/// What was unpacked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Unpacks the tar.gz `layer` into `dest`, which must not exist yet (it is created). On a
/// refusal `dest` may hold part of the content: the caller removes it.
pub fn unpack(layer: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked, Refusal> {
    std::fs::create_dir(dest).map_err(|e| Refusal::new(".", format!("cannot create: {e}")))?;
    let capped = Capped {
        inner: GzDecoder::new(layer),
        left: limits.max_decompressed_bytes,
    };
    let mut archive = tar::Archive::new(capped);
    let entries = archive
        .entries()
        .map_err(|e| Refusal::new("(layer)", format!("is not a tar.gz: {e}")))?;
    let mut done = Unpacked::default();
    let mut count = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| layer_error(e, limits))?;
        let raw = entry.path_bytes();
        if raw.len() > limits.max_path_bytes {
            return Err(Refusal::new(
                &String::from_utf8_lossy(&raw[..raw.len().min(64)]),
                format!(
                    "(cut) has a path of {} bytes, more than the {} allowed",
                    raw.len(),
                    limits.max_path_bytes
                ),
            ));
        }
        let name = String::from_utf8_lossy(&raw).into_owned();
        count += 1;
        if count > limits.max_entries {
            return Err(Refusal::new(
                &name,
                format!(
                    "is past the {} entries a package may hold",
                    limits.max_entries
                ),
            ));
        }
        let rel = checked_path(&name, limits)?;
        let kind = entry.header().entry_type();
        let target = dest.join(&rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&target)
                .map_err(|e| Refusal::new(&name, format!("cannot be created: {e}")))?;
            continue;
        }
        if !kind.is_file() {
            return Err(Refusal::new(&name, refusal_for(kind)));
        }
        let size = entry
            .header()
            .size()
            .map_err(|e| Refusal::new(&name, format!("has a bad size: {e}")))?;
        done.bytes = done.bytes.saturating_add(size);
        if done.bytes > limits.max_unpacked_bytes {
            return Err(Refusal::new(
                &name,
                format!(
                    "takes the package past {} unpacked bytes, the most it may hold",
                    limits.max_unpacked_bytes
                ),
            ));
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        write_file(&mut entry, &target, size, mode)
            .map_err(|e| Refusal::new(&name, e.replace(CAP_MARKER, &decompressed_past(limits))))?;
        done.files += 1;
    }
    Ok(done)
}

/// The text of the error [`Capped`] returns past its budget (recognised in errors tar wraps).
const CAP_MARKER: &str = "decompressed-bytes budget exhausted";

/// A reader that fails once more than `left` bytes have been read through it: the layer's
/// decompressed stream, so every byte tar reads (headers, extension headers, contents) counts
/// against [`Limits::max_decompressed_bytes`] as it streams.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more than the budget tells a full budget from the end of the stream.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(CAP_MARKER)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn decompressed_past(limits: &Limits) -> String {
    format!(
        "takes the layer past {} decompressed bytes, the most it may hold",
        limits.max_decompressed_bytes
    )
}

/// A tar-level error as a refusal (the decompressed-bytes budget named when that was it).
fn layer_error(e: std::io::Error, limits: &Limits) -> Refusal {
    if format!("{e:?}").contains(CAP_MARKER) {
        Refusal::new("(layer)", decompressed_past(limits))
    } else {
        Refusal::new("(layer)", format!("is not a valid tar.gz: {e}"))
    }
}

/// The entry's path as a relative path of plain names, or why not.
fn checked_path(name: &str, limits: &Limits) -> Result<PathBuf, Refusal> {
    let path = Path::new(name);
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(Refusal::new(
                    name,
                    "climbs out of the package (`..` in its path)",
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Refusal::new(name, "is an absolute path"))
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(Refusal::new(name, "has an empty path"));
    }
    if rel.components().count() > limits.max_depth {
        return Err(Refusal::new(
            name,
            format!("is nested deeper than {} folders", limits.max_depth),
        ));
    }
    Ok(rel)
}

fn refusal_for(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "is a symbolic link; a package holds regular files only",
        tar::EntryType::Link => "is a hard link; a package holds regular files only",
        tar::EntryType::Char | tar::EntryType::Block => "is a device file",
        tar::EntryType::Fifo => "is a FIFO",
        _ => "is not a regular file or a folder",
    }
}

/// Writes exactly `size` bytes of `from` to a new file at `target` (never an existing path).
fn write_file(from: &mut impl Read, target: &Path, size: u64, mode: u32) -> Result<(), String> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot be created: {e}"))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(target).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => "appears twice in the package".to_owned(),
        _ => format!("cannot be created: {e}"),
    })?;
    let copied = std::io::copy(&mut from.take(size), &mut file)
        .map_err(|e| format!("cannot be written: {e}"))?;
    if copied != size {
        return Err(format!("is cut short ({copied} of {size} bytes)"));
    }
    Ok(())
}

/// True when the runtime could build `dir` with cargo on the host: a `Cargo.toml` without a
/// `tool.wasm` beside it (the runtime's `skill_dir.rs` prefers `tool.wasm`, then
/// `<folder>.wasm`, then builds the crate; only `tool.wasm` is taken as proof here, since the
/// folder's name changes when a package is unpacked).
pub(crate) fn would_build_on_host(dir: &Path) -> bool {
    dir.join("Cargo.toml").exists() && !dir.join("tool.wasm").is_file()
}

/// What a layer holds, as a path → content map: `Some(sha256 hex)` for a file, `None` for a
/// folder (every ancestor of an entry included). Read under the same checks and budgets as
/// [`unpack`]; used to verify an unpacked folder before it is reused.
pub(crate) type Listing = std::collections::BTreeMap<PathBuf, Option<String>>;

/// The [`Listing`] of the tar.gz `layer`.
pub(crate) fn layer_listing(layer: impl Read, limits: &Limits) -> Result<Listing, Refusal> {
    let capped = Capped {
        inner: GzDecoder::new(layer),
        left: limits.max_decompressed_bytes,
    };
    let mut archive = tar::Archive::new(capped);
    let entries = archive
        .entries()
        .map_err(|e| Refusal::new("(layer)", format!("is not a tar.gz: {e}")))?;
    let mut listing = Listing::new();
    for (count, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| layer_error(e, limits))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if count as u64 >= limits.max_entries || name.len() > limits.max_path_bytes {
            return Err(Refusal::new(&name, "is past the package's budgets"));
        }
        let rel = checked_path(&name, limits)?;
        for ancestor in rel.ancestors().skip(1) {
            if !ancestor.as_os_str().is_empty() {
                listing.insert(ancestor.to_owned(), None);
            }
        }
        if entry.header().entry_type().is_dir() {
            listing.insert(rel, None);
            continue;
        }
        let hash = sha256_of(&mut entry).map_err(|e| layer_error(e, limits))?;
        listing.insert(rel, Some(hash));
    }
    Ok(listing)
}

/// The [`Listing`] of the folder `dir` as it is on disk; `None` when it holds anything but
/// regular files and folders (a link, a device) or cannot be read.
pub(crate) fn folder_listing(dir: &Path) -> Option<Listing> {
    let mut listing = Listing::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for item in std::fs::read_dir(dir.join(&rel)).ok()? {
            let item = item.ok()?;
            let path = rel.join(item.file_name());
            let kind = item.file_type().ok()?;
            if kind.is_dir() {
                listing.insert(path.clone(), None);
                todo.push(path);
            } else if kind.is_file() {
                let mut file = std::fs::File::open(dir.join(&path)).ok()?;
                listing.insert(path, Some(sha256_of(&mut file).ok()?));
            } else {
                return None;
            }
        }
    }
    Some(listing)
}

/// The SHA-256 (hex) of everything `from` yields.
fn sha256_of(from: &mut impl Read) -> std::io::Result<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(from, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
