//! The content-addressed blob store of the package cache (`<cache>/blobs/sha256/<hex>`): a
//! blob is fetched once, streamed to a temporary file within its size budget, hashed on the
//! way, and moved into place only when its SHA-256 matches the digest that names it. A cached
//! blob is hashed again before every use, so a changed file in the cache is fetched anew.

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use oci_client::manifest::OciDescriptor;
use oci_client::Client;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::error::PackageError;
use crate::reference::PackageRef;

/// The hex part of a `sha256:<64 hex>` digest, or `None` for any other form.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(hex)
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The cached blob `digest` (fetching it when absent or changed), within `max` bytes.
pub(crate) async fn fetch(
    client: &Client,
    reference: &PackageRef,
    manifest_digest: &str,
    descriptor: &OciDescriptor,
    max: u64,
    cache: &Path,
) -> Result<PathBuf, PackageError> {
    let invalid = |reason: String| PackageError::Invalid {
        reference: reference.written.clone(),
        digest: manifest_digest.to_owned(),
        reason,
    };
    let hex = sha256_hex(&descriptor.digest)
        .ok_or_else(|| invalid(format!("blob digest `{}` is not sha256", descriptor.digest)))?;
    let size = u64::try_from(descriptor.size).unwrap_or(u64::MAX);
    if size > max {
        return Err(invalid(format!(
            "blob {} is {size} bytes, more than the {max} allowed",
            descriptor.digest
        )));
    }
    let dir = cache.join("blobs").join("sha256");
    let path = dir.join(hex);
    if path.is_file() && file_digest(&path)? == descriptor.digest {
        return Ok(path);
    }
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| PackageError::io(&dir, "creating the package cache", e))?;
    // A unique temporary file beside the blob (removed on drop unless persisted): concurrent
    // pulls of one blob, in this process or another, never write the same file.
    let partial = tempfile::Builder::new()
        .prefix(&format!("{hex}.partial-"))
        .tempfile_in(&dir)
        .map_err(|e| PackageError::io(&dir, "creating a temporary file in", e))?
        .into_temp_path();
    let actual = download(client, reference, descriptor, size, &partial).await?;
    if actual != descriptor.digest {
        return Err(PackageError::DigestMismatch {
            reference: reference.written.clone(),
            what: format!("blob {}", descriptor.digest),
            expected: descriptor.digest.clone(),
            actual,
        });
    }
    partial
        .persist(&path)
        .map_err(|e| PackageError::io(&path, "storing the blob", e.error))?;
    Ok(path)
}

/// Streams the blob to `to`, refusing more than `size` bytes; returns its digest.
async fn download(
    client: &Client,
    reference: &PackageRef,
    descriptor: &OciDescriptor,
    size: u64,
    to: &Path,
) -> Result<String, PackageError> {
    let registry_error = |reason: String| PackageError::Registry {
        reference: reference.written.clone(),
        reason: format!("blob {}: {reason}", descriptor.digest),
    };
    let mut stream = client
        .pull_blob_stream(&reference.reference, descriptor)
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(to)
        .await
        .map_err(|e| PackageError::io(to, "writing", e))?;
    let (mut hasher, mut got) = (Sha256::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            // oci-client checks the digest itself at the end of the stream: with every byte
            // in, our own hash tells the caller (a mismatch names both digests).
            Err(_) if got == size => break,
            Err(e) => return Err(registry_error(e.to_string())),
        };
        got = got.saturating_add(chunk.len() as u64);
        if got > size {
            return Err(registry_error(format!(
                "the registry sent more than the {size} bytes its descriptor says"
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| PackageError::io(to, "writing", e))?;
    }
    file.flush()
        .await
        .map_err(|e| PackageError::io(to, "writing", e))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// The bytes of the cache file at `path` when it is a regular file of at most `max` bytes;
/// `None` when absent, not a regular file (a symlink is not followed), unreadable or larger.
/// The read is bounded (`take(max + 1)`) through the one handle whose metadata was checked.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    if !std::fs::symlink_metadata(path).ok()?.file_type().is_file() {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

/// The cached blob of `descriptor`, when present, within `max` bytes and still hashing to its
/// digest (the offline path of a pinned pull); `None` otherwise.
pub(crate) fn cached(cache: &Path, descriptor: &OciDescriptor, max: u64) -> Option<PathBuf> {
    let path = cache
        .join("blobs")
        .join("sha256")
        .join(sha256_hex(&descriptor.digest)?);
    let size = std::fs::metadata(&path).ok()?.len();
    (size <= max && file_digest(&path).ok()? == descriptor.digest).then_some(path)
}

/// Keeps `bytes` (already hashed to `digest`: a verified manifest) in the blob store, through
/// a unique temporary file renamed into place.
pub(crate) fn store(cache: &Path, digest: &str, bytes: &[u8]) -> Result<PathBuf, PackageError> {
    let dir = cache.join("blobs").join("sha256");
    let path = dir.join(sha256_hex(digest).unwrap_or("unknown"));
    write_atomic(&dir, &path, bytes)?;
    Ok(path)
}

/// Writes `bytes` to `path` through a unique temporary file in `dir` renamed into place.
pub(crate) fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| PackageError::io(dir, "creating", e))?;
    let mut file = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(|e| PackageError::io(dir, "creating a temporary file in", e))?;
    file.write_all(bytes)
        .map_err(|e| PackageError::io(file.path(), "writing", e))?;
    file.persist(path)
        .map_err(|e| PackageError::io(path, "writing", e.error))?;
    Ok(())
}

/// `sha256:<hex>` of the file at `path`.
fn file_digest(path: &Path) -> Result<String, PackageError> {
    let mut file = std::fs::File::open(path).map_err(|e| PackageError::io(path, "reading", e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| PackageError::io(path, "reading", e))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// A small blob (a signature payload) read into memory within `max` bytes and hashed against
/// its descriptor; the error says which blob and why.
pub(crate) async fn fetch_small(
    client: &Client,
    reference: &oci_client::Reference,
    descriptor: &OciDescriptor,
    max: u64,
) -> Result<Vec<u8>, String> {
    let size = u64::try_from(descriptor.size).unwrap_or(u64::MAX);
    if size > max {
        return Err(format!(
            "blob {} is {size} bytes, more than the {max} allowed",
            descriptor.digest.escape_debug()
        ));
    }
    let mut stream = client
        .pull_blob_stream(reference, descriptor)
        .await
        .map_err(|e| format!("blob {}: {e}", descriptor.digest.escape_debug()))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            // oci-client checks the digest at the end of the stream; ours follows.
            Err(_) if bytes.len() as u64 == size => break,
            Err(e) => return Err(format!("blob {}: {e}", descriptor.digest.escape_debug())),
        }
        if bytes.len() as u64 > size {
            return Err(format!(
                "blob {}: the registry sent more than the {size} bytes its descriptor says",
                descriptor.digest.escape_debug()
            ));
        }
    }
    if digest_of(&bytes) != descriptor.digest {
        return Err(format!(
            "blob {} does not match its digest",
            descriptor.digest.escape_debug()
        ));
    }
    Ok(bytes)
}
