//! Skill packages against a hostile registry or hostile neighbours (the real Debian
//! `docker-registry` on 127.0.0.1): `push` pins the digest it computed, not the one a registry
//! reports; a signature is bound to its repository (a valid signature copied next to the same
//! content in another repository is refused); a tampered signature (payload or signature
//! bytes) is refused under `require` naming the reference, the digest and the key expected; a
//! package whose config names another skill than its repository is refused; two sources of
//! one skill id (two packages, a package and a local or plugin skill folder) are a config
//! error naming both.

use molecule_packages::testing::{rewrite_signature, Registry};
use molecule_packages::{PackageRef, PullOptions, TrustedKey};

#[path = "packages_common.rs"]
mod common;
use common::*;

#[path = "packages_proxy.rs"]
mod proxy;

/// Pull options trusting `public`, caching under `dir`.
fn trusting(dir: &std::path::Path, public: &std::path::Path) -> PullOptions {
    PullOptions {
        cache_dir: dir.join("cache"),
        trusted_keys: vec![TrustedKey::load(public).unwrap()],
        ..PullOptions::default()
    }
}

#[tokio::test]
async fn push_refuses_a_registry_that_reports_another_digest_than_the_one_pushed() {
    let registry = Registry::start();
    let lying = proxy::start(&registry.host, "sha256:".to_owned() + &"0".repeat(64)).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = PackageRef::parse(&format!("{lying}/acme/ver:1")).unwrap();
    let err = molecule_packages::push(
        &skill_folder(dir.path()),
        &reference,
        &Default::default(),
        &[],
    )
    .await
    .expect_err("a registry reporting another digest must fail the push")
    .to_string();
    assert!(
        err.contains("the manifest the registry reports after the push")
            && err.contains(&"0".repeat(64)),
        "{err}"
    );
}

#[tokio::test]
async fn a_signature_copied_from_another_repository_is_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let signed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let copy = push_skill(&registry, dir.path(), "mallory/ver", None).await;
    assert_eq!(signed.digest, copy.digest, "packing is deterministic");
    rewrite_signature(
        &registry.host,
        "acme/ver",
        "mallory/ver",
        &copy.digest,
        |p, s| (p, s),
    )
    .await;
    let options = trusting(dir.path(), &public);
    let genuine = PackageRef::parse(&signed.pinned).unwrap();
    molecule_packages::pull(&genuine, &options)
        .await
        .expect("the signed repository pulls");
    let copied = PackageRef::parse(&copy.pinned).unwrap();
    let err = molecule_packages::pull(&copied, &options)
        .await
        .expect_err("a signature of acme/ver must not vouch for mallory/ver")
        .to_string();
    let expected = format!("not `{}/mallory/ver`", registry.host);
    assert!(
        err.contains(&expected) && err.contains(&copy.digest),
        "{err}"
    );
}

#[tokio::test]
async fn a_tampered_signature_is_refused_naming_reference_digest_and_key() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let fingerprint = TrustedKey::load(&public).unwrap().fingerprint;
    let reference = PackageRef::parse(&pushed.pinned).unwrap();
    type Edit = fn(Vec<u8>, String) -> (Vec<u8>, String);
    let edits: [(&str, Edit); 2] = [
        ("payload", |payload, signature| {
            let text = String::from_utf8(payload).unwrap();
            let text = text.replace(
                "cosign container image signature",
                "cosign container image signaturf",
            );
            (text.into_bytes(), signature)
        }),
        ("signature", |payload, signature| {
            let mut bytes = signature.into_bytes();
            let i = bytes.len() / 2;
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            (payload, String::from_utf8(bytes).unwrap())
        }),
    ];
    for (what, edit) in edits {
        let sub = tempfile::tempdir().unwrap();
        // Sign again first: each round tampers with a genuine signature.
        molecule_packages::sign(&reference, &key, None, &[])
            .await
            .expect("sign");
        rewrite_signature(&registry.host, "acme/ver", "acme/ver", &pushed.digest, edit).await;
        let err = molecule_packages::pull(&reference, &trusting(sub.path(), &public))
            .await
            .expect_err("a tampered signature must be refused")
            .to_string();
        for part in [
            pushed.pinned.as_str(),
            pushed.digest.as_str(),
            &fingerprint,
            "refused by packages.signatures `require`",
        ] {
            assert!(err.contains(part), "{what}: `{part}` missing from: {err}");
        }
    }
}

#[tokio::test]
async fn a_package_whose_config_names_another_skill_is_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/admin", Some(&key)).await;
    let reference = PackageRef::parse(&pushed.pinned).unwrap();
    let err = molecule_packages::pull(&reference, &trusting(dir.path(), &public))
        .await
        .expect_err("`ver` must not load as `admin`")
        .to_string();
    assert!(
        err.contains("its config names skill `ver`") && err.contains("load as `admin`"),
        "{err}"
    );
}

#[tokio::test]
async fn two_sources_of_one_skill_id_are_a_config_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let pin = format!("@sha256:{}", "a".repeat(64));
    let (a, b) = (
        format!("127.0.0.1:9/acme/ver{pin}"),
        format!("127.0.0.1:9/other/ver{pin}"),
    );
    let yaml = workspace_yaml(&a, "  signatures: off")
        .replace("skills:\n", &format!("skills:\n  - {b}\n"));
    let text = refusal(dir.path(), &yaml).await;
    assert!(
        text.contains("skill id `ver` is given twice") && text.contains(&a) && text.contains(&b),
        "{text}"
    );
    let folder = dir.path().join("skills/ver");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("SKILL.md"), "---\nname: ver\n---\n").unwrap();
    let text = refusal(dir.path(), &workspace_yaml(&a, "  signatures: off")).await;
    assert!(
        text.contains("is given twice")
            && text.contains(&a)
            && text.contains(&folder.display().to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn a_package_and_a_plugin_skill_of_one_id_are_a_config_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let pinned = format!("127.0.0.1:9/acme/ver@sha256:{}", "a".repeat(64));
    let folder = dir.path().join("plugins/tools/skills/ver");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("SKILL.md"), "---\nname: ver\n---\n").unwrap();
    let text = refusal(dir.path(), &workspace_yaml(&pinned, "  signatures: off")).await;
    assert!(
        text.contains("is given twice")
            && text.contains(&pinned)
            && text.contains(&folder.display().to_string())
            && text.contains("plugin tools"),
        "{text}"
    );
}
