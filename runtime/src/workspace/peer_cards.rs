//! Peers' signed agent cards (A2A 1.0 §8.4): with `a2a.trusted_card_keys` configured, a peer
//! is used only when its card carries a signature by a trusted key that verifies; otherwise the
//! error names the peer and the kid. The card checked is the signed A2A card the peer
//! registered under `signed_agent_card` (a molecule workspace's registry card is a reduced
//! view, see `platform::platform_card`), or else the registry card itself (a peer that
//! registered its A2A card as it is).

use std::path::Path;

use molecule_a2a::card_signing::{verify_card, TrustedKey};
use molecule_config::TrustedCardKey;
use serde_json::Value;

/// The key under which a registered card carries the signed A2A 1.0 card (A2A 1.0 §8.4) when
/// `a2a.card_signing` is set: the platform's card shape (contract `POST /registry/register`)
/// is a reduced view, so the signature travels with the exact card it covers and peers
/// verify that (`platform::platform_card` puts it there).
pub const SIGNED_CARD_KEY: &str = "signed_agent_card";

/// Loads `a2a.trusted_card_keys`. Errors: a key file that cannot be read or is not a P-256 or
/// Ed25519 public key PEM (the message names the kid and the file).
pub(crate) fn load_trusted(keys: &[TrustedCardKey]) -> anyhow::Result<Vec<TrustedKey>> {
    keys.iter()
        .map(|k| {
            TrustedKey::from_pem_file(&k.kid, Path::new(&k.key_file))
                .map_err(|e| anyhow::anyhow!("a2a.trusted_card_keys: {e}"))
        })
        .collect()
}

/// Checks `peer_id`'s card against `trusted`; no keys: every card passes. The error is the
/// text shown to the caller, e.g. "peer `ws-2`: the agent card signature by kid `k1` does
/// not verify: …".
pub(crate) fn check_peer_card(
    peer_id: &str,
    card: &Value,
    trusted: &[TrustedKey],
) -> Result<(), String> {
    if trusted.is_empty() {
        return Ok(());
    }
    let card = match card.get(SIGNED_CARD_KEY) {
        Some(signed) if signed.is_object() => signed,
        _ => card,
    };
    verify_card(card, trusted)
        .map(|_| ())
        .map_err(|e| format!("peer `{peer_id}`: {e} (a2a.trusted_card_keys)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_a2a::card_signing::CardSigner;
    use ring::rand::SystemRandom;
    use ring::signature::Ed25519KeyPair;
    use serde_json::json;

    fn signer(kid: &str) -> CardSigner {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
        CardSigner::from_pkcs8(der.as_ref(), kid).expect("signer")
    }

    #[test]
    fn peer_card_checked_only_with_trusted_keys_and_errors_name_peer_and_kid() {
        let s = signer("peer-k1");
        let trusted =
            vec![TrustedKey::from_pem("peer-k1", s.public_key_pem().as_bytes()).expect("pem")];
        let mut card = json!({"name": "Peer", "description": "d", "version": "1"});
        assert!(check_peer_card("ws-2", &card, &[]).is_ok());
        let unsigned = check_peer_card("ws-2", &card, &trusted).unwrap_err();
        assert!(
            unsigned.contains("peer `ws-2`") && unsigned.contains("not signed"),
            "{unsigned}"
        );
        s.sign(&mut card).expect("sign");
        assert!(check_peer_card("ws-2", &card, &trusted).is_ok());
        card["description"] = json!("changed");
        let bad = check_peer_card("ws-2", &card, &trusted).unwrap_err();
        assert!(
            bad.contains("peer `ws-2`") && bad.contains("`peer-k1`"),
            "{bad}"
        );
    }

    /// A trusted key file that is not a public key PEM (here: a private key) stops the start
    /// with an error naming the setting, the kid and the file.
    #[test]
    fn a_bad_trusted_key_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("peer-private.pem");
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        std::fs::write(&file, pem).expect("write");
        let keys = [TrustedCardKey {
            kid: "peer-a".into(),
            key_file: file.display().to_string(),
        }];
        let err = load_trusted(&keys).unwrap_err().to_string();
        assert!(err.contains("a2a.trusted_card_keys"), "{err}");
        assert!(err.contains("`peer-a`"), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
    }
}
