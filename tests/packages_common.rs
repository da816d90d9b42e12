//! Helpers shared by the skill-package tests (`packages*.rs`): a skill folder with the
//! `versioned` component, pushing it (signed or not) to the test registry, a workspace
//! config.yaml naming it, key pairs, boot refusals and tampering with stored files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use molecule_packages::testing::Registry;
use molecule_packages::{generate_key_pair, PackageRef, Pushed};
use molecule_tests::{guest_wasm, repo_root, try_boot_config_env};

/// A skill folder `<root>/ver` with the `versioned` component (tool `version` → "v1").
pub fn skill_folder(root: &Path) -> PathBuf {
    let dir = root.join("ver");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        "---\nname: ver\ndescription: answers its version\n---\n# ver\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tool.wasm"),
        guest_wasm("tests/guests/versioned").as_slice(),
    )
    .unwrap();
    dir
}

/// Pushes the `ver` skill to `<registry>/<repo>:1` (`repo` ends in `/ver`: the skill id must
/// match the package's name), signed with `key` when given.
pub async fn push_skill(
    registry: &Registry,
    root: &Path,
    repo: &str,
    key: Option<&Path>,
) -> Pushed {
    let reference = PackageRef::parse(&format!("{}/{repo}:1", registry.host)).unwrap();
    let dir = skill_folder(root);
    let pushed = molecule_packages::push(&dir, &reference, &Default::default(), &[])
        .await
        .expect("push");
    if let Some(key) = key {
        let pinned = PackageRef::parse(&pushed.pinned).unwrap();
        let signed = molecule_packages::sign(&pinned, key, None, &[])
            .await
            .expect("sign");
        assert_eq!(signed, pushed.digest);
    }
    pushed
}

/// config.yaml naming `skill` with `packages` (YAML lines under `packages:`).
pub fn workspace_yaml(skill: &str, packages: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: Pkg\nruntime: {}\nmodel: scripted:demo\nskills:\n  - {skill}\npackages:\n{packages}\n",
        adapter.display()
    )
}

/// A key pair in `dir` named `stem`; returns (private, public).
pub fn keys(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    generate_key_pair(dir, stem).expect("key pair")
}

/// The boot error's text for `yaml` in `dir` (panics if it boots).
pub async fn refusal(dir: &Path, yaml: &str) -> String {
    match try_boot_config_env(dir, yaml, &[]).await {
        Ok(_) => panic!("the workspace booted; expected a refusal"),
        Err(err) => format!("{err:#}"),
    }
}

/// Flips one byte of `file` (same length: the registry still serves it).
pub fn tamper(file: &Path) {
    let mut bytes = std::fs::read(file).expect("stored blob");
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(file, bytes).unwrap();
}

/// Replaces `from` by `to` (same length) in `file`: still valid JSON, other content.
pub fn tamper_text(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("stored manifest");
    assert!(text.contains(from), "{text}");
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}
