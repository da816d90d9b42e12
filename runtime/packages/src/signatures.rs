//! cosign-compatible keyed signatures over a package's manifest digest, through the
//! `sigstore` crate: the "simple signing" payload (`critical.image.docker-manifest-digest`)
//! signed with a private key, pushed as a one-layer manifest at tag `sha256-<hex>.sig` with the
//! signature in the layer annotation `dev.cosignproject.cosign/signature` (what
//! `cosign sign --key` writes and `cosign verify --key` reads; no transparency log).

use std::fmt;
use std::path::Path;

use sigstore::cosign::constraint::{PrivateKeySigner, SignConstraintVec};
use sigstore::cosign::verification_constraint::VerificationConstraintVec;
use sigstore::cosign::{ClientBuilder, CosignCapabilities, SignatureLayer};
use sigstore::registry::{Auth, OciReference};

use crate::error::PackageError;
use crate::keys::{signing_key, TrustedKey};
use crate::reference::{plain_http_registries, PackageRef};

/// `packages.signatures`: what a pulled package's signature must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// A signature by a trusted key is required; anything else is refused (the default).
    #[default]
    Require,
    /// A missing or unverifiable signature loads the package with a warning.
    Warn,
    /// Signatures are not looked at.
    Off,
}

impl SignaturePolicy {
    /// `require`, `warn` or `off` (as config.yaml writes it).
    pub fn parse(text: &str) -> Option<SignaturePolicy> {
        match text {
            "require" => Some(SignaturePolicy::Require),
            "warn" => Some(SignaturePolicy::Warn),
            "off" => Some(SignaturePolicy::Off),
            _ => None,
        }
    }
}

/// What the signature check found for one package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// A signature over the digest verifies with this trusted key.
    VerifiedByKey {
        /// The key file.
        key: String,
        /// `sha256:<hex>` of the key.
        fingerprint: String,
    },
    /// Under `warn`: no trusted key verifies a signature; loaded anyway.
    UnsignedWarned {
        /// Why it did not verify.
        reason: String,
    },
    /// Under `off`: not looked at.
    NotChecked,
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureStatus::VerifiedByKey { key, fingerprint } => {
                write!(f, "verified by key {key} ({fingerprint})")
            }
            SignatureStatus::UnsignedWarned { reason } => write!(f, "unsigned, warned: {reason}"),
            SignatureStatus::NotChecked => f.write_str("not checked (packages.signatures: off)"),
        }
    }
}

/// Checks the signatures of `reference` pinned at `digest` (already verified against the
/// manifest's bytes) under `policy` with `keys`. `Require` with no verifying key is a
/// [`PackageError::SignatureRefused`] naming the reference, the digest and the keys expected.
pub async fn check(
    reference: &PackageRef,
    digest: &str,
    policy: SignaturePolicy,
    keys: &[TrustedKey],
    insecure: &[String],
) -> Result<SignatureStatus, PackageError> {
    if policy == SignaturePolicy::Off {
        return Ok(SignatureStatus::NotChecked);
    }
    let reason = match verify(reference, digest, keys, insecure).await {
        Ok(key) => {
            return Ok(SignatureStatus::VerifiedByKey {
                key: key.path.display().to_string(),
                fingerprint: key.fingerprint.clone(),
            })
        }
        Err(reason) => reason,
    };
    if policy == SignaturePolicy::Warn {
        return Ok(SignatureStatus::UnsignedWarned { reason });
    }
    let expected_keys = if keys.is_empty() {
        "no key: packages.trusted_keys is empty".to_owned()
    } else {
        keys.iter()
            .map(TrustedKey::describe)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(PackageError::SignatureRefused {
        reference: reference.written.clone(),
        digest: digest.to_owned(),
        signature_tag: PackageRef::signature_tag(digest),
        reason,
        expected_keys,
    })
}

/// The first trusted key that verifies a signature layer over `digest`, or why none does.
async fn verify<'k>(
    reference: &PackageRef,
    digest: &str,
    keys: &'k [TrustedKey],
    insecure: &[String],
) -> Result<&'k TrustedKey, String> {
    if keys.is_empty() {
        return Err("no trusted key is configured (packages.trusted_keys)".to_owned());
    }
    crate::tls::install_provider();
    let pinned = oci_pinned(reference, digest);
    let mut client = ClientBuilder::default()
        .with_oci_client_config(sigstore_config(reference, insecure))
        .build()
        .map_err(|e| format!("cannot make a registry client: {e}"))?;
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &pinned)
        .await
        .map_err(|e| format!("cannot read its signatures: {e}"))?;
    // Only layers whose payload names this very digest count (sigstore checks this too).
    let layers: Vec<SignatureLayer> = layers
        .into_iter()
        .filter(|l| l.simple_signing.satisfies_manifest_digest(digest))
        .collect();
    if layers.is_empty() {
        return Err(format!(
            "it has no signature (nothing at tag {})",
            PackageRef::signature_tag(digest)
        ));
    }
    for key in keys {
        let Ok(verifier) = key.verifier() else {
            continue;
        };
        let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
        if sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok() {
            return Ok(key);
        }
    }
    Err(format!(
        "{} signature(s) found, none verifies with a trusted key",
        layers.len()
    ))
}

