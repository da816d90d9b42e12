//! Signed agent cards against the official Python a2a-sdk 1.3.0 verifier and signer
//! (`a2a.utils.signing`, with PyJWT pinned): it verifies the card we serve (both forms) and
//! refuses a tampered one; we verify a card it signed. Fails (never skips) without PyPI.

mod common;

use std::path::Path;
use std::process::Command;

use common::{spawn, Setup};
use molecule_a2a::card_signing::{verify_card, CardSigner, TrustedKey};
use molecule_python_venv::{run, venv_python};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::Value;

/// PyJWT for the SDK's `signing` extra, pinned.
const PYJWT: &str = "PyJWT==2.10.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_verifies_our_card_and_we_verify_its() {
    let python = tokio::task::spawn_blocking(|| venv_python(&[PYJWT]))
        .await
        .expect("venv setup task");
    let s = spawn(Setup::default()).await;
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
    let signer = CardSigner::from_pkcs8(der.as_ref(), "rs-k1").expect("signer");
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = dir.path().join("rs-k1.pub.pem");
    std::fs::write(&pem, signer.public_key_pem()).expect("write pem");
    s.server.card().set_signer(Some(signer));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/card_signing_check.py");
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            Command::new(&python)
                .arg(&script)
                .arg(&url)
                .arg(&pem)
                .arg("rs-k1"),
            "python card_signing_check.py",
        )
    })
    .await
    .expect("python task");
    eprintln!("python output:\n{out}");
    for line in [
        "OK verify-merged Echo",
        "OK verify-v1 interfaces=3",
        "OK tamper-refused",
        "ALL OK",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing `{line}` in:\n{out}"
        );
    }
    let field = |prefix: &str| -> Value {
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .expect(prefix);
        serde_json::from_str(line).expect("JSON")
    };
    let card = field("CARD ");
    let public = field("PUB ");
    let key = TrustedKey::from_pem("py-k1", public.as_str().expect("pem").as_bytes()).expect("key");
    assert_eq!(
        verify_card(&card, std::slice::from_ref(&key)).expect("verifies"),
        "py-k1"
    );
    let mut tampered = card.clone();
    tampered["name"] = "Other".into();
    assert!(verify_card(&tampered, &[key]).is_err());
}
