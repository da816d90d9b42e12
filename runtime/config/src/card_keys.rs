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
    /// resolved against the config folder (the folder of config.yaml).
    pub key_file: String,
    /// `kid`: the key id in the signature's protected header.
    pub kid: String,
}

/// One entry of `a2a.trusted_card_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCardKey {
    /// `kid`: the key id a peer's card signature must name.
    pub kid: String,
    /// `key_file`: SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), P-256 or Ed25519; a relative
    /// path is resolved against the config folder.
    pub key_file: String,
}

/// `a2a.card_signing`. Signing is a security setting, so it fails closed: a `card_signing`
/// without `key_file` or `kid`, or whose key file is not a readable file, is an error (the
/// workspace does not start with an unsigned card the operator did not ask for).
pub(crate) fn card_signing(r: &mut Reader<'_>, v: Option<&Value>) -> Option<CardSigningConfig> {
    let node = v?;
    if !node.is_mapping() {
        let found = crate::lenient::describe(node);
        r.fail(
            "a2a.card_signing",
            node,
            format!("expected a mapping `{{key_file, kid}}`, found {found}"),
        );
        return None;
    }
    let m = node;
    let key_file = r.opt_string(field(m, "key_file"), "a2a.card_signing.key_file");
    let kid = r.opt_string(field(m, "kid"), "a2a.card_signing.kid");
    match (key_file, kid) {
        (Some(key_file), Some(kid)) if !key_file.trim().is_empty() && !kid.is_empty() => {
            let key_file = key_path(r, m, "a2a.card_signing.key_file", &key_file)?;
            Some(CardSigningConfig { key_file, kid })
        }
        _ => {
            r.fail(
                "a2a.card_signing",
                node,
                "needs both `key_file` (a PKCS#8 PEM private key) and `kid`; the workspace \
                 will not serve an unsigned card in its place",
            );
            None
        }
    }
}

/// `a2a.trusted_card_keys`. A security setting: an item without `kid` or `key_file`, or whose
/// key file is not a readable file, is an error (skipping it could leave peers unchecked).
pub(crate) fn trusted_card_keys(r: &mut Reader<'_>, v: Option<&Value>) -> Vec<TrustedCardKey> {
    let mut out = Vec::new();
    if let Some(node) = v.filter(|v| !v.is_sequence()) {
        let found = crate::lenient::describe(node);
        r.fail(
            "a2a.trusted_card_keys",
            node,
            format!("expected a list of `{{kid, key_file}}`, found {found}"),
        );
        return out;
    }
    for (i, item) in r.items(v, "a2a.trusted_card_keys").iter().enumerate() {
        let key = format!("a2a.trusted_card_keys[{i}]");
        let kid = r.opt_string(field(item, "kid"), &format!("{key}.kid"));
        let file = r.opt_string(field(item, "key_file"), &format!("{key}.key_file"));
        match (kid, file) {
            (Some(kid), Some(file)) if !kid.is_empty() && !file.trim().is_empty() => {
                if let Some(key_file) = key_path(r, item, &format!("{key}.key_file"), &file) {
                    out.push(TrustedCardKey { kid, key_file });
                }
            }
            _ => r.fail(
                &key,
                item,
                "a trusted key needs `kid` and `key_file` (an SPKI PEM public key)",
            ),
        }
    }
    out
}

/// `file` resolved against the config folder, when it is a readable regular file; otherwise
/// an error at `key` naming the resolved path.
fn key_path(r: &mut Reader<'_>, node: &Value, key: &str, file: &str) -> Option<String> {
    let path = r.config_dir().join(file.trim());
    let problem = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => match std::fs::File::open(&path) {
            Ok(_) => return Some(path.to_string_lossy().into_owned()),
            Err(e) => format!("cannot be read: {e}"),
        },
        Ok(_) => "is not a regular file".to_owned(),
        Err(e) => format!("cannot be read: {e}"),
    };
    let node = field(node, key.rsplit('.').next().unwrap_or(key)).unwrap_or(node);
    r.fail(key, node, format!("key file {} {problem}", path.display()));
    None
}
