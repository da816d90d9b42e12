//! Skill packages from a real OCI registry (Debian's `docker-registry` on 127.0.0.1, started
//! per test): a pushed and signed skill pinned by digest boots and its tool answers; an
//! unsigned or wrongly signed one is refused under `require` naming the reference, the digest
//! and the key expected, and loads with a warning under `warn`; a tampered blob or manifest is
//! refused naming the digest; a tag warns and resolves to the pushed digest; hostile content
//! (`..`, absolute paths, links) is refused without writing outside the cache.

use std::path::Path;

use molecule_packages::testing::Registry;
use molecule_packages::{
    PackageRef, Packed, PullOptions, SignaturePolicy, SignatureStatus, TrustedKey,
};
use molecule_tests::try_boot_config_env;

#[path = "packages_common.rs"]
mod common;
use common::*;

#[tokio::test]
async fn a_signed_package_pinned_by_digest_boots_and_its_tool_answers() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let packages = format!("  trusted_keys: [{}]", public.display());
    let ws = try_boot_config_env(dir.path(), &workspace_yaml(&pushed.pinned, &packages), &[])
        .await
        .expect("boot");
    let out = ws.skills.call("version", "{}").await.expect("tool call");
    assert_eq!(serde_json::from_str::<String>(&out).unwrap(), "v1");
    let origin = &ws.packages[0];
    assert_eq!(origin.digest, pushed.digest);
    assert!(origin.pinned);
    let fingerprint = TrustedKey::load(&public).unwrap().fingerprint;
    assert_eq!(
        origin.signature,
        SignatureStatus::VerifiedByKey {
            key: public.display().to_string(),
            fingerprint
        }
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unsigned_package_under_require_is_refused_naming_reference_digest_and_key() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keys(dir.path(), "trusted");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", None).await;
    let packages = format!(
        "  signatures: require\n  trusted_keys: [{}]",
        public.display()
    );
    let text = refusal(dir.path(), &workspace_yaml(&pushed.pinned, &packages)).await;
    let fingerprint = TrustedKey::load(&public).unwrap().fingerprint;
    for part in [
        pushed.pinned.as_str(),
        pushed.digest.as_str(),
        &public.display().to_string(),
        &fingerprint,
        &PackageRef::signature_tag(&pushed.digest),
        "has no signature",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[tokio::test]
async fn a_package_signed_by_another_key_is_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (other, _) = keys(dir.path(), "other");
    let (_, trusted) = keys(dir.path(), "trusted");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&other)).await;
    let packages = format!("  trusted_keys: [{}]", trusted.display());
    let text = refusal(dir.path(), &workspace_yaml(&pushed.pinned, &packages)).await;
    let fingerprint = TrustedKey::load(&trusted).unwrap().fingerprint;
    assert!(text.contains("none verifies with a trusted key"), "{text}");
    assert!(
        text.contains(&pushed.digest) && text.contains(&fingerprint),
        "{text}"
    );
}

#[tokio::test]
async fn warn_loads_an_unsigned_package_and_says_so() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let pushed = push_skill(&registry, dir.path(), "acme/ver", None).await;
    let yaml = workspace_yaml(&pushed.pinned, "  signatures: warn");
    let ws = try_boot_config_env(dir.path(), &yaml, &[])
        .await
        .expect("boot");
    assert!(
        matches!(&ws.packages[0].signature, SignatureStatus::UnsignedWarned { reason } if reason.contains("no trusted key")),
        "{:?}",
        ws.packages[0]
    );
    let out = ws.skills.call("version", "{}").await.expect("tool call");
    assert_eq!(serde_json::from_str::<String>(&out).unwrap(), "v1");
    ws.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_tampered_layer_in_the_registry_is_refused_naming_its_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let layer = pushed.packed.layer_digest();
    tamper(&registry.blob_file(&layer));
    let packages = format!("  trusted_keys: [{}]", public.display());
    let text = refusal(dir.path(), &workspace_yaml(&pushed.pinned, &packages)).await;
    assert!(
        text.contains(&format!("blob {layer} does not match its digest")),
        "{text}"
    );
}

