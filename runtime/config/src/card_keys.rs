//! `a2a.card_signing` and `a2a.trusted_card_keys`: the key that signs the served agent card
//! and the keys peers' signed cards are verified with (A2A 1.0 §8.4). Only paths and key ids
//! are read here; the runtime loads the PEM files (a bad file fails the start, naming it).
//!
//! ```yaml
//! a2a:
//!   card_signing: {key_file: /secrets/card-key.pem, kid: card-key-1}   # PKCS#8, P-256 or Ed25519
//!   trusted_card_keys:
//!     - {kid: peer-key-1, key_file: /etc/molecule/peer-key-1.pub.pem}  # SPKI public key
//! ```

use serde_yaml::Value;

use crate::lenient::{field, Reader};

/// `a2a.card_signing`: sign the served card with this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSigningConfig {
    /// `key_file`: PKCS#8 PEM private key (P-256 → ES256, Ed25519 → EdDSA); a relative path is
    /// taken from the runtime's working directory.
    pub key_file: String,
    /// `kid`: the key id in the signature's protected header.
    pub kid: String,
}

/// One entry of `a2a.trusted_card_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCardKey {
    /// `kid`: the key id a peer's card signature must name.
    pub kid: String,
    /// `key_file`: SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), P-256 or Ed25519.
    pub key_file: String,
}

/// `a2a.card_signing`; without `key_file` or `kid` it warns and the card is not signed.
pub(crate) fn card_signing(r: &mut Reader<'_>, v: Option<&Value>) -> Option<CardSigningConfig> {
    let m = r.mapping(v, "a2a.card_signing")?;
    let key_file = r.opt_string(field(m, "key_file"), "a2a.card_signing.key_file");
    let kid = r.opt_string(field(m, "kid"), "a2a.card_signing.kid");
    match (key_file, kid) {
        (Some(key_file), Some(kid)) if !key_file.is_empty() && !kid.is_empty() => {
            Some(CardSigningConfig { key_file, kid })
        }
        _ => {
            r.warn(
                "a2a.card_signing",
                "needs both `key_file` and `kid`; the agent card is served unsigned",
            );
            None
        }
    }
}

/// `a2a.trusted_card_keys`; an item without `kid` or `key_file` warns and is skipped.
pub(crate) fn trusted_card_keys(r: &mut Reader<'_>, v: Option<&Value>) -> Vec<TrustedCardKey> {
    let mut out = Vec::new();
    for (i, item) in r.items(v, "a2a.trusted_card_keys").iter().enumerate() {
        let key = format!("a2a.trusted_card_keys[{i}]");
        let kid = r.opt_string(field(item, "kid"), &format!("{key}.kid"));
        let file = r.opt_string(field(item, "key_file"), &format!("{key}.key_file"));
        match (kid, file) {
            (Some(kid), Some(key_file)) if !kid.is_empty() && !key_file.is_empty() => {
                out.push(TrustedCardKey { kid, key_file })
            }
            _ => r.warn(
                &key,
                "a trusted key needs `kid` and `key_file`; skipping it",
            ),
        }
    }
    out
}
