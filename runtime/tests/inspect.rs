//! `molecule-runtime inspect` end to end: a workspace with a Rust crate skill, a prebuilt
//! skill and a Python skill; `--json` gives the documented shape (versions, each skill's
//! source kind and path, digest, `oci: null`, requested / granted / effective capabilities,
//! secrets by name and use, never a value), and the human form names each skill and what it
//! runs with. Nothing is built.

use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

mod common;
use common::{cache_dir, repo};

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

fn skill<'a>(report: &'a Value, id: &str) -> &'a Value {
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

    let caller = skill(&report, "caller");
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

    let notes = skill(&report, "notes");
    assert_eq!(notes["source"]["kind"], "crate");
    assert_eq!(notes["digest"]["of"], "source-tree");
    assert_eq!(
        notes["effective"]["interfaces"],
        serde_json::json!(["log", "memory"])
    );
    assert!(notes["effective"]["memory_limit_bytes"].as_u64().unwrap() > 0);
    let py = skill(&report, "py");
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
