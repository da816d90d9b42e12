//! One cosign signature layer checked offline: its simple-signing payload must name the
//! pulled manifest digest (`critical.image.docker-manifest-digest`) and the pulled repository
//! (`critical.identity.docker-reference`, so a valid signature of another repository's package
//! copied next to this one is refused), and its signature must verify over the payload's
//! bytes with a trusted key. A [`SignatureRecord`] is what a verified check keeps in the cache
//! (`<cache>/skills/sha256-<hex>/signature.json`) so a pinned package boots offline and its
//! signature is verified again, against the keys configured then, on every boot.

use std::path::Path;

use sigstore::cosign::payload::SimpleSigning;
use sigstore::crypto::{CosignVerificationKey, Signature};

use crate::keys::TrustedKey;
use crate::reference::PackageRef;

/// The annotation of a cosign signature layer holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// A signature layer as read from the registry: the payload (the layer's bytes, hashed
/// against its descriptor) and the base64 signature from its annotation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignatureRecord {
    /// The simple-signing payload (JSON) as signed.
    pub payload: String,
    /// The signature over `payload`, base64 (as cosign writes it).
    pub signature: String,
}

impl SignatureRecord {
    /// The first of `keys` under which this layer is a valid signature of `reference`'s
    /// repository at `digest`, or why none is.
    pub fn verify<'k>(
        &self,
        reference: &PackageRef,
        digest: &str,
        keys: &'k [TrustedKey],
    ) -> Result<&'k TrustedKey, String> {
        let signing: SimpleSigning = serde_json::from_str(&self.payload)
            .map_err(|e| format!("its payload is not a simple-signing document: {e}"))?;
        let signed_digest = &signing.critical.image.docker_manifest_digest;
        if signed_digest != digest {
            return Err(format!(
                "it signs digest {}, not this one",
                signed_digest.escape_debug()
            ));
        }
        let expected = repository_of(reference);
        let named = &signing.critical.identity.docker_reference;
        if !names_repository(named, &expected, digest) {
            return Err(format!(
                "it signs repository `{}`, not `{expected}` (a signature copied from another \
                 repository)",
                named.escape_debug()
            ));
        }
        for key in keys {
            let Ok(verifier) = CosignVerificationKey::try_from_pem(key.pem()) else {
                continue;
            };
            let signature = Signature::Base64Encoded(self.signature.as_bytes());
            if verifier
                .verify_signature(signature, self.payload.as_bytes())
                .is_ok()
            {
                return Ok(key);
            }
        }
        Err("its signature does not verify with a trusted key".to_owned())
    }

    /// Reads a record kept in the cache; `None` when absent or unreadable (then the registry
    /// is asked).
    /// The read is bounded at 256 KiB and refuses anything but a regular file.
    pub(crate) fn load(path: &Path) -> Option<SignatureRecord> {
        let bytes = crate::blobs::read_bounded(path, 256 << 10)?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// `registry/repository` of `reference`, as a signature's docker-reference names it.
fn repository_of(reference: &PackageRef) -> String {
    format!(
        "{}/{}",
        reference.reference.registry(),
        reference.reference.repository()
    )
}

/// Whether a docker-reference (`registry/repository`, optionally with `:tag` or `@digest`,
/// as cosign and this crate write it) names `repository` (and, if it has one, `digest`).
fn names_repository(named: &str, repository: &str, digest: &str) -> bool {
    let (name, pinned) = match named.split_once('@') {
        Some((name, pinned)) => (name, Some(pinned)),
        None => (named, None),
    };
    let last_slash = name.rfind('/').unwrap_or(0);
    let name = match name[last_slash..].find(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    };
    same_repository(name, repository) && pinned.is_none_or(|p| p == digest)
}

/// The names Docker Hub answers to: cosign (go-containerregistry) writes `index.docker.io`
/// in a docker-reference while oci-spec normalises a reference to `docker.io`.
const DOCKER_HUB: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Whether two `registry/repository` names are the same repository. Only Docker Hub's
/// aliases are folded together; every other registry name is compared exactly, so
/// `localhost:5000` and `127.0.0.1:5000` are different registries (fail closed).
fn same_repository(a: &str, b: &str) -> bool {
    let hub = |name: &str| -> Option<String> {
        let (registry, path) = name.split_once('/')?;
        DOCKER_HUB
            .contains(&registry)
            .then(|| format!("docker.io/{path}"))
    };
    match (hub(a), hub(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::names_repository;

    #[test]
    fn the_docker_reference_must_name_the_pulled_repository() {
        let (repo, digest) = ("127.0.0.1:5000/acme/ver", "sha256:ab");
        for good in [
            repo,
            "127.0.0.1:5000/acme/ver:1",
            "127.0.0.1:5000/acme/ver@sha256:ab",
        ] {
            assert!(names_repository(good, repo, digest), "{good}");
        }
        for bad in [
            "127.0.0.1:5000/acme/other",
            "127.0.0.1:5000/acme/ver@sha256:cd",
            "127.0.0.1:5001/acme/ver",
            "127.0.0.1:5000/acme/verx:1",
        ] {
            assert!(!names_repository(bad, repo, digest), "{bad}");
        }
    }

    #[test]
    fn docker_hub_aliases_name_one_registry() {
        let (repo, digest) = ("docker.io/acme/ver", "sha256:ab");
        for good in [
            "index.docker.io/acme/ver",
            "index.docker.io/acme/ver:1",
            "registry-1.docker.io/acme/ver@sha256:ab",
            "docker.io/acme/ver",
        ] {
            assert!(names_repository(good, repo, digest), "{good}");
        }
        for bad in [
            "index.docker.io/acme/other",
            "index.docker.io/acme/ver@sha256:cd",
            "ghcr.io/acme/ver",
        ] {
            assert!(!names_repository(bad, repo, digest), "{bad}");
        }
        // Only Docker Hub's aliases fold: other hosts are distinct names (fail closed).
        assert!(!names_repository(
            "localhost:5000/acme/ver",
            "127.0.0.1:5000/acme/ver",
            digest
        ));
    }

    #[test]
    fn a_cosign_payload_naming_index_docker_io_verifies_for_docker_io() {
        use base64::Engine as _;
        use sigstore::crypto::SigningScheme;
        let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .expect("signer");
        let public = signer
            .to_sigstore_keypair()
            .and_then(|pair| pair.public_key_to_pem())
            .expect("public key");
        let key =
            crate::keys::TrustedKey::from_pem(std::path::Path::new("hub.pub"), public.into_bytes())
                .expect("key");
        let digest = format!("sha256:{}", "ab".repeat(32));
        let payload = serde_json::json!({
            "critical": {
                "identity": {"docker-reference": "index.docker.io/acme/ver"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature"
            },
            "optional": null
        })
        .to_string();
        let signature = signer.sign(payload.as_bytes()).expect("sign");
        let record = super::SignatureRecord {
            payload,
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        };
        let hub = crate::reference::PackageRef::parse(&format!("docker.io/acme/ver@{digest}"))
            .expect("reference");
        assert!(record
            .verify(&hub, &digest, std::slice::from_ref(&key))
            .is_ok());
        let other = crate::reference::PackageRef::parse(&format!("ghcr.io/acme/ver@{digest}"))
            .expect("reference");
        assert!(record.verify(&other, &digest, &[key]).is_err());
    }
}
