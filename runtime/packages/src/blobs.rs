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
    let partial = dir.join(format!("{hex}.partial-{}", std::process::id()));
    let result = download(client, reference, descriptor, size, &partial).await;
    let actual = match result {
        Ok(actual) => actual,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    if actual != descriptor.digest {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(PackageError::DigestMismatch {
            reference: reference.written.clone(),
            what: format!("blob {}", descriptor.digest),
            expected: descriptor.digest.clone(),
            actual,
        });
    }
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(|e| PackageError::io(&path, "storing the blob", e))?;
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
    let mut file = tokio::fs::File::create(to)
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

/// `sha256:<hex>` of the file at `path`.
fn file_digest(path: &Path) -> Result<String, PackageError> {
    let mut file = std::fs::File::open(path).map_err(|e| PackageError::io(path, "reading", e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| PackageError::io(path, "reading", e))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}
