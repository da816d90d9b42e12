//! What a pulled package is and how its verified pieces become one: [`PullOptions`],
//! [`PulledSkill`], the manifest's checks (budget, media types, one content layer) and the
//! assembly of a skill from its digest-verified config and layer blobs (the config's name
//! matched to the skill id, the layer unpacked or its cached folder verified). Shared by the
//! registry path (`pull`) and the offline path (`offline`).

use std::path::{Path, PathBuf};

use oci_client::manifest::OciImageManifest;

use crate::cache::unpacked;
use crate::error::PackageError;
use crate::keys::TrustedKey;
use crate::limits::Limits;
use crate::media_types::{ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CONTENT_MEDIA_TYPE};
use crate::origin::SkillOrigin;
use crate::pack::SkillConfig;
use crate::reference::PackageRef;
use crate::signatures::{SignaturePolicy, SignatureStatus};

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

/// The pulled skill from its verified config and layer blobs: the config read and matched to
/// the skill id, the layer unpacked (or its cached folder verified).
pub(crate) fn finish(
    reference: &PackageRef,
    digest: &str,
    config_path: &Path,
    (layer_path, layer_digest): (&Path, &str),
    signature: SignatureStatus,
    options: &PullOptions,
) -> Result<PulledSkill, PackageError> {
    let config = read_config(config_path, reference, digest)?;
    let id = reference.skill_id().to_owned();
    let cache = &options.cache_dir;
    let dir = unpacked(
        layer_path,
        layer_digest,
        reference,
        digest,
        &id,
        cache,
        &options.limits,
    )?;
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
