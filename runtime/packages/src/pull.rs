//! `pull`: a package fetched by reference into the cache and checked before anything of it is
//! used — the manifest's bytes against the pinned digest, its media types, the signature
//! policy, every blob against its digest — then its content layer unpacked safely into
//! `<cache>/skills/sha256-<hex>/<id>/`, the folder the runtime loads like any skill folder.

use std::path::{Path, PathBuf};

use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::manifest::OciImageManifest;
use oci_client::Client;

use crate::blobs::{digest_of, fetch};
use crate::cache::unpacked;
use crate::error::PackageError;
use crate::keys::TrustedKey;
use crate::limits::Limits;
use crate::media_types::{
    ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CONTENT_MEDIA_TYPE, MANIFEST_MEDIA_TYPE,
};
use crate::origin::SkillOrigin;
use crate::pack::SkillConfig;
use crate::reference::{client, PackageRef};
use crate::signatures::{check, SignaturePolicy, SignatureStatus};

/// How to pull: where the cache is, the signature policy and keys, the registries reached
/// over plain HTTP besides the loopback, and the budgets.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The cache folder (`packages.cache_dir`).
    pub cache_dir: PathBuf,
    /// `packages.signatures`.
    pub policy: SignaturePolicy,
    /// `packages.trusted_keys`, loaded.
    pub trusted_keys: Vec<TrustedKey>,
    /// `packages.insecure_registries` (`host:port`).
    pub insecure_registries: Vec<String>,
    /// Budgets for the package.
    pub limits: Limits,
}

/// A pulled, verified and unpacked package.
#[derive(Debug, Clone)]
pub struct PulledSkill {
    /// The skill id it loads as ([`PackageRef::skill_id`]).
    pub id: String,
    /// The unpacked skill folder (holds `SKILL.md`).
    pub dir: PathBuf,
    /// Its config blob.
    pub config: SkillConfig,
    /// Where it came from and what its signature check found.
    pub origin: SkillOrigin,
}

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
    if let Some(skill) = crate::offline::from_cache(reference, options)? {
        return Ok(skill);
    }
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
        &paths[1],
        checked.status,
        options,
    )?;
    crate::blobs::store(cache, &digest, &bytes)?;
    if let Some(record) = &checked.record {
        crate::offline::keep_record(cache, &digest, record)?;
    }
    Ok(skill)
}

/// The pulled skill from its verified config and layer blobs: the config read and matched to
/// the skill id, the layer unpacked (or its cached folder verified).
pub(crate) fn finish(
    reference: &PackageRef,
    digest: &str,
    config_path: &Path,
    layer_path: &Path,
    signature: SignatureStatus,
    options: &PullOptions,
) -> Result<PulledSkill, PackageError> {
    let config = read_config(config_path, reference, digest)?;
    let id = reference.skill_id().to_owned();
    let cache = &options.cache_dir;
    let dir = unpacked(layer_path, reference, digest, &id, cache, &options.limits)?;
    if config.name != id {
        return Err(PackageError::Invalid {
            reference: reference.written.clone(),
            digest: digest.to_owned(),
            reason: format!(
                "its config names skill `{}`, but it would load as `{id}` (the last component \
                 of its repository, which grants are keyed by): push it to a repository \
                 ending in `/{}`",
                config.name.escape_debug(),
                config.name.escape_debug()
            ),
        });
    }
    Ok(PulledSkill {
        id,
        dir,
        config,
        origin: SkillOrigin {
            reference: reference.written.clone(),
            digest: digest.to_owned(),
            pinned: reference.digest().is_some(),
            signature,
        },
    })
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

/// The manifest `bytes` (hashing to `digest`) parsed and checked: within the manifest
/// budget, with our media types and exactly one content layer.
pub(crate) fn validate_manifest(
    bytes: &[u8],
    reference: &PackageRef,
    digest: &str,
    limits: &Limits,
) -> Result<OciImageManifest, PackageError> {
    let invalid = |reason: String| PackageError::Invalid {
        reference: reference.written.clone(),
        digest: digest.to_owned(),
        reason,
    };
    if bytes.len() as u64 > limits.max_manifest_bytes {
        return Err(invalid(format!(
            "its manifest is {} bytes, more than the {} allowed",
            bytes.len(),
            limits.max_manifest_bytes
        )));
    }
    let manifest: OciImageManifest = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("its manifest is not an OCI image manifest: {e}")))?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(invalid(format!(
            "its artifactType is {:?}, not `{ARTIFACT_TYPE}`",
            manifest.artifact_type
        )));
    }
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(invalid(format!(
            "its config's mediaType is `{}`, not `{CONFIG_MEDIA_TYPE}`",
            manifest.config.media_type.escape_debug()
        )));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == CONTENT_MEDIA_TYPE => Ok(manifest),
        _ => Err(invalid(format!(
            "it must have exactly one layer of mediaType `{CONTENT_MEDIA_TYPE}`"
        ))),
    }
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

fn read_config(
    path: &Path,
    reference: &PackageRef,
    digest: &str,
) -> Result<SkillConfig, PackageError> {
    let bytes = std::fs::read(path).map_err(|e| PackageError::io(path, "reading", e))?;
    serde_json::from_slice(&bytes).map_err(|e| PackageError::Invalid {
        reference: reference.written.clone(),
        digest: digest.to_owned(),
        reason: format!("its config blob is not a skill config: {e}"),
    })
}