/// Signs `reference` (resolved to its manifest digest) with the private key at `key` and
/// pushes the signature to `sha256-<hex>.sig` in the same repository; returns the digest
/// signed. An existing signature at that tag is replaced.
pub async fn sign(
    reference: &PackageRef,
    key: &Path,
    password: Option<&[u8]>,
    insecure: &[String],
) -> Result<String, PackageError> {
    let registry_error = |reason: String| PackageError::Registry {
        reference: reference.written.clone(),
        reason,
    };
    let signer = signing_key(key, password)?;
    crate::tls::install_provider();
    let mut client = ClientBuilder::default()
        .with_oci_client_config(sigstore_config(reference, insecure))
        .build()
        .map_err(|e| registry_error(e.to_string()))?;
    let source: OciReference = reference
        .reference
        .whole()
        .parse()
        .map_err(|e: sigstore::errors::SigstoreError| registry_error(e.to_string()))?;
    let (signature_ref, digest) = client
        .triangulate(&source, &Auth::Anonymous)
        .await
        .map_err(|e| registry_error(e.to_string()))?;
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
    let mut layer = SignatureLayer::new_unsigned(&oci_pinned(reference, &digest), &digest)
        .map_err(|e| registry_error(e.to_string()))?;
    let constraints: SignConstraintVec = vec![Box::new(PrivateKeySigner::new_with_signer(signer))];
    sigstore::cosign::apply_constraints(&mut layer, constraints.iter()).map_err(|e| {
        PackageError::Key {
            path: key.to_owned(),
            reason: format!("signing failed: {e}"),
        }
    })?;
    client
        .push_signature(None, &Auth::Anonymous, &signature_ref, vec![layer])
        .await
        .map_err(|e| registry_error(e.to_string()))?;
    Ok(digest)
}

/// `reference`'s repository pinned at `digest`, as sigstore names it.
fn oci_pinned(reference: &PackageRef, digest: &str) -> OciReference {
    OciReference::with_digest(
        reference.reference.registry().to_owned(),
        reference.reference.repository().to_owned(),
        digest.to_owned(),
    )
}

/// sigstore's registry settings for `reference` (its own `ClientConfig` type, same rule as
/// [`crate::reference::client_config`]).
fn sigstore_config(
    reference: &PackageRef,
    insecure: &[String],
) -> sigstore::registry::ClientConfig {
    sigstore::registry::ClientConfig {
        protocol: sigstore::registry::ClientProtocol::HttpsExcept(plain_http_registries(
            &reference.reference,
            insecure,
        )),
        ..Default::default()
    }
}
