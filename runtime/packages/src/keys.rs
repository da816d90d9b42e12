//! Keys for cosign signatures: trusted public keys (PEM `PUBLIC KEY` files, as
//! `cosign generate-key-pair` writes `cosign.pub`), named by file and by fingerprint — the
//! SHA-256 of the key's DER SubjectPublicKeyInfo — and signing keys (PKCS#8 PEM, or cosign's
//! encrypted `cosign.key` with its password).

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use sigstore::cosign::verification_constraint::PublicKeyVerifier;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{SigStoreSigner, SigningScheme};

use crate::error::PackageError;

/// A trusted public key, loaded and checked.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The PEM file it was read from.
    pub path: PathBuf,
    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
    pub fingerprint: String,
    pem: Vec<u8>,
}

impl TrustedKey {
    /// Reads the PEM public key at `path` (ECDSA P-256/P-384, Ed25519 or RSA, detected from
    /// the key); the error names the file.
    pub fn load(path: &Path) -> Result<TrustedKey, PackageError> {
        let pem = std::fs::read(path)
            .map_err(|e| PackageError::io(path, "reading the trusted key", e))?;
        TrustedKey::from_pem(path, pem)
    }

    /// A key from PEM text, `path` naming where it came from.
    pub fn from_pem(path: &Path, pem: Vec<u8>) -> Result<TrustedKey, PackageError> {
        let bad = |reason: String| PackageError::Key {
            path: path.to_owned(),
            reason,
        };
        PublicKeyVerifier::try_from(&pem)
            .map_err(|e| bad(format!("not a usable PEM public key: {e}")))?;
        let parsed = pem::parse(&pem).map_err(|e| bad(format!("not PEM: {e}")))?;
        let fingerprint = format!("sha256:{}", hex::encode(Sha256::digest(parsed.contents())));
        Ok(TrustedKey {
            path: path.to_owned(),
            fingerprint,
            pem,
        })
    }

    /// The key's PEM text.
    pub(crate) fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// `file (sha256:<fingerprint>)`, as messages name the key.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.path.display(), self.fingerprint)
    }
}

/// Reads the signing key at `path`: a PEM PKCS#8 private key, or cosign's encrypted
/// `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` with `password`
/// (cosign reads it from `COSIGN_PASSWORD`). ECDSA keys sign with P-256/SHA-256 (cosign's
/// default), Ed25519 keys with Ed25519.
pub fn signing_key(path: &Path, password: Option<&[u8]>) -> Result<SigStoreSigner, PackageError> {
    let bad = |reason: String| PackageError::Key {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| PackageError::io(path, "reading the key", e))?;
    let encrypted = String::from_utf8_lossy(&pem).contains("ENCRYPTED");
    let pair = match (encrypted, password) {
        (true, Some(password)) => SigStoreKeyPair::from_encrypted_pem(&pem, password),
        (true, None) => {
            return Err(bad(
                "is an encrypted key: set COSIGN_PASSWORD to its password".to_owned(),
            ))
        }
        (false, _) => SigStoreKeyPair::from_pem(&pem),
    }
    .map_err(|e| bad(format!("not a usable PEM private key: {e}")))?;
    let scheme = match pair {
        SigStoreKeyPair::ED25519(_) => SigningScheme::ED25519,
        SigStoreKeyPair::ECDSA(_) => SigningScheme::ECDSA_P256_SHA256_ASN1,
        SigStoreKeyPair::RSA(_) => {
            return Err(bad(
                "is an RSA key; sign with an ECDSA P-256 key (`cosign generate-key-pair`)".into(),
            ))
        }
    };
    pair.to_sigstore_signer(&scheme)
        .map_err(|e| bad(format!("cannot sign with it: {e}")))
}

/// Writes a new ECDSA P-256 key pair (cosign's default scheme) as `<stem>.key` (PKCS#8 PEM,
/// not encrypted, mode 0600) and `<stem>.pub` (PEM public key) in `dir`; returns both paths.
pub fn generate_key_pair(dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), PackageError> {
    let bad = |reason: String| PackageError::Key {
        path: dir.join(stem),
        reason,
    };
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .map_err(|e| bad(e.to_string()))?;
    let pair = signer
        .to_sigstore_keypair()
        .map_err(|e| bad(e.to_string()))?;
    let private = pair.private_key_to_pem().map_err(|e| bad(e.to_string()))?;
    let public = pair.public_key_to_pem().map_err(|e| bad(e.to_string()))?;
    let (key, pubkey) = (
        dir.join(format!("{stem}.key")),
        dir.join(format!("{stem}.pub")),
    );
    write_private(&key, private.as_bytes())?;
    std::fs::write(&pubkey, public).map_err(|e| PackageError::io(&pubkey, "writing", e))?;
    Ok((key, pubkey))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| PackageError::io(path, "writing", e))?;
    file.write_all(bytes)
        .map_err(|e| PackageError::io(path, "writing", e))
}
