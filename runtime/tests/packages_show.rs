//! The skill-package path of issue 17 end to end, through the real binary: `push --sign-key`
//! a skill to a real registry (Debian's `docker-registry` on 127.0.0.1), pin it by digest in a
//! workspace's config.yaml, boot `run`, call its tool over A2A (JSON-RPC `SendMessage` to the
//! echo adapter, which calls the tool it is told to); then a tampered signature, and a
//! tampered content layer, each stop a fresh boot naming the reference and the digest.

use std::path::Path;
use std::process::{Command, Output};

use molecule_packages::generate_key_pair;
use molecule_packages::testing::{rewrite_signature, Registry};
use serde_json::{json, Value};

mod common;
use common::packages::built_skill;
use common::server::{run_command, start};
use common::{cache_dir, repo};

fn runtime(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
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

/// `run` in `dir` with a fresh data folder `data` (an empty package cache): must fail to boot;
/// returns what it printed. A workspace that starts serving instead is stopped and the test
/// fails (never left waiting on a running server).
fn refused_boot(dir: &Path, data: &str) -> String {
    use std::io::BufRead as _;
    let mut child = run_command(dir, &dir.join(data))
        .spawn()
        .expect("running molecule-runtime run");
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.contains(" on port ") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("booted: {}\n{line}", seen.join("\n"));
        }
        seen.push(line);
    }
    let status = child.wait().expect("waiting for molecule-runtime");
    assert!(!status.success(), "{}", seen.join("\n"));
    seen.join("\n")
}

/// Sends `text` to the workspace on `port` and returns the JSON-RPC answer.
async fn send(port: u16, text: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}]}}});
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("SendMessage")
        .json()
        .await
        .expect("a JSON-RPC answer")
}

#[tokio::test]
async fn push_pin_boot_call_then_tampering_stops_boot() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = generate_key_pair(dir.path(), "signer").unwrap();
    let (key, public) = (key.to_str().unwrap(), public.to_str().unwrap());
    let skill = built_skill(dir.path());
    let tag = format!("{}/acme/json-query:1", registry.host);
    let out = runtime(&["push", skill.to_str().unwrap(), &tag, "--sign-key", key]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let pinned = stdout.lines().last().unwrap().trim().to_owned();
    let digest = pinned.split('@').nth(1).unwrap().to_owned();

    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Shown\nruntime: {}\nmodel: scripted:demo\nskills: [\"{pinned}\"]\npackages:\n  trusted_keys: [{public}]\n",
        adapter.display()
    );
    std::fs::write(config.join("config.yaml"), yaml).unwrap();
    let script = "turns:\n  - text: unused\n";
    std::fs::write(config.join("model-script.yaml"), script).unwrap();
    {
        let (_server, port) = start(&config);
        let call = r#"tool query {"json": {"team": {"lead": "Ada"}}, "pointer": "/team/lead"}"#;
        let answer = send(port, call).await;
        let artifacts = answer["result"]["task"]["artifacts"].to_string();
        assert!(artifacts.contains("Ada"), "{answer}");
    }

    rewrite_signature(
        &registry.host,
        "acme/json-query",
        "acme/json-query",
        &digest,
        |payload, signature| {
            let mut bytes = signature.into_bytes();
            let i = bytes.len() / 2;
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            (payload, String::from_utf8(bytes).unwrap())
        },
    )
    .await;
    let report = refused_boot(&config, "data-sig");
    for part in [
        pinned.as_str(),
        "refused by packages.signatures",
        "signer.pub",
    ] {
        assert!(report.contains(part), "`{part}` missing from: {report}");
    }

    let out = runtime(&["sign", &pinned, "--key", key]);
    assert!(out.status.success(), "{}", text(&out));
    let layer = layer_digest(&registry, &digest);
    let stored = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&stored).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(&stored, bytes).unwrap();
    let report = refused_boot(&config, "data-layer");
    assert!(
        report.contains(&format!("blob {layer} does not match its digest")),
        "{report}"
    );
}

/// The content layer's digest, read from the stored manifest of `digest`.
fn layer_digest(registry: &Registry, digest: &str) -> String {
    let manifest = std::fs::read(registry.blob_file(digest)).unwrap();
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    manifest["layers"][0]["digest"].as_str().unwrap().to_owned()
}
