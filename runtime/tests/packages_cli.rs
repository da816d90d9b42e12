//! `push`, `sign`, `pull` and `check` of skill packages through the binary, against a real
//! registry on 127.0.0.1 (Debian's `docker-registry`): a pushed and signed package pulls
//! verified by its key; `check` on a workspace naming it by tag prints the digest the tag
//! resolved to and the signature status; an unsigned pull under `require` fails naming the
//! digest and the key.

use std::process::{Command, Output};

use molecule_packages::generate_key_pair;
use molecule_packages::testing::Registry;

mod common;
use common::packages::built_skill;
use common::{cache_dir, repo};

fn runtime(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .env_remove("COSIGN_PASSWORD")
        .args(args)
        .output()
        .expect("running molecule-runtime")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn push_sign_pull_and_check_a_skill_package() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = generate_key_pair(dir.path(), "signer").unwrap();
    let (key, public) = (key.to_str().unwrap(), public.to_str().unwrap());
    // The demo crate depends on the SDK by path, so it is refused as source; its built
    // component is pushed instead.
    let source = repo().join("demo/skills/json-query");
    let out = runtime(&["push", source.to_str().unwrap(), "127.0.0.1:1/x/y:1"]);
    assert!(
        text(&out).contains("outside the skill folder"),
        "{}",
        text(&out)
    );
    let skill = built_skill(dir.path());
    let tag = format!("{}/acme/json-query:1", registry.host);
    let out = runtime(&["push", skill.to_str().unwrap(), &tag, "--sign-key", key]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let pinned = stdout.lines().last().unwrap().trim().to_owned();
    let digest = pinned.split('@').nth(1).unwrap().to_owned();
    assert!(stdout.contains(&format!("signed {digest}")), "{stdout}");
    // `sign` by tag: the digest the registry resolved is printed, with a warning.
    let out = runtime(&["sign", &tag, "--key", key]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("@{digest}")),
        "{}",
        text(&out)
    );
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(
        stderr.contains(&format!("resolved it to {digest}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("acme/json-query@{digest}")),
        "{stderr}"
    );
    // By digest: no warning.
    let out = runtime(&["sign", &pinned, "--key", key]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("warning:"), "{}", text(&out));

    let packages = dir.path().join("packages");
    let packages = packages.to_str().unwrap();
    let pull = [
        "pull",
        &pinned,
        "--trusted-key",
        public,
        "--packages-dir",
        packages,
    ];
    let out = runtime(&pull);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("signature: verified by key"), "{report}");
    assert!(report.contains("skill:     json-query (wasm)"), "{report}");

    let (_, other) = generate_key_pair(dir.path(), "other").unwrap();
    let out = runtime(&[
        "pull",
        &pinned,
        "--trusted-key",
        other.to_str().unwrap(),
        "--packages-dir",
        packages,
    ]);
    let report = text(&out);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains(&digest) && report.contains("other.pub"),
        "{report}"
    );

    let adapter = repo().join("tests/guests/echo-adapter");
    let config = format!(
        "runtime: {}\nskills: [\"{tag}\"]\npackages:\n  trusted_keys: [{public}]\n  cache_dir: {packages}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let out = runtime(&["check", "--config-dir", dir.path().to_str().unwrap()]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(&format!("resolved to {digest}")),
        "{report}"
    );
    assert!(report.contains("skill json-query: ok"), "{report}");
    assert!(report.contains("signature: verified by key"), "{report}");
}
