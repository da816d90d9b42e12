//! The skill packages of `inspect`: each `skills:` entry that is an OCI reference resolved the
//! way boot and `check` resolve it (`molecule_packages::pull`: from the package cache when the
//! reference is pinned by digest and the cache holds every piece, re-hashed and re-verified;
//! from the registry otherwise), reported as its reference, manifest digest, pinned or not,
//! and signature status — or, when it cannot be pulled or verified, as the error.

use molecule_config::{is_package_reference, Unrequested};
use molecule_packages::{PackageRef, PulledSkill, SignatureStatus};
use molecule_runtime::plan::Plan;
use molecule_runtime::redact::escape;
use molecule_runtime::workspace::packages::pull_options;
use serde::Serialize;

/// A pulled skill's OCI origin (`null` for a local skill).
#[derive(Debug, Clone, Serialize)]
pub struct OciJson {
    /// The reference as written in config.yaml (`registry/org/skill@sha256:…` or a tag).
    pub reference: String,
    /// The manifest digest it resolved to and was verified against (`sha256:<64 hex>`).
    pub digest: String,
    /// Whether the reference pins that digest (`false`: a tag, resolved now; pin it).
    pub pinned: bool,
    /// The signature check's outcome under `packages.signatures`.
    pub signature: SignatureJson,
}

/// The outcome of the signature check (cosign-compatible keyed signature over the digest).
#[derive(Debug, Clone, Serialize)]
pub struct SignatureJson {
    /// `verified` (a trusted key verifies it), `unverified` (policy `warn`: no trusted key
    /// verifies a signature, loaded anyway) or `not-checked` (policy `off`). Under `require`
    /// a package without a verifying signature is a [`PackageErrorJson`] instead.
    pub status: &'static str,
    /// The trusted key file that verified it (`verified` only).
    pub key: Option<String>,
    /// `sha256:<hex>` of that key (`verified` only).
    pub fingerprint: Option<String>,
    /// Why it did not verify (`unverified` only).
    pub reason: Option<String>,
}

/// A package that could not be pulled or verified: it would stop the workspace from booting.
#[derive(Debug, Clone, Serialize)]
pub struct PackageErrorJson {
    /// The `skills:` entry as written.
    pub reference: String,
    /// Why (names the reference, the digest and the expected key where they apply).
    pub error: String,
}

/// The packages of `plan`, resolved: the verified skills (their folders load like any other)
/// and the references that failed, each with its error, in `skills:` order.
pub async fn resolve(plan: &Plan) -> (Vec<PulledSkill>, Vec<PackageErrorJson>) {
    let entries: Vec<&String> = plan
        .config
        .skills
        .iter()
        .filter(|s| is_package_reference(s))
        .collect();
    let (mut pulled, mut errors) = (Vec::new(), Vec::new());
    if entries.is_empty() {
        return (pulled, errors);
    }
    let fail = |entry: &str, error: String| PackageErrorJson {
        reference: escape(entry),
        error: escape(&error),
    };
    let options = match pull_options(plan) {
        Ok(options) => options,
        Err(e) => {
            let errors = entries.iter().map(|s| fail(s, e.to_string())).collect();
            return (pulled, errors);
        }
    };
    for entry in entries {
        let result = match PackageRef::parse(entry) {
            Ok(reference) => molecule_packages::pull(&reference, &options).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(skill) => pulled.push(skill),
            Err(e) => errors.push(fail(entry, e.to_string())),
        }
    }
    (pulled, errors)
}

/// The `oci` entry of the skill loaded from `dir`, when it is one of `pulled`.
pub fn oci_for(pulled: &[PulledSkill], dir: &std::path::Path) -> Option<OciJson> {
    let skill = pulled.iter().find(|p| p.dir == dir)?;
    let origin = &skill.origin;
    Some(OciJson {
        reference: escape(&origin.reference),
        digest: origin.digest.clone(),
        pinned: origin.pinned,
        signature: signature_json(&origin.signature),
    })
}

/// The JSON form of a signature status.
fn signature_json(status: &SignatureStatus) -> SignatureJson {
    let none = SignatureJson {
        status: "not-checked",
        key: None,
        fingerprint: None,
        reason: None,
    };
    match status {
        SignatureStatus::VerifiedByKey { key, fingerprint } => SignatureJson {
            status: "verified",
            key: Some(escape(key)),
            fingerprint: Some(fingerprint.clone()),
            ..none
        },
        SignatureStatus::UnsignedWarned { reason } => SignatureJson {
            status: "unverified",
            reason: Some(escape(reason)),
            ..none
        },
        SignatureStatus::NotChecked => none,
    }
}

/// The human lines of a skill's `oci` entry.
pub fn render_oci(oci: &OciJson) -> String {
    let pinned = if oci.pinned {
        "pinned"
    } else {
        "a tag, not pinned: pin it in skills:"
    };
    let s = &oci.signature;
    let signature = match (s.status, &s.key, &s.fingerprint, &s.reason) {
        ("verified", Some(key), Some(fp), _) => format!("verified by key {key} ({fp})"),
        ("unverified", _, _, Some(reason)) => format!("unverified (warn): {reason}"),
        (status, ..) => status.to_owned(),
    };
    format!(
        "  oci:       {} ({pinned})\n  oci digest: {}\n  signature: {signature}\n",
        oci.reference, oci.digest
    )
}

/// An unrequested grant as one sentence. For a skill pulled from a package (`dir` is one of
/// `pulled`) its SKILL.md is the package's and cannot be edited in place: the sentence names
/// the reference and says the package must be republished with the capability declared.
/// For a local skill, the usual [`Unrequested`] text.
pub fn unrequested_text(pulled: &[PulledSkill], dir: &std::path::Path, u: &Unrequested) -> String {
    let Some(skill) = pulled.iter().find(|p| p.dir == dir) else {
        return u.to_string();
    };
    format!(
        "skill `{}` is granted {} {} under {} but never requests it; remove it from \
         config.yaml, or republish the package {} with it declared under `capabilities:` in \
         its SKILL.md and pin the new digest (a pulled package cannot be edited in place)",
        u.skill,
        u.kind.noun(),
        u.capability,
        u.config_key,
        escape(&skill.origin.reference)
    )
}

/// `pull`'s error with the command line's way out added: with no trusted key the library
/// names `packages.trusted_keys` (config.yaml); on the command line it is `--trusted-key`.
pub fn pull_error_hint(err: anyhow::Error) -> anyhow::Error {
    let text = format!("{err:#}");
    if text.contains("no trusted key is configured") {
        err.context(
            "no trusted key given: pass --trusted-key KEY.pub (repeatable; \
             `molecule-runtime keygen DIR` makes a pair), or --signatures warn|off",
        )
    } else {
        err
    }
}
