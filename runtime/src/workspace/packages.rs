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
    let references = entries
        .iter()
        .map(|entry| PackageRef::parse(entry))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique_ids(plan, &references)?;
    let options = pull_options(plan)?;
    let mut pulled = Vec::new();
    for reference in references {
        let skill = molecule_packages::pull(&reference, &options).await?;
        log_pulled(&skill);
        pulled.push(skill);
    }
    Ok(pulled)
}

/// Every package loads as its own skill id: no two references end in the same name, and no
/// skill folder under a skill root or of a plugin (`plugins/<name>/skills/<id>/` or a plugin
/// manifest `skills` entry) has it (either would silently shadow the other).
fn check_unique_ids(plan: &Plan, references: &[PackageRef]) -> Result<(), PackageError> {
    let duplicate = |id: &str, first: String, second: String| PackageError::DuplicateSkill {
        // The first skill root is `<config dir>/skills`, beside config.yaml.
        config: plan
            .skill_roots
            .first()
            .and_then(|root| root.parent())
            .map(|dir| dir.join("config.yaml").display().to_string())
            .unwrap_or_else(|| "config.yaml".to_owned()),
        id: escape(id),
        first,
        second,
    };
    for (i, reference) in references.iter().enumerate() {
        let id = reference.skill_id();
        let this = format!("package {}", escape(&reference.written));
        if let Some(other) = references[..i].iter().find(|r| r.skill_id() == id) {
            let first = format!("package {}", escape(&other.written));
            return Err(duplicate(id, first, this));
        }
        for root in &plan.skill_roots {
            let folder = root.join(id);
            if folder.join("SKILL.md").is_file() {
                let second = format!("the local folder {}", folder.display());
                return Err(duplicate(id, this, second));
            }
        }
        if let Some(second) = plugin_skill(plan, id) {
            return Err(duplicate(id, this, second));
        }
    }
    Ok(())
}

/// The plugin skill folder that loads as `id` (its folder name, as the registry admits it),
/// described as `the skill folder <dir> of plugin <name>`.
fn plugin_skill(plan: &Plan, id: &str) -> Option<String> {
    plan.plugins.plugins.iter().find_map(|plugin| {
        plugin
            .skill_dirs
            .iter()
            .find(|dir| {
                dir.file_name().and_then(|n| n.to_str()) == Some(id)
                    && dir.join("SKILL.md").is_file()
            })
            .map(|dir| {
                format!(
                    "the skill folder {} of plugin {}",
                    dir.display(),
                    escape(&plugin.name)
                )
            })
    })
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
