//! `molecule-runtime inspect` end to end: a workspace with a Rust crate skill, a prebuilt
//! skill and a Python skill; `--json` gives the documented shape (versions, each skill's
//! source kind and path, digest, `oci: null`, requested / granted / effective capabilities,
//! secrets by name and use, never a value), and the human form names each skill and what it
//! runs with. Nothing is built. A workspace pinning a signed package pushed to a real
//! registry (Debian's `docker-registry` on 127.0.0.1) lists it with `oci: {reference, digest,
//! pinned, signature}`; one whose trusted key does not match lists the error and exits 1.
//! `keygen` writes a usable pair, the private key mode 0600, and refuses to overwrite.

use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

mod common;
use common::packages::built_skill;
use common::{cache_dir, repo};
use molecule_packages::testing::Registry;
use std::process::Output;

/// A workspace in a temp folder: `notes` (crate, linked from demo/skills), `caller`
/// (prebuilt: fake `tool.wasm` bytes, requesting a host and a secret) and `py` (Python).
fn workspace() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    std::fs::create_dir_all(skills.join("caller")).unwrap();
    std::fs::create_dir_all(skills.join("py")).unwrap();
    std::os::unix::fs::symlink(repo().join("demo/skills/notes"), skills.join("notes")).unwrap();
    let wasm = b"\0asm fake component bytes".to_vec();
    std::fs::write(skills.join("caller/tool.wasm"), &wasm).unwrap();
    std::fs::write(
        skills.join("caller/SKILL.md"),
        "---\nname: caller\ndescription: calls an API\nversion: 1.2.0\ncapabilities:\n  \
         hosts: [\"https://api.example.com\"]\n  secrets: [API_TOKEN]\n  interfaces: [config]\n---\nbody\n",
    )
    .unwrap();
    std::fs::write(
        skills.join("py/SKILL.md"),
        "---\nname: py\ndescription: python\n---\nbody\n",
    )
    .unwrap();
    std::fs::write(skills.join("py/app.py"), "print('hi')\n").unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let config = format!(
        "runtime: {}\ngrants:\n  skills:\n    notes: {{interfaces: [memory]}}\n    caller:\n      \
         hosts: [\"https://api.example.com\"]\n      interfaces: [config]\n      secrets:\n        \
         API_TOKEN: {{hosts: [\"https://api.example.com\"], body: true}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    (dir, wasm)
}

fn inspect(dir: &std::path::Path, json: bool) -> String {
    let mut args = vec!["inspect", "--config-dir", dir.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env("API_TOKEN", "sk-must-never-show")
        .env_remove("LOG_LEVEL")
        .args(&args)
        .output()
        .expect("running molecule-runtime");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("sk-must-never-show"), "{stdout}");
    stdout
}

fn skill_of<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no skill {id} in {report:#}"))
}

