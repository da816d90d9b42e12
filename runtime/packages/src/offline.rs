//! A pinned package served from the cache without the registry: when the reference pins a
//! digest and the cache holds the manifest of that digest, its config and layer blobs, and
//! (unless `packages.signatures` is `off`) the signature layer that verified it, each piece is
//! hashed again, the signature is verified again against the trusted keys configured now, and
//! the unpacked folder is verified against the layer. Anything missing or not verifying sends
//! the pull to the registry instead (where a refusal is decided with the registry's answer). A
//! cached signature that no longer verifies with the keys configured now is remembered
//! ([`Cached::Stale`]) so that, when the registry is then unreachable, the refusal says so
//! (reference, digest, keys) besides the registry's error. Every cache file read is bounded.
//! A tag always goes to the registry: what it names may have moved.

use crate::blobs::{cached, read_bounded, sha256_hex};
use crate::cache::entry_dir;
use crate::error::PackageError;
use crate::reference::PackageRef;
use crate::signature_record::SignatureRecord;
use crate::signatures::{verified_by, SignaturePolicy, SignatureStatus};
use crate::verified::{finish, validate_manifest, PullOptions, PulledSkill};

/// The file of a cache entry that keeps its verified signature layer.
const RECORD_FILE: &str = "signature.json";

/// What the cache could answer for a reference.
#[derive(Debug)]
pub(crate) enum Cached {
    /// Served from the cache, verified.
    Hit(Box<PulledSkill>),
    /// Not (fully) cached: ask the registry.
    Miss,
    /// Cached, but its kept signature no longer verifies with the configured keys: ask the
    /// registry; the text (naming reference, digest and keys) goes with a registry error.
    Stale(String),
}

/// `reference` from the cache when it is pinned and everything it needs is cached and
/// verifies; otherwise [`Cached::Miss`] or [`Cached::Stale`] (the registry must be asked). An
/// error only for a cached manifest that hashes to the pinned digest yet is not a usable
/// package, or hostile content.
pub(crate) fn from_cache(
    reference: &PackageRef,
    options: &PullOptions,
) -> Result<Cached, PackageError> {
    let Some(digest) = reference.digest() else {
        return Ok(Cached::Miss);
    };
    let (cache, limits) = (&options.cache_dir, &options.limits);
    let Some(hex) = sha256_hex(digest) else {
        return Ok(Cached::Miss);
    };
    let manifest_path = cache.join("blobs").join("sha256").join(hex);
    let Some(bytes) = read_bounded(&manifest_path, limits.max_manifest_bytes) else {
        return Ok(Cached::Miss);
    };
    if crate::blobs::digest_of(&bytes) != digest {
        return Ok(Cached::Miss);
    }
    let manifest = validate_manifest(&bytes, reference, digest, limits)?;
    let signature = match options.policy {
        SignaturePolicy::Off => SignatureStatus::NotChecked,
        _ => {
            let record = SignatureRecord::load(&entry_dir(cache, digest).join(RECORD_FILE));
            match record.map(|r| r.verify(reference, digest, &options.trusted_keys)) {
                Some(Ok(key)) => verified_by(key),
                Some(Err(why)) => {
                    return Ok(Cached::Stale(stale(reference, digest, &why, options)))
                }
                None => return Ok(Cached::Miss),
            }
        }
    };
    let config = cached(cache, &manifest.config, limits.max_config_bytes);
    let layer = cached(cache, &manifest.layers[0], limits.max_layer_bytes);
    let (Some(config), Some(layer)) = (config, layer) else {
        return Ok(Cached::Miss);
    };
    finish(
        reference,
        digest,
        &config,
        (&layer, &manifest.layers[0].digest),
        signature,
        options,
    )
    .map(|skill| Cached::Hit(Box::new(skill)))
}

/// Why a cached signature record was not used: names the reference, the digest and the
/// configured keys (path and fingerprint), for the error shown when the registry fails too.
fn stale(reference: &PackageRef, digest: &str, why: &str, options: &PullOptions) -> String {
    let keys: Vec<String> = options.trusted_keys.iter().map(|k| k.describe()).collect();
    let keys = if keys.is_empty() {
        "none configured".to_owned()
    } else {
        keys.join(", ")
    };
    format!(
        "the cached signature of {} at {digest} did not verify with the configured keys \
         [{keys}] ({why}), so the registry was asked",
        reference.written.escape_debug()
    )
}

/// Keeps the signature layer that verified `digest` in its cache entry, for [`from_cache`].
pub(crate) fn keep_record(
    cache: &std::path::Path,
    digest: &str,
    record: &SignatureRecord,
) -> Result<(), PackageError> {
    let dir = entry_dir(cache, digest);
    let path = dir.join(RECORD_FILE);
    let json = serde_json::to_vec(record)
        .map_err(|e| PackageError::io(&path, "writing", std::io::Error::other(e.to_string())))?;
    crate::blobs::write_atomic(&dir, &path, &json)
}
