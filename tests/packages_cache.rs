//! The package cache against tampering and races (the real Debian `docker-registry` on
//! 127.0.0.1): an edited, added or removed file under `<cache>/skills/sha256-…/` is never
//! loaded (the folder is verified against the digest-verified layer and unpacked again); a
//! pinned, verified package is served from the cache with the registry gone, its signature
//! verified again from the cached record (a tampered record or a tag goes to the registry);
//! two concurrent pulls of one reference into one cache both succeed.

use molecule_packages::testing::Registry;
use molecule_packages::{PackageRef, PullOptions, SignatureStatus, TrustedKey};

#[path = "packages_common.rs"]
mod common;
use common::*;

/// Pull options trusting `public`, caching in `cache`.
fn trusting(cache: &std::path::Path, public: &std::path::Path) -> PullOptions {
    PullOptions {
        cache_dir: cache.to_owned(),
        trusted_keys: vec![TrustedKey::load(public).unwrap()],
        ..PullOptions::default()
    }
}

#[tokio::test]
async fn a_poisoned_cache_folder_is_unpacked_again_and_never_loaded() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let reference = PackageRef::parse(&pushed.pinned).unwrap();
    let options = trusting(&dir.path().join("cache"), &public);
    let first = molecule_packages::pull(&reference, &options).await.unwrap();
    let genuine = std::fs::read(first.dir.join("tool.wasm")).unwrap();
    let skill_md = std::fs::read_to_string(first.dir.join("SKILL.md")).unwrap();
    type Poison = fn(&std::path::Path);
    let poisons: [(&str, Poison); 3] = [
        ("edited", |d| {
            std::fs::write(d.join("tool.wasm"), b"\0asm poisoned").unwrap()
        }),
        ("added", |d| {
            std::fs::write(d.join("extra.py"), b"import os").unwrap()
        }),
        ("removed", |d| {
            std::fs::remove_file(d.join("SKILL.md")).unwrap()
        }),
    ];
    for (what, poison) in poisons {
        poison(&first.dir);
        let again = molecule_packages::pull(&reference, &options).await.unwrap();
        assert_eq!(again.dir, first.dir);
        let wasm = std::fs::read(again.dir.join("tool.wasm")).unwrap();
        assert!(
            wasm == genuine,
            "{what}: the poisoned tool.wasm is still there"
        );
        assert!(
            !again.dir.join("extra.py").exists(),
            "{what}: an added file is still there"
        );
        let md = std::fs::read_to_string(again.dir.join("SKILL.md")).unwrap();
        assert_eq!(md, skill_md, "{what}");
    }
}

#[tokio::test]
async fn a_pinned_verified_package_pulls_from_the_cache_with_the_registry_gone() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let tag = PackageRef::parse(&format!("{}/acme/ver:1", registry.host)).unwrap();
    let reference = PackageRef::parse(&pushed.pinned).unwrap();
    let cache = dir.path().join("cache");
    let options = trusting(&cache, &public);
    molecule_packages::pull(&reference, &options).await.unwrap();
    drop(registry);
    let offline = molecule_packages::pull(&reference, &options)
        .await
        .expect("a pinned, cached, verified package needs no registry");
    let fingerprint = TrustedKey::load(&public).unwrap().fingerprint;
    assert_eq!(
        offline.origin.signature,
        SignatureStatus::VerifiedByKey {
            key: public.display().to_string(),
            fingerprint: fingerprint.clone()
        }
    );
    let wasm = std::fs::read(offline.dir.join("tool.wasm")).unwrap();
    assert!(wasm.starts_with(b"\0asm"));
    // A tag may have moved: it goes to the registry (gone).
    let err = molecule_packages::pull(&tag, &options).await.unwrap_err();
    assert!(err.to_string().contains("registry error"), "{err}");
    // Another trusted key: the cached signature no longer verifies offline.
    let (_, other) = keys(dir.path(), "other");
    let err = molecule_packages::pull(&reference, &trusting(&cache, &other))
        .await
        .unwrap_err()
        .to_string();
    let other_fingerprint = TrustedKey::load(&other).unwrap().fingerprint;
    for needed in [
        "registry error",
        "cached signature",
        "did not verify with the configured keys",
        pushed.digest.as_str(),
        other_fingerprint.as_str(),
        &other.display().to_string(),
    ] {
        assert!(err.contains(needed), "{needed} missing in: {err}");
    }
    // A cached record reached through a symlink is not read: the registry is asked.
    let hex = pushed.digest.trim_start_matches("sha256:");
    let record = cache.join(format!("skills/sha256-{hex}/signature.json"));
    let moved = dir.path().join("moved-signature.json");
    std::fs::rename(&record, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &record).unwrap();
    let err = molecule_packages::pull(&reference, &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("registry error"), "{err}");
    std::fs::remove_file(&record).unwrap();
    std::fs::rename(&moved, &record).unwrap();
    // A tampered cached signature record: refused offline, the registry is asked.
    tamper_text(&record, "container image", "container imagf");
    let err = molecule_packages::pull(&reference, &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("registry error"), "{err}");
    assert!(err.contains(&pushed.digest), "{err}");
    assert!(err.contains(&fingerprint), "{err}");
}

#[tokio::test]
async fn concurrent_pulls_of_one_reference_into_one_cache_both_succeed() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let reference = PackageRef::parse(&pushed.pinned).unwrap();
    for round in 0..4 {
        let options = trusting(&dir.path().join(format!("cache{round}")), &public);
        let (a, b) = tokio::join!(
            molecule_packages::pull(&reference, &options),
            molecule_packages::pull(&reference, &options)
        );
        let (a, b) = (a.expect("first pull"), b.expect("second pull"));
        assert_eq!(a.dir, b.dir);
        let wasm = std::fs::read(a.dir.join("tool.wasm")).unwrap();
        assert!(wasm.starts_with(b"\0asm"), "round {round}");
        let leftovers: Vec<_> = std::fs::read_dir(options.cache_dir.join("blobs/sha256"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
    }
}
