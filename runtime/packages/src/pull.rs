//! `pull`: a package fetched by reference into the cache and checked before anything of it is
//! used — the manifest's bytes against the pinned digest, its media types, the signature
//! policy, every blob against its digest — then its content layer unpacked safely into
//! `<cache>/skills/sha256-<hex>/<id>/`, the folder the runtime loads like any skill folder.

use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::Client;

use crate::blobs::{digest_of, fetch};
use crate::error::PackageError;
use crate::media_types::MANIFEST_MEDIA_TYPE;
use crate::offline::Cached;
use crate::reference::{client, PackageRef};
use crate::signatures::check;
use crate::verified::{finish, validate_manifest};
pub use crate::verified::{PullOptions, PulledSkill};

/// Pulls `reference` into the cache under `options` and returns the verified skill folder.
///
/// A reference pinned by digest whose manifest, blobs and (unless the policy is `off`)
/// verified signature layer are all in the cache is served from there without the registry
/// (`crate::offline`): every piece hashed again, the signature verified again with the
/// trusted keys. Anything else goes to the registry.
pub async fn pull(
    reference: &PackageRef,
    options: &PullOptions,
) -> Result<PulledSkill, PackageError> {
    let stale = match crate::offline::from_cache(reference, options)? {
        Cached::Hit(skill) => return Ok(*skill),
        Cached::Miss => None,
        Cached::Stale(why) => Some(why),
    };
    from_registry(reference, options)
        .await
        .map_err(|error| match (error, stale) {
            (PackageError::Registry { reference, reason }, Some(why)) => PackageError::Registry {
                reference,
                reason: format!("{reason}; {why}"),
            },
            (error, _) => error,
        })
}

/// The registry half of [`pull`]: manifest, signature check, blobs, unpack, cache.
async fn from_registry(
    reference: &PackageRef,
    options: &PullOptions,
) -> Result<PulledSkill, PackageError> {
    let limits = &options.limits;
    let cache = &options.cache_dir;
    let client = client(&reference.reference, &options.insecure_registries);
    let (bytes, digest) = manifest_bytes(&client, reference).await?;
    let manifest = validate_manifest(&bytes, reference, &digest, limits)?;
    let checked = check(
        reference,
        &digest,
        options.policy,
        &options.trusted_keys,
        &options.insecure_registries,
        limits,
    )
    .await?;
    let pinned = PackageRef {
        written: reference.written.clone(),
        reference: reference.pinned(&digest),
    };
    let mut paths = Vec::new();
    for (descriptor, max) in [
        (&manifest.config, limits.max_config_bytes),
        (&manifest.layers[0], limits.max_layer_bytes),
    ] {
        paths.push(fetch(&client, &pinned, &digest, descriptor, max, cache).await?);
    }
    let skill = finish(
        reference,
        &digest,
        &paths[0],
        (&paths[1], &manifest.layers[0].digest),
        checked.status,
        options,
    )?;
    crate::blobs::store(cache, &digest, &bytes)?;
    if let Some(record) = &checked.record {
        crate::offline::keep_record(cache, &digest, record)?;
    }
    Ok(skill)
}

/// The manifest's bytes and their digest (checked against the pinned one).
async fn manifest_bytes(
    client: &Client,
    reference: &PackageRef,
) -> Result<(Vec<u8>, String), PackageError> {
    let auth = crate::auth::for_reference(&reference.reference)?;
    let (bytes, _) = client
        .pull_manifest_raw(&reference.reference, &auth, &[MANIFEST_MEDIA_TYPE])
        .await
        .map_err(|e| manifest_error(reference, e))?;
    let digest = digest_of(&bytes);
    if let Some(pinned) = reference.digest() {
        if pinned != digest {
            return Err(PackageError::DigestMismatch {
                reference: reference.written.clone(),
                what: "the manifest".to_owned(),
                expected: pinned.to_owned(),
                actual: digest,
            });
        }
    }
    Ok((bytes.to_vec(), digest))
}

/// A registry error, or (when oci-client's own check found the manifest's bytes do not hash to
/// the pinned digest) a [`PackageError::DigestMismatch`].
fn manifest_error(reference: &PackageRef, error: OciDistributionError) -> PackageError {
    match error {
        OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
            PackageError::DigestMismatch {
                reference: reference.written.clone(),
                what: "the manifest".to_owned(),
                expected,
                actual,
            }
        }
        other => PackageError::Registry {
            reference: reference.written.clone(),
            reason: other.to_string(),
        },
    }
}
