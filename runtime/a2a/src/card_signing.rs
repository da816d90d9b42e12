//! Signed Agent Cards (A2A 1.0 §8.4): a JWS (RFC 7515) with a detached payload over the RFC 8785
//! (JCS) canonical JSON of the card without `signatures`.
//!
//! - Signing ([`CardSigner`]): ES256 (P-256) or EdDSA (Ed25519) from a PKCS#8 PEM private key;
//!   the protected header is `{"alg","kid","typ":"JOSE"}`; the card gets
//!   `signatures: [{protected, signature}]`, both base64url without padding.
//! - Verifying ([`verify_card`]): at least one signature whose `kid` is trusted must verify.
//!
//! Canonical form (§8.4.1): the card JSON minus `signatures`, minus the 0.3 top-level fields a
//! merged card carries for 0.3 clients (`url`, `preferredTransport`, `protocolVersion`,
//! `additionalInterfaces`, `security`, `supportsAuthenticatedExtendedCard`, and the 0.3
//! members next to each `securitySchemes` one-of: not AgentCard fields in 1.0), minus empty strings, arrays and
//! objects (default values) except for the card's REQUIRED top-level fields; then RFC 8785
//! (`json-canon`: keys in UTF-16 order, ECMAScript number form). Crypto is `ring`.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde_json::{Map, Value};

/// `typ` of the protected header (§8.4.2: SHOULD be "JOSE").
const JOSE: &str = "JOSE";
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const ED25519_SPKI: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480); the 65-byte point follows.
const P256_SPKI: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// Top-level fields of the 1.0 AgentCard that are REQUIRED: kept even when empty.
const REQUIRED: [&str; 8] = [
    "name",
    "description",
    "supportedInterfaces",
    "version",
    "capabilities",
    "defaultInputModes",
    "defaultOutputModes",
    "skills",
];
/// 0.3 top-level fields a merged card carries (`card_v03.rs`); not part of the signed 1.0
/// card.
const LEGACY: [&str; 6] = crate::card_v03::TOP_LEVEL;

/// A JWS algorithm this module signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256, signature `r || s` (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl Alg {
    /// The JOSE `alg` name: `ES256` or `EdDSA`.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// Why a key could not be loaded or a card could not be signed or verified.
#[derive(Debug, thiserror::Error)]
pub enum CardSignatureError {
    /// A key file could not be read or is not a usable key; the message says which and why.
    #[error("card signing key: {0}")]
    Key(String),
    /// The card has no `signatures`.
    #[error("the agent card is not signed (no `signatures`)")]
    Unsigned,
    /// No signature has a `kid` among the trusted keys.
    #[error("no signature of the agent card is by a trusted key (kids on the card: {0:?})")]
    UntrustedKid(Vec<String>),
    /// A signature by a trusted key does not verify.
    #[error("the agent card signature by kid `{kid}` does not verify: {reason}")]
    BadSignature {
        /// The key id of the failing signature.
        kid: String,
        /// What failed (algorithm mismatch, bad encoding, wrong signature).
        reason: String,
    },
    /// The card is not a JSON object or cannot be canonicalized.
    #[error("the agent card cannot be canonicalized: {0}")]
    Canonical(String),
}

/// A private key that signs the served card.
pub struct CardSigner {
    kid: String,
    key: SigningKey,
}

enum SigningKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardSigner")
            .field("kid", &self.kid)
            .field("alg", &self.alg().name())
            .finish()
    }
}