#[tokio::test]
async fn a_tampered_manifest_is_refused_naming_the_pinned_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    tamper_text(
        &registry.blob_file(&pushed.digest),
        "answers its",
        "ANSWERS ITS",
    );
    let packages = format!("  trusted_keys: [{}]", public.display());
    let text = refusal(dir.path(), &workspace_yaml(&pushed.pinned, &packages)).await;
    assert!(
        text.contains("the manifest does not match its digest"),
        "{text}"
    );
    assert!(
        text.contains(&format!("expected {}", pushed.digest)),
        "{text}"
    );
}

#[tokio::test]
async fn a_tag_warns_in_preflight_and_resolves_to_the_pushed_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keys(dir.path(), "signer");
    let pushed = push_skill(&registry, dir.path(), "acme/ver", Some(&key)).await;
    let tag = format!("{}/acme/ver:1", registry.host);
    let packages = format!("  trusted_keys: [{}]", public.display());
    let yaml = workspace_yaml(&tag, &packages);
    let plan = molecule_tests::local_plan(dir.path(), &yaml, &[]);
    let warned = plan.preflight.checks.iter().any(|c| {
        c.status == molecule_config::Status::Warn
            && c.name == format!("skill {tag}")
            && c.detail.contains("without a digest")
    });
    assert!(warned, "{}", plan.preflight.render());
    let pulled = molecule_runtime::workspace::packages::pull_packages(&plan)
        .await
        .expect("pull by tag");
    assert!(!pulled[0].origin.pinned);
    assert_eq!(pulled[0].origin.digest, pushed.digest);
}

/// A content layer holding one entry named `name` of `kind` (a link points at `/etc/passwd`).
fn hostile_layer(name: &str, kind: tar::EntryType) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut md = tar::Header::new_ustar();
    let text = b"---\nname: evil\n---\n";
    md.set_size(text.len() as u64);
    md.set_mode(0o644);
    md.set_cksum();
    tar.append_data(&mut md, "SKILL.md", &text[..]).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(0o644);
    if kind == tar::EntryType::Symlink {
        header.set_size(0);
        header.set_link_name("/etc/passwd").unwrap();
    } else {
        header.set_size(4);
    }
    // Written raw: tar's safe setters refuse `..` and absolute names, a hostile packer does not.
    let raw = &mut header.as_old_mut().name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    header.set_cksum();
    let data: &[u8] = if kind == tar::EntryType::Symlink {
        b""
    } else {
        b"evil"
    };
    tar.append(&header, data).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn hostile_packages_are_refused_and_write_nothing_outside_the_cache() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let genuine = molecule_packages::pack(&skill_folder(root.path()), &Default::default()).unwrap();
    let cache = dir.path().join("cache");
    let options = PullOptions {
        cache_dir: cache.clone(),
        policy: SignaturePolicy::Off,
        ..PullOptions::default()
    };
    for (i, (name, kind, why)) in [
        (
            "../escaped",
            tar::EntryType::Regular,
            "climbs out of the package",
        ),
        (
            "/tmp/absolute",
            tar::EntryType::Regular,
            "is an absolute path",
        ),
        ("link", tar::EntryType::Symlink, "is a symbolic link"),
        ("hard", tar::EntryType::Link, "is a hard link"),
        (
            "Cargo.toml",
            tar::EntryType::Regular,
            "never built on the host",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let packed = Packed {
            layer: hostile_layer(name, kind),
            ..genuine.clone()
        };
        let reference = PackageRef::parse(&format!("{}/acme/evil{i}:1", registry.host)).unwrap();
        let pushed = molecule_packages::push_packed(packed, &reference, &[])
            .await
            .expect("push");
        let pinned = PackageRef::parse(&pushed.pinned).unwrap();
        let err = molecule_packages::pull(&pinned, &options)
            .await
            .expect_err("a hostile package must be refused")
            .to_string();
        assert!(
            err.contains(why) && err.contains(&pushed.digest),
            "{name}: {err}"
        );
    }
    assert!(!cache.join("skills/escaped").exists() && !cache.join("escaped").exists());
    assert!(!Path::new("/tmp/absolute").exists());
}