#[test]
fn inspect_json_has_the_documented_shape() {
    let (dir, wasm) = workspace();
    let report: Value = serde_json::from_str(&inspect(dir.path(), true)).unwrap();
    assert_eq!(report["schema"], "molecule-runtime/inspect/v1");
    assert_eq!(report["runtime_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["wit_package"], "molecule:runtime@0.1.0");
    assert_eq!(report["config_errors"], serde_json::json!([]));
    assert_eq!(report["adapter"]["source"]["kind"], "crate");
    assert!(report["adapter"]["digest"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(report["skills"].as_array().unwrap().len(), 3, "{report:#}");

    let caller = skill_of(&report, "caller");
    assert_eq!(caller["version"], "1.2.0");
    assert_eq!(caller["source"]["kind"], "prebuilt");
    assert!(caller["source"]["path"]
        .as_str()
        .unwrap()
        .ends_with("caller/tool.wasm"));
    let expected = format!("sha256:{}", hex::encode(Sha256::digest(&wasm)));
    assert_eq!(caller["digest"]["digest"], expected);
    assert_eq!(caller["digest"]["of"], "component");
    assert_eq!(caller["oci"], Value::Null);
    assert_eq!(caller["requested"]["secrets"][0]["use"], "requested");
    let secret = &caller["effective"]["secrets"][0];
    assert_eq!(secret["name"], "API_TOKEN");
    assert_eq!(secret["use"], "placeholder");
    assert_eq!(
        secret["hosts"],
        serde_json::json!(["https://api.example.com"])
    );
    assert_eq!(secret["body"], true);
    assert_eq!(
        caller["effective"]["interfaces"],
        serde_json::json!(["log", "config"])
    );
    assert_eq!(caller["denials"], serde_json::json!([]));

    let notes = skill_of(&report, "notes");
    assert_eq!(notes["source"]["kind"], "crate");
    assert_eq!(notes["digest"]["of"], "source-tree");
    assert_eq!(
        notes["effective"]["interfaces"],
        serde_json::json!(["log", "memory"])
    );
    assert!(notes["effective"]["memory_limit_bytes"].as_u64().unwrap() > 0);
    let py = skill_of(&report, "py");
    assert_eq!(py["source"]["kind"], "python");
    assert_eq!(py["granted"]["text"], "nothing");
}

#[test]
fn inspect_names_each_skill_and_its_effective_capabilities() {
    let (dir, _) = workspace();
    let table = inspect(dir.path(), false);
    assert!(
        table.starts_with(&format!(
            "molecule-runtime {} (WIT molecule:runtime@0.1.0)",
            env!("CARGO_PKG_VERSION")
        )),
        "{table}"
    );
    assert!(table.contains("skill caller 1.2.0: prebuilt "), "{table}");
    assert!(table.contains("skill notes 0.1.0: crate "), "{table}");
    assert!(table.contains("skill py: python "), "{table}");
    assert!(
        table.contains(
            "effective: hosts [https://api.example.com]; secrets [API_TOKEN: placeholder → \
             https://api.example.com (headers, body)]; interfaces [log, config]"
        ),
        "{table}"
    );
    assert!(
        table.contains("effective: interfaces [log, memory]"),
        "{table}"
    );
    assert!(table.contains("digest:    sha256:"), "{table}");
}

/// `molecule-runtime ARGS` with a data folder under `data` (its package cache).
fn runtime(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env("MOLECULE_DATA_DIR", data)
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("LOG_LEVEL")
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

/// `keygen DIR --name NAME`; returns (private, public) from its output.
fn keygen(dir: &std::path::Path, name: &str) -> (String, String) {
    let out = runtime(dir, &["keygen", dir.to_str().unwrap(), "--name", name]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let path = |prefix: &str| {
        let line = stdout.lines().find(|l| l.starts_with(prefix));
        line.unwrap_or_else(|| panic!("no `{prefix}` in {stdout}"))[prefix.len()..]
            .trim()
            .to_owned()
    };
    (path("private key:"), path("public key:"))
}

/// A workspace in `dir/NAME` pinning `reference`, trusting `public`.
fn package_workspace(dir: &std::path::Path, name: &str, reference: &str, public: &str) -> String {
    package_workspace_with(dir, name, reference, public, "")
}

/// [`package_workspace`] with `extra` appended to config.yaml.
fn package_workspace_with(
    dir: &std::path::Path,
    name: &str,
    reference: &str,
    public: &str,
    extra: &str,
) -> String {
    let config = dir.join(name);
    std::fs::create_dir_all(&config).unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "runtime: {}\nskills: [\"{reference}\"]\npackages:\n  trusted_keys: [{public}]\n{extra}",
        adapter.display()
    );
    std::fs::write(config.join("config.yaml"), yaml).unwrap();
    config.to_str().unwrap().to_owned()
}

#[test]
fn keygen_writes_a_private_key_0600_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "cosign");
    assert!(key.ends_with("cosign.key") && public.ends_with("cosign.pub"));
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read(&key).unwrap();
    assert!(String::from_utf8_lossy(&before).contains("PRIVATE KEY"));
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .contains("PUBLIC KEY"));
    let out = runtime(dir.path(), &["keygen", dir.path().to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn inspect_lists_a_pulled_package_with_its_digest_and_signature() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "signer");
    let (_, other) = keygen(dir.path(), "other");
    let skill = built_skill(dir.path());
    let tag = format!("{}/acme/json-query:1", registry.host);
    let out = runtime(
        dir.path(),
        &["push", skill.to_str().unwrap(), &tag, "--sign-key", &key],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let pinned = stdout.lines().last().unwrap().trim().to_owned();
    let digest = pinned.split('@').nth(1).unwrap().to_owned();

    let config = package_workspace(dir.path(), "good", &pinned, &public);
    let data = dir.path().join("data");
    let out = runtime(&data, &["inspect", "--config-dir", &config, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let oci = &skill_of(&report, "json-query")["oci"];
    assert_eq!(oci["reference"], pinned.as_str(), "{report:#}");
    assert_eq!(oci["digest"], digest.as_str());
    assert_eq!(oci["pinned"], true);
    assert_eq!(oci["signature"]["status"], "verified");
    assert_eq!(oci["signature"]["key"], public.as_str());
    assert_eq!(report["package_errors"], serde_json::json!([]));
    let table = runtime(&data, &["inspect", "--config-dir", &config]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains(&format!("oci digest: {digest}")), "{table}");
    assert!(table.contains("signature: verified by key "), "{table}");

    let config = package_workspace(dir.path(), "wrong-key", &pinned, &other);
    let out = runtime(
        &dir.path().join("data2"),
        &["inspect", "--config-dir", &config, "--json"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = &report["package_errors"][0];
    assert_eq!(failed["reference"], pinned.as_str(), "{report:#}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains(&digest) && error.contains("other.pub"),
        "{error}"
    );
    assert!(
        report["skills"].as_array().unwrap().is_empty(),
        "{report:#}"
    );

    let grant = "grants:\n  skills:\n    json-query:\n      secrets:\n        API_TOKEN: \
                 {hosts: [\"https://api.example.com\"]}\n";
    let config = package_workspace_with(dir.path(), "extra", &pinned, &public, grant);
    let out = runtime(&data, &["inspect", "--config-dir", &config, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let unrequested = skill_of(&report, "json-query")["unrequested"][0].to_string();
    let expected = format!("republish the package {pinned} with it declared");
    assert!(unrequested.contains(&expected), "{report:#}");
    assert!(
        !unrequested.contains("skills/json-query/SKILL.md"),
        "{unrequested}"
    );

    let packages = dir.path().join("pulled");
    let args = [
        "pull",
        &pinned,
        "--packages-dir",
        packages.to_str().unwrap(),
    ];
    let out = runtime(&data, &args);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--trusted-key"), "{}", text(&out));
}
