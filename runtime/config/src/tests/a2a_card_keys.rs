//! Tests for `a2a.card_signing` and `a2a.trusted_card_keys`: read when complete, a missing
//! part warns (unsigned card / skipped key), absent means off.

use super::{parse, warning};
use crate::{CardSigningConfig, TrustedCardKey};

#[test]
fn card_keys_are_read() {
    let c = parse(
        "a2a:\n  card_signing: {key_file: /k/card.pem, kid: card-1}\n  trusted_card_keys:\n    - {kid: peer-1, key_file: /k/peer1.pub.pem}\n",
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.a2a.card_signing,
        Some(CardSigningConfig {
            key_file: "/k/card.pem".into(),
            kid: "card-1".into()
        })
    );
    assert_eq!(
        c.a2a.trusted_card_keys,
        vec![TrustedCardKey {
            kid: "peer-1".into(),
            key_file: "/k/peer1.pub.pem".into()
        }]
    );
    let none = parse("");
    assert_eq!(none.a2a.card_signing, None);
    assert!(none.a2a.trusted_card_keys.is_empty());
}

#[test]
fn incomplete_card_keys_warn() {
    let c =
        parse("a2a:\n  card_signing: {key_file: /k/card.pem}\n  trusted_card_keys: [{kid: p}]\n");
    assert_eq!(c.a2a.card_signing, None);
    assert!(warning(&c, "a2a.card_signing").message.contains("unsigned"));
    assert!(c.a2a.trusted_card_keys.is_empty());
    assert!(warning(&c, "a2a.trusted_card_keys[0]")
        .message
        .contains("skipping"));
}
