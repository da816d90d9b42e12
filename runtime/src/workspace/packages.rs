//! The skill packages of a plan: each `skills:` entry that is an OCI reference pulled into the
//! package cache and verified (manifest digest, `packages.signatures` with
//! `packages.trusted_keys`, every blob) before any of it loads. Boot and `check` run this
//! before the skill registry is made; the registry loads the unpacked folders like folder
//! skills, ahead of `skills/` (a local folder never shadows a pinned package).

use std::path::PathBuf;

use molecule_config::{is_package_reference, SignaturePolicy as ConfigPolicy};
use molecule_packages::{
    PackageError, PackageRef, PullOptions, PulledSkill, SignaturePolicy, SignatureStatus,
    TrustedKey,
};

use crate::plan::Plan;
use crate::redact::escape;

/// The pull options of `plan`: its `packages` section, the cache under the data folder
/// unless `packages.cache_dir` is set, trusted keys loaded (an unreadable key file is an
/// error naming it).
pub fn pull_options(plan: &Plan) -> Result<PullOptions, PackageError> {
    let packages = &plan.config.packages;
    let trusted_keys = packages
        .trusted_keys
        .iter()
        .map(|path| TrustedKey::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PullOptions {
        cache_dir: cache_dir(plan),
        policy: match packages.signatures {
            ConfigPolicy::Require => SignaturePolicy::Require,
            ConfigPolicy::Warn => SignaturePolicy::Warn,
            ConfigPolicy::Off => SignaturePolicy::Off,
        },
        trusted_keys,
        insecure_registries: packages.insecure_registries.clone(),
        limits: Default::default(),
    })
}

/// `packages.cache_dir`, else `<data dir>/packages`.
pub fn cache_dir(plan: &Plan) -> PathBuf {
    plan.config
        .packages
        .cache_dir
        .clone()
        .unwrap_or_else(|| plan.data_dir.join("packages"))
}

/// Pulls and verifies every package `plan` names, in `skills:` order; the first refusal is
/// the error (the workspace must not start without a package it was told to load).
pub async fn pull_packages(plan: &Plan) -> Result<Vec<PulledSkill>, PackageError> {
    let entries: Vec<&String> = plan
        .config
        .skills
        .iter()
        .filter(|s| is_package_reference(s))
        .collect();
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let options = pull_options(plan)?;
    let mut pulled = Vec::new();
    for entry in entries {
        let reference = PackageRef::parse(entry)?;
        let skill = molecule_packages::pull(&reference, &options).await?;
        log_pulled(&skill);
        pulled.push(skill);
    }
    Ok(pulled)
}

/// One line per package: its digest and signature status; a warning for a tag (not pinned)
/// and for a signature that did not verify under `warn`.
fn log_pulled(skill: &PulledSkill) {
    let origin = &skill.origin;
    let reference = escape(&origin.reference);
    if !origin.pinned {
        tracing::warn!(
            reference = %reference,
            digest = %origin.digest,
            "skill package named by a tag, not a digest: resolved to {}; pin it to load the same \
             content every time",
            origin.digest
        );
    }
    match &origin.signature {
        SignatureStatus::UnsignedWarned { reason } => tracing::warn!(
            reference = %reference,
            digest = %origin.digest,
            reason = %escape(reason),
            "skill package loaded without a verified signature (packages.signatures: warn)"
        ),
        status => tracing::info!(
            reference = %reference,
            digest = %origin.digest,
            skill = %skill.id,
            "skill package verified: {status}"
        ),
    }
}
