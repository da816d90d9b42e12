//! Signed Agent Cards (A2A 1.0 §8.4): RFC 8785 canonical form checked against the RFC's own
//! examples, ES256 and EdDSA sign → verify, and every way a verification must fail.

use molecule_a2a::card_signing::{
    canonical, canonical_payload, verify_card, CardSignatureError, CardSigner, TrustedKey,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

fn canon(text: &str) -> String {
    let v: Value = serde_json::from_str(text).expect("vector is JSON");
    String::from_utf8(canonical(&v).expect("canonical")).expect("UTF-8")
}

/// RFC 8785 §3.2.2 (the example with numbers, a string with escapes and literals).
#[test]
fn rfc8785_section_3_2_2_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(canon(input), expected);
}

/// RFC 8785 §3.2.3: properties sorted by UTF-16 code units (the emoji, a surrogate pair,
/// sorts before U+FB33 although its UTF-8 bytes sort after).
#[test]
fn rfc8785_section_3_2_3_utf16_key_order() {
    let input = r#"{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    // serde_json re-sorts maps when parsing, so the order is checked on the text.
    let text = canon(input);
    let order = [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ];
    let positions: Vec<usize> = order.iter().map(|n| text.find(n).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

/// RFC 8785 Appendix B: ECMAScript number serialization (IEEE-754 bits → text; each value
/// cross-checked against the shortest round-trip digits of Python's `repr`).
#[test]
fn rfc8785_appendix_b_numbers() {
    for (bits, expected) in [
        (0x0000_0000_0000_0000_u64, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
        (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x4415_af1d_78b5_8c3f, "99999999999999980000"),
        (0x4415_af1d_78b5_8c40, "100000000000000000000"),
        (0x4415_af1d_78b5_8c41, "100000000000000020000"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
        (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
    ] {
        let v = json!(f64::from_bits(bits));
        assert_eq!(
            String::from_utf8(canonical(&v).unwrap()).unwrap(),
            expected,
            "{bits:#x}"
        );
    }
}

fn card() -> Value {
    json!({
        "name": "Echo",
        "description": "Echo agent",
        "version": "1.0.0",
        "supportedInterfaces": [{"url": "http://127.0.0.1:1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
        "capabilities": {"streaming": true, "pushNotifications": false, "extensions": []},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "echo", "name": "Echo", "description": "Echoes", "tags": ["t"]}]
    })
}

fn es256(kid: &str) -> CardSigner {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    CardSigner::from_pkcs8(der.as_ref(), kid).unwrap()
}

fn ed25519(kid: &str) -> CardSigner {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    CardSigner::from_pkcs8(der.as_ref(), kid).unwrap()
}

fn trust(s: &CardSigner) -> TrustedKey {
    TrustedKey::from_pem(s.kid(), s.public_key_pem().as_bytes()).unwrap()
}

#[test]
fn spec_default_value_example_canonical_form() {
    // A2A 1.0 §8.4.1: empty non-required values go, REQUIRED ones and set optionals stay.
    let card = json!({
        "name": "Example Agent", "description": "",
        "capabilities": {"streaming": false, "pushNotifications": false, "extensions": []},
        "skills": [], "signatures": [{"protected": "x", "signature": "y"}],
        "url": "http://legacy", "protocolVersion": "0.3.0", "iconUrl": ""
    });
    assert_eq!(
        String::from_utf8(canonical_payload(&card).unwrap()).unwrap(),
        r#"{"capabilities":{"pushNotifications":false,"streaming":false},"description":"","name":"Example Agent","skills":[]}"#
    );
}

#[test]
fn sign_then_verify_with_both_algorithms() {
    for signer in [es256("k-es"), ed25519("k-ed")] {
        let mut c = card();
        signer.sign(&mut c).unwrap();
        let header: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                c["signatures"][0]["protected"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(header["kid"], signer.kid());
        assert_eq!(header["alg"], signer.alg().name());
        assert_eq!(header["typ"], "JOSE");
        assert_eq!(verify_card(&c, &[trust(&signer)]).unwrap(), signer.kid());
        // Key order and whitespace of the received card do not matter.
        let reordered: Value =
            serde_json::from_str(&serde_json::to_string_pretty(&c).unwrap()).unwrap();
        assert!(verify_card(&reordered, &[trust(&signer)]).is_ok());
    }
}

#[test]
fn tampered_card_fails_naming_the_kid() {
    let signer = es256("k1");
    let mut c = card();
    signer.sign(&mut c).unwrap();
    c["description"] = json!("Evil agent");
    match verify_card(&c, &[trust(&signer)]) {
        Err(e @ CardSignatureError::BadSignature { .. }) => {
            assert!(e.to_string().contains("`k1`"), "{e}")
        }
        other => panic!("expected BadSignature, got {other:?}"),
    }
}

#[test]
fn wrong_key_unknown_kid_unsigned_and_alg_mismatch_fail() {
    let signer = es256("k1");
    let mut c = card();
    signer.sign(&mut c).unwrap();
    // Same kid, other key.
    let impostor = trust(&es256("k1"));
    assert!(matches!(
        verify_card(&c, &[impostor]),
        Err(CardSignatureError::BadSignature { .. })
    ));
    // No trusted kid.
    let other = trust(&ed25519("k2"));
    match verify_card(&c, &[other]) {
        Err(CardSignatureError::UntrustedKid(kids)) => assert_eq!(kids, vec!["k1".to_string()]),
        r => panic!("{r:?}"),
    }
    // Trusted kid names an Ed25519 key, the header says ES256.
    let ed_same_kid =
        TrustedKey::from_pem("k1", ed25519("k1").public_key_pem().as_bytes()).unwrap();
    assert!(matches!(
        verify_card(&c, &[ed_same_kid]),
        Err(CardSignatureError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_card(&card(), &[trust(&signer)]),
        Err(CardSignatureError::Unsigned)
    ));
}

#[test]
fn bad_keys_are_clear_errors() {
    assert!(CardSigner::from_pem(b"not pem", "k").is_err());
    let sec1 = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIP8=\n-----END EC PRIVATE KEY-----\n";
    let err = CardSigner::from_pem(sec1, "k").unwrap_err();
    assert!(err.contains("PKCS#8"), "{err}");
    assert!(TrustedKey::from_pem(
        "k",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    )
    .is_err());
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    assert!(CardSigner::from_pkcs8(der.as_ref(), "").is_err());
}