impl CardSigner {
    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, P-256 or Ed25519) from
    /// `path`. Errors: unreadable file, not PEM, SEC1 (`EC PRIVATE KEY`) or RSA keys, curves
    /// other than P-256.
    pub fn from_pem_file(path: &Path, kid: &str) -> Result<Self, CardSignatureError> {
        let pem = std::fs::read(path)
            .map_err(|e| CardSignatureError::Key(format!("{}: {e}", path.display())))?;
        Self::from_pem(&pem, kid)
            .map_err(|e| CardSignatureError::Key(format!("{}: {e}", path.display())))
    }

    /// As [`from_pem_file`](Self::from_pem_file), from the PEM text.
    pub fn from_pem(pem: &[u8], kid: &str) -> Result<Self, String> {
        match PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("not a PEM private key ({e})"))? {
            PrivateKeyDer::Pkcs8(der) => Self::from_pkcs8(der.secret_pkcs8_der(), kid),
            PrivateKeyDer::Sec1(_) => Err(
                "a SEC1 `EC PRIVATE KEY`: convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt`"
                    .into(),
            ),
            _ => Err("not a P-256 or Ed25519 PKCS#8 key".into()),
        }
    }

    /// A signer from PKCS#8 DER bytes (P-256 or Ed25519).
    pub fn from_pkcs8(der: &[u8], kid: &str) -> Result<Self, String> {
        if kid.is_empty() {
            return Err("the key id (`kid`) is empty".into());
        }
        let key = if let Ok(k) = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &SystemRandom::new(),
        ) {
            SigningKey::Es256(k)
        } else if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            SigningKey::EdDsa(k)
        } else {
            return Err("not a P-256 or Ed25519 PKCS#8 key".into());
        };
        Ok(CardSigner {
            kid: kid.to_string(),
            key,
        })
    }

    /// The key id put in the protected header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    pub fn alg(&self) -> Alg {
        match self.key {
            SigningKey::Es256(_) => Alg::Es256,
            SigningKey::EdDsa(_) => Alg::EdDsa,
        }
    }

    /// The public key as a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), what a peer
    /// puts in its `a2a.trusted_card_keys`.
    pub fn public_key_pem(&self) -> String {
        let mut der = Vec::new();
        match &self.key {
            SigningKey::Es256(k) => {
                der.extend_from_slice(&P256_SPKI);
                der.extend_from_slice(k.public_key().as_ref());
            }
            SigningKey::EdDsa(k) => {
                der.extend_from_slice(&ED25519_SPKI);
                der.extend_from_slice(k.public_key().as_ref());
            }
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    /// The signature entry `{"protected", "signature"}` for the card JSON `card` (its own
    /// `signatures` are ignored). Errors: the card cannot be canonicalized.
    pub fn signature_for(&self, card: &Value) -> Result<Value, CardSignatureError> {
        let header = serde_json::json!({"alg": self.alg().name(), "kid": self.kid, "typ": JOSE});
        let protected = URL_SAFE_NO_PAD.encode(header.to_string());
        let payload = URL_SAFE_NO_PAD.encode(canonical_payload(card)?);
        let input = format!("{protected}.{payload}");
        let sig = match &self.key {
            SigningKey::Es256(k) => k
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(|_| CardSignatureError::Key("ES256 signing failed".into()))?
                .as_ref()
                .to_vec(),
            SigningKey::EdDsa(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(serde_json::json!({"protected": protected, "signature": URL_SAFE_NO_PAD.encode(sig)}))
    }

    /// Replaces the card's `signatures` with this key's signature.
    pub fn sign(&self, card: &mut Value) -> Result<(), CardSignatureError> {
        let sig = self.signature_for(card)?;
        let obj = card
            .as_object_mut()
            .ok_or_else(|| CardSignatureError::Canonical("not a JSON object".into()))?;
        obj.insert("signatures".into(), Value::Array(vec![sig]));
        Ok(())
    }
}

/// A public key trusted for peers' cards: its `kid` and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The key id a signature's protected header must name.
    pub kid: String,
    /// The algorithm of the key.
    pub alg: Alg,
    /// The raw public key: the 65-byte uncompressed P-256 point or the 32 Ed25519 bytes.
    public: Vec<u8>,
}

impl TrustedKey {
    /// A trusted key from a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`, P-256 or
    /// Ed25519). Errors: not PEM, another key type.
    pub fn from_pem(kid: &str, pem: &[u8]) -> Result<Self, CardSignatureError> {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem).map_err(|e| {
            CardSignatureError::Key(format!("key `{kid}`: not a PEM public key ({e})"))
        })?;
        let der: &[u8] = spki.as_ref();
        let (alg, public) = if let Some(k) = der.strip_prefix(&P256_SPKI[..]) {
            (Alg::Es256, k)
        } else if let Some(k) = der.strip_prefix(&ED25519_SPKI[..]) {
            (Alg::EdDsa, k)
        } else {
            return Err(CardSignatureError::Key(format!(
                "key `{kid}`: not a P-256 or Ed25519 public key"
            )));
        };
        Ok(TrustedKey {
            kid: kid.to_string(),
            alg,
            public: public.to_vec(),
        })
    }

    /// As [`from_pem`](Self::from_pem), reading the PEM from `path` (at most 64 KiB); every
    /// error names the file.
    pub fn from_pem_file(kid: &str, path: &Path) -> Result<Self, CardSignatureError> {
        const MAX_PEM: u64 = 64 * 1024;
        let named = |m: String| CardSignatureError::Key(format!("{}: {m}", path.display()));
        let size = std::fs::metadata(path)
            .map_err(|e| named(format!("key `{kid}`: {e}")))?
            .len();
        if size > MAX_PEM {
            return Err(named(format!(
                "key `{kid}`: {size} bytes is too large for a PEM public key (at most {MAX_PEM})"
            )));
        }
        let pem = std::fs::read(path).map_err(|e| named(format!("key `{kid}`: {e}")))?;
        Self::from_pem(kid, &pem).map_err(|e| match e {
            CardSignatureError::Key(m) => named(m),
            other => other,
        })
    }
}

/// Verifies a card's signatures (§8.4.3) against `trusted` and returns the `kid` of the first
/// trusted signature that verifies. Signatures by unknown kids are skipped; a signature by a
/// trusted kid that fails is an error naming that kid unless another trusted one verifies.
/// Errors: [`CardSignatureError::Unsigned`], [`CardSignatureError::UntrustedKid`],
/// [`CardSignatureError::BadSignature`], [`CardSignatureError::Canonical`].
pub fn verify_card(card: &Value, trusted: &[TrustedKey]) -> Result<String, CardSignatureError> {
    let sigs = match card.get("signatures").and_then(Value::as_array) {
        Some(s) if !s.is_empty() => s,
        _ => return Err(CardSignatureError::Unsigned),
    };
    let payload = URL_SAFE_NO_PAD.encode(canonical_payload(card)?);
    let mut kids = Vec::new();
    let mut failure = None;
    for sig in sigs {
        let protected = sig.get("protected").and_then(Value::as_str).unwrap_or("");
        let header: Option<Value> = URL_SAFE_NO_PAD
            .decode(protected)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok());
        let kid = header
            .as_ref()
            .and_then(|h| h.get("kid"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(key) = trusted.iter().find(|k| k.kid == kid) else {
            kids.push(kid);
            continue;
        };
        match check(key, header.as_ref(), protected, &payload, sig) {
            Ok(()) => return Ok(kid),
            Err(reason) => failure = Some(CardSignatureError::BadSignature { kid, reason }),
        }
    }
    Err(failure.unwrap_or(CardSignatureError::UntrustedKid(kids)))
}

fn check(
    key: &TrustedKey,
    header: Option<&Value>,
    protected: &str,
    payload: &str,
    sig: &Value,
) -> Result<(), String> {
    let alg = header
        .and_then(|h| h.get("alg"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if alg != key.alg.name() {
        return Err(format!(
            "alg `{alg}` is not the trusted key's {}",
            key.alg.name()
        ));
    }
    let raw = sig.get("signature").and_then(Value::as_str).unwrap_or("");
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| "the signature is not base64url".to_string())?;
    let input = format!("{protected}.{payload}");
    let verifier: &dyn signature::VerificationAlgorithm = match key.alg {
        Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::EdDsa => &signature::ED25519,
    };
    UnparsedPublicKey::new(verifier, &key.public)
        .verify(input.as_bytes(), &bytes)
        .map_err(|_| "wrong signature (the card was changed or signed by another key)".into())
}

/// The JWS payload: the RFC 8785 form of the card without `signatures`, the 0.3 fields and
/// default (empty) values, as described in the module header.
pub fn canonical_payload(card: &Value) -> Result<Vec<u8>, CardSignatureError> {
    let obj = card
        .as_object()
        .ok_or_else(|| CardSignatureError::Canonical("not a JSON object".into()))?;
    let mut out = Map::new();
    for (k, v) in obj {
        if k == "signatures" || LEGACY.contains(&k.as_str()) {
            continue;
        }
        let cleaned = if k == "securitySchemes" {
            strip_defaults(&schemes_v1(v))
        } else {
            strip_defaults(v)
        };
        match cleaned {
            Some(v) => {
                out.insert(k.clone(), v);
            }
            None if REQUIRED.contains(&k.as_str()) => {
                out.insert(k.clone(), v.clone());
            }
            None => {}
        }
    }
    canonical(&Value::Object(out))
}

/// `securitySchemes` without the 0.3 members a merged card adds next to each scheme's 1.0
/// one-of (`type`, `scheme`, …): only the 1.0 `SecurityScheme` members are signed.
fn schemes_v1(v: &Value) -> Value {
    let Some(schemes) = v.as_object() else {
        return v.clone();
    };
    let kept = schemes
        .iter()
        .map(|(name, s)| {
            let s = match s.as_object() {
                Some(m) => Value::Object(
                    m.iter()
                        .filter(|(k, _)| crate::card_v03::SCHEME_ONE_OF.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                None => s.clone(),
            };
            (name.clone(), s)
        })
        .collect();
    Value::Object(kept)
}

/// RFC 8785 canonical bytes of any JSON value.
pub fn canonical(value: &Value) -> Result<Vec<u8>, CardSignatureError> {
    json_canon::to_vec(value).map_err(|e| CardSignatureError::Canonical(e.to_string()))
}

/// The value with empty strings, arrays and objects removed (recursively); `None` when the
/// value itself is empty. `false` and `0` stay: in the card they are `optional` fields that
/// were set.
fn strip_defaults(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::Null => None,
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(strip_defaults).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| strip_defaults(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        other => Some(other.clone()),
    }
}
