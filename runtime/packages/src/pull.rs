//! `pull`: a package fetched by reference into the cache and checked before anything of it is
//! used — the manifest's bytes against the pinned digest, its media types, the signature
//! policy, every blob against its digest — then its content layer unpacked safely into
//! `<cache>/skills/sha256-<hex>/<id>/`, the folder the runtime loads like any skill folder.

use std::path::{Path, PathBuf};

use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::Client;

use crate::blobs::{digest_of, fetch, sha256_hex};
use crate::error::PackageError;
use crate::keys::TrustedKey;
use crate::limits::Limits;
use crate::media_types::{
    ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CONTENT_MEDIA_TYPE, MANIFEST_MEDIA_TYPE,
};
use crate::origin::SkillOrigin;
use crate::pack::SkillConfig;
use crate::reference::{client, PackageRef};
use crate::signatures::{check, SignaturePolicy};
use crate::unpack::unpack;

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
pub async fn pull(
    reference: &PackageRef,
    options: &PullOptions,
) -> Result<PulledSkill, PackageError> {
    let client = client(&reference.reference, &options.insecure_registries);
    let (manifest, digest) = manifest(&client, reference, &options.limits).await?;
    let signature = check(
        reference,
        &digest,
        options.policy,
        &options.trusted_keys,
        &options.insecure_registries,
    )
    .await?;
    let pinned = PackageRef {
        written: reference.written.clone(),
        reference: reference.pinned(&digest),
    };
    let limits = &options.limits;
    let cache = &options.cache_dir;
    let config_path = fetch(
        &client,
        &pinned,
        &digest,
        &manifest.config,
        limits.max_config_bytes,
        cache,
    )
    .await?;
    let config = read_config(&config_path, reference, &digest)?;
    let layer = &manifest.layers[0];
    let layer_path = fetch(
        &client,
        &pinned,
        &digest,
        layer,
        limits.max_layer_bytes,
        cache,
    )
    .await?;
    let id = reference.skill_id().to_owned();
    let dir = unpacked(&layer_path, reference, &digest, &id, options)?;
    Ok(PulledSkill {
        id,
        dir,
        config,
        origin: SkillOrigin {
            reference: reference.written.clone(),
            digest,
            pinned: reference.digest().is_some(),
            signature,
        },
    })
}

/// The manifest and its digest (checked against the pinned one), within the manifest budget,
/// with our media types and exactly one content layer.
async fn manifest(
    client: &Client,
    reference: &PackageRef,
    limits: &Limits,
) -> Result<(OciImageManifest, String), PackageError> {
    let (bytes, _) = client
        .pull_manifest_raw(
            &reference.reference,
            &RegistryAuth::Anonymous,
            &[MANIFEST_MEDIA_TYPE],
        )
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
    let invalid = |reason: String| PackageError::Invalid {
        reference: reference.written.clone(),
        digest: digest.clone(),
        reason,
    };
    if bytes.len() as u64 > limits.max_manifest_bytes {
        return Err(invalid(format!(
            "its manifest is {} bytes, more than the {} allowed",
            bytes.len(),
            limits.max_manifest_bytes
        )));
    }
    let manifest: OciImageManifest = serde_json::from_slice(&bytes)
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
        [layer] if layer.media_type == CONTENT_MEDIA_TYPE => Ok((manifest, digest)),
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

/// The unpacked folder `<cache>/skills/sha256-<hex>/<id>`, unpacking the layer the first time
/// (into a fresh folder, moved into place only when complete).
fn unpacked(
    layer: &Path,
    reference: &PackageRef,
    digest: &str,
    id: &str,
    options: &PullOptions,
) -> Result<PathBuf, PackageError> {
    let hex = sha256_hex(digest).unwrap_or("unknown");
    let parent = options
        .cache_dir
        .join("skills")
        .join(format!("sha256-{hex}"));
    let dest = parent.join(id);
    if dest.join("SKILL.md").is_file() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&parent).map_err(|e| PackageError::io(&parent, "creating", e))?;
    let partial = parent.join(format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let file = std::fs::File::open(layer).map_err(|e| PackageError::io(layer, "reading", e))?;
    let unpacked = unpack(std::io::BufReader::new(file), &partial, &options.limits);
    let done = unpacked.and_then(|_| {
        if !partial.join("SKILL.md").is_file() {
            return Err(crate::unpack::Refusal {
                entry: "SKILL.md".to_owned(),
                reason: "is missing: a skill package holds SKILL.md at its top".to_owned(),
            });
        }
        if crate::unpack::would_build_on_host(&partial) {
            return Err(crate::unpack::Refusal {
                entry: "Cargo.toml".to_owned(),
                reason: "is a Rust crate with no built component: a pulled package is never \
                         built on the host (its build scripts would run outside the sandbox); \
                         push it with its built `tool.wasm`"
                    .to_owned(),
            });
        }
        Ok(())
    });
    if let Err(refusal) = done {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(PackageError::Hostile {
            reference: reference.written.clone(),
            digest: digest.to_owned(),
            entry: refusal.entry,
            reason: refusal.reason,
        });
    }
    if std::fs::rename(&partial, &dest).is_err() {
        // Another process unpacked the same digest first: use it.
        let _ = std::fs::remove_dir_all(&partial);
    }
    Ok(dest)
}
