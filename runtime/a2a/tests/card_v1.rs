//! The two forms of the agent card: the 1.0 card (valid against the vendored 1.0 AgentCard
//! schema, `schema/agent-card.schema.json`) at `/.well-known/agent-card-1.0.json` and at the
//! well-known path when the client asks for 1.0; the merged card with the 0.3 fields at the
//! well-known path for requests without a version (0.3 clients).

mod common;

use common::{spawn, Setup};
use molecule_a2a::card_signing::{verify_card, CardSigner, TrustedKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::Value;

const LEGACY_FIELDS: [&str; 3] = ["url", "preferredTransport", "protocolVersion"];

fn schema() -> jsonschema::Validator {
    let text = include_str!("../schema/agent-card.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn assert_valid(card: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(card)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "card not valid against 1.0: {errors:?}\n{card}"
    );
}

async fn get(url: &str, version: Option<&str>) -> (reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(v) = version {
        req = req.header("A2A-Version", v);
    }
    let resp = req.send().await.expect("card request");
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    (headers, resp.json().await.expect("card JSON"))
}

fn signer() -> CardSigner {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("key");
    CardSigner::from_pkcs8(der.as_ref(), "card-key-1").expect("signer")
}

#[tokio::test]
async fn v1_card_validates_on_every_route_that_serves_it() {
    let s = spawn(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let well_known = format!("{}/.well-known/agent-card.json", s.url);
    for (url, version) in [
        (format!("{}/.well-known/agent-card-1.0.json", s.url), None),
        (well_known.clone(), Some("1.0")),
        (format!("{well_known}?version=1.0"), None),
    ] {
        let (headers, card) = get(&url, version).await;
        assert_valid(&card);
        for f in LEGACY_FIELDS {
            assert!(
                card.get(f).is_none(),
                "{url} {version:?}: `{f}` on the 1.0 card"
            );
        }
        assert_eq!(headers["vary"], "A2A-Version");
        assert!(
            card["securitySchemes"].is_object(),
            "bearer declared: {card}"
        );
    }
    // The merged card is what the schema refuses: the check can fail.
    let (_, merged) = get(&well_known, None).await;
    assert!(schema().validate(&merged).is_err());
}

#[tokio::test]
async fn request_without_version_gets_the_03_fields() {
    let s = spawn(Setup::default()).await;
    let url = format!("{}/.well-known/agent-card.json", s.url);
    let (h_legacy, card) = get(&url, None).await;
    assert_eq!(card["url"], s.url.as_str());
    assert_eq!(card["preferredTransport"], "JSONRPC");
    assert_eq!(card["protocolVersion"], "0.3.0");
    assert!(card["supportedInterfaces"].is_array());
    // A 0.3 client that sends its version also gets them.
    let (_, card03) = get(&url, Some("0.3")).await;
    assert_eq!(card03["protocolVersion"], "0.3.0");
    let (h_v1, _) = get(&url, Some("1.0")).await;
    assert_ne!(h_legacy["etag"], h_v1["etag"], "one ETag per form");
}

#[tokio::test]
async fn signed_card_verifies_in_both_forms_and_stays_stable() {
    let s = spawn(Setup::default()).await;
    let signer = signer();
    let trusted = TrustedKey::from_pem("card-key-1", signer.public_key_pem().as_bytes()).unwrap();
    s.server.card().set_signer(Some(signer));
    let v1_url = format!("{}/.well-known/agent-card-1.0.json", s.url);
    let (h1, v1) = get(&v1_url, None).await;
    assert_valid(&v1);
    assert_eq!(
        verify_card(&v1, std::slice::from_ref(&trusted)).unwrap(),
        "card-key-1"
    );
    let (_, merged) = get(&format!("{}/.well-known/agent-card.json", s.url), None).await;
    assert_eq!(merged["signatures"], v1["signatures"]);
    assert_eq!(
        verify_card(&merged, std::slice::from_ref(&trusted)).unwrap(),
        "card-key-1"
    );
    // Rebuilding the same card keeps the signature and so the ETag.
    let source = (*s.server.card().get()).clone();
    s.server.card().set(source);
    let (h2, again) = get(&v1_url, None).await;
    assert_eq!(h1["etag"], h2["etag"]);
    assert_eq!(again["signatures"], v1["signatures"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_resolves_both_forms_and_sends() {
    let python = tokio::task::spawn_blocking(|| molecule_python_venv::venv_python(&[]))
        .await
        .expect("venv setup task");
    let s = spawn(Setup::default()).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/card_forms_check.py");
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        molecule_python_venv::run(
            std::process::Command::new(&python).arg(&script).arg(&url),
            "python card_forms_check.py",
        )
    })
    .await
    .expect("python task");
    for line in [
        "OK factory echo: one",
        "OK merged echo: two",
        "OK v1-route echo: three",
        "ALL OK",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing `{line}` in:\n{out}"
        );
    }
}
