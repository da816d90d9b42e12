//! cosign-compatible keyed signatures over a package's manifest digest, through the
//! `sigstore` crate: the "simple signing" payload (`critical.image.docker-manifest-digest`)
//! signed with a private key, pushed as a one-layer manifest at tag `sha256-<hex>.sig` with the
//! signature in the layer annotation `dev.cosignproject.cosign/signature` (what
//! `cosign sign --key` writes and `cosign verify --key` reads; no transparency log).

use std::fmt;
use std::path::Path;

use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use sigstore::cosign::constraint::{PrivateKeySigner, SignConstraintVec};
use sigstore::cosign::{ClientBuilder, CosignCapabilities, SignatureLayer};
use sigstore::registry::{Auth, OciReference};

use crate::error::PackageError;
use crate::keys::{signing_key, TrustedKey};
use crate::limits::Limits;
use crate::media_types::MANIFEST_MEDIA_TYPE;
use crate::signature_record::{SignatureRecord, SIGNATURE_ANNOTATION};

/// Docker's schema-2 manifest media type (older cosign versions push `.sig` manifests so).
const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
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

/// What a signature check found, and the signature layer that verified (kept in the cache so
/// a pinned package can be verified again offline).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The outcome.
    pub status: SignatureStatus,
    /// The verified layer, when one verified.
    pub record: Option<SignatureRecord>,
}

/// Checks the signatures of `reference` pinned at `digest` (already verified against the
/// manifest's bytes) under `policy` with `keys`, reading `sha256-<hex>.sig` within `limits`
/// (its manifest, the number and size of its layers). `Require` with no verifying key is a
/// [`PackageError::SignatureRefused`] naming the reference, the digest and the keys expected.
pub async fn check(
    reference: &PackageRef,
    digest: &str,
    policy: SignaturePolicy,
    keys: &[TrustedKey],
    insecure: &[String],
    limits: &Limits,
) -> Result<Checked, PackageError> {
    if policy == SignaturePolicy::Off {
        return Ok(Checked {
            status: SignatureStatus::NotChecked,
            record: None,
        });
    }
    let reason = match verify(reference, digest, keys, insecure, limits).await {
        Ok((key, record)) => {
            return Ok(Checked {
                status: verified_by(key),
                record: Some(record),
            })
        }
        Err(reason) => reason,
    };
    decide(reference, digest, policy, keys, reason).map(|status| Checked {
        status,
        record: None,
    })
}

/// [`SignatureStatus::VerifiedByKey`] for `key`.
pub(crate) fn verified_by(key: &TrustedKey) -> SignatureStatus {
    SignatureStatus::VerifiedByKey {
        key: key.path.display().to_string(),
        fingerprint: key.fingerprint.clone(),
    }
}

/// No key verified (`reason`): a warning under `Warn`, the refusal under `Require`.
pub(crate) fn decide(
    reference: &PackageRef,
    digest: &str,
    policy: SignaturePolicy,
    keys: &[TrustedKey],
    reason: String,
) -> Result<SignatureStatus, PackageError> {
    if policy != SignaturePolicy::Require {
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

/// The first trusted key that verifies a signature layer at `sha256-<hex>.sig` over `digest`
/// and `reference`'s repository, with that layer; or why none does. The `.sig` manifest and
/// its layers are read within `limits` before any is parsed.
async fn verify<'k>(
    reference: &PackageRef,
    digest: &str,
    keys: &'k [TrustedKey],
    insecure: &[String],
    limits: &Limits,
) -> Result<(&'k TrustedKey, SignatureRecord), String> {
    if keys.is_empty() {
        return Err("no trusted key is configured (packages.trusted_keys)".to_owned());
    }
    let tag = PackageRef::signature_tag(digest);
    let layers = signature_layers(reference, &tag, insecure, limits).await?;
    if layers.is_empty() {
        return Err(format!("it has no signature (nothing at tag {tag})"));
    }
    let mut why = Vec::new();
    for record in layers {
        match record.verify(reference, digest, keys) {
            Ok(key) => return Ok((key, record)),
            Err(reason) => why.push(reason),
        }
    }
    Err(format!(
        "{} signature(s) found, none verifies with a trusted key: {}",
        why.len(),
        why.join("; ")
    ))
}

/// The layers of the `.sig` manifest at `tag` (none when the tag does not exist), each read
/// within [`Limits::max_signature_layer_bytes`] and hashed against its descriptor; at most
/// [`Limits::max_signature_layers`] of them.
async fn signature_layers(
    reference: &PackageRef,
    tag: &str,
    insecure: &[String],
    limits: &Limits,
) -> Result<Vec<SignatureRecord>, String> {
    let client = crate::reference::client(&reference.reference, insecure);
    let sig_ref = Reference::with_tag(
        reference.reference.registry().to_owned(),
        reference.reference.repository().to_owned(),
        tag.to_owned(),
    );
    let auth = crate::auth::for_reference(&reference.reference).map_err(|e| e.to_string())?;
    let accepted = [MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE];
    let bytes = match client.pull_manifest_raw(&sig_ref, &auth, &accepted).await {
        Ok((bytes, _)) => bytes,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read its signatures at tag {tag}: {e}")),
    };
    if bytes.len() as u64 > limits.max_manifest_bytes {
        return Err(format!(
            "its signature manifest is {} bytes, more than the {} allowed",
            bytes.len(),
            limits.max_manifest_bytes
        ));
    }
    let manifest: OciImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("its signature manifest is not an image manifest: {e}"))?;
    if manifest.layers.len() > limits.max_signature_layers {
        return Err(format!(
            "its signature manifest lists {} layers, more than the {} allowed",
            manifest.layers.len(),
            limits.max_signature_layers
        ));
    }
    let mut records = Vec::new();
    for layer in &manifest.layers {
        let Some(signature) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            continue;
        };
        let max = limits.max_signature_layer_bytes;
        let payload = crate::blobs::fetch_small(&client, &sig_ref, layer, max).await?;
        let payload = String::from_utf8(payload)
            .map_err(|_| format!("signature layer {} is not UTF-8", layer.digest))?;
        records.push(SignatureRecord {
            payload,
            signature: signature.clone(),
        });
    }
    Ok(records)
}

/// Whether the registry said the manifest does not exist.
fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == oci_client::errors::OciErrorCode::ManifestUnknown),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
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
    let auth = match crate::auth::for_reference(&reference.reference)? {
        RegistryAuth::Basic(user, password) => Auth::Basic(user, password),
        _ => Auth::Anonymous,
    };
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
        .triangulate(&source, &auth)
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
        .push_signature(None, &auth, &signature_ref, vec![layer])
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
