//! config.yaml fails closed end to end (issue 10): `run` and `smoke` exit 1 on a config.yaml
//! that is not valid YAML (here: a duplicate key) or holds an unusable security setting, and
//! the preflight FAIL names the file, the line and the key. Nothing is built or served.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{cache_dir, repo};

fn runtime(config_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .env_remove("PLATFORM_URL")
        .env_remove("MOLECULE_INBOUND_SECRET")
        .args(args)
        .arg("--config-dir")
        .arg(config_dir)
        .output()
        .expect("running molecule-runtime")
}

fn config(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.yaml"), yaml).expect("write config.yaml");
    dir
}

#[test]
fn run_and_smoke_exit_1_on_a_duplicate_key() {
    let dir =
        config("name: first\nmodel: scripted:x\nname: second\na2a: {inbound_secret: s3cret}\n");
    let file = dir.path().join("config.yaml");
    for args in [
        &["run", "--bind", "127.0.0.1", "--port", "0"][..],
        &["smoke"][..],
    ] {
        let out = runtime(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let located = format!(
            "{}:3: name: is not valid YAML: duplicate key `name`",
            file.display()
        );
        assert!(
            stderr.contains("FAIL  config") && stderr.contains(&located),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn run_exits_1_on_an_unusable_inbound_secret() {
    let dir = config("model: scripted:x\na2a:\n  inbound_secret: [s3cret]\n");
    let out = runtime(dir.path(), &["run", "--bind", "127.0.0.1", "--port", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let located = format!(
        "{}:3: a2a.inbound_secret: ",
        dir.path().join("config.yaml").display()
    );
    assert!(stderr.contains(&located), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the secret must not be echoed: {stderr}"
    );
}

/// `run` exits 1 with a `config` FAIL containing `needle`.
fn assert_run_fails(dir: &Path, needle: &str) {
    let out = runtime(dir, &["run", "--bind", "127.0.0.1", "--port", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(needle), "{needle}: {stderr}");
}

#[test]
fn run_exits_1_on_a_merge_key_or_a_misplaced_secret() {
    let dir = config("model: scripted:x\nbase: &b {inbound_secret: s}\na2a:\n  <<: *b\n");
    assert_run_fails(
        dir.path(),
        "config.yaml:4: a2a.<<: is not supported: `<<` is a YAML merge key",
    );
    let dir = config("model: scripted:x\na2a:\ninbound_secret: abc\n");
    assert_run_fails(dir.path(), "config.yaml:3: inbound_secret: ");
    let dir = config("model: scripted:x\nA2A: {inbound_secret: abc}\n");
    assert_run_fails(dir.path(), "did you mean `a2a`");
}

#[test]
fn run_exits_1_on_a_missing_config_dir_or_a_dangling_config_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("typo-dir");
    assert_run_fails(&missing, "does not exist");
    assert!(
        !missing.exists(),
        "nothing is created in a missing config dir"
    );
    std::os::unix::fs::symlink("/nonexistent/config.yaml", dir.path().join("config.yaml"))
        .expect("symlink");
    assert_run_fails(dir.path(), "symbolic link to /nonexistent/config.yaml");
}

#[test]
fn run_exits_1_on_a_blank_inbound_secret_variable() {
    let dir = config("model: scripted:x\n");
    let out = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("PLATFORM_URL")
        .env("MOLECULE_INBOUND_SECRET", " ")
        .args(["run", "--bind", "127.0.0.1", "--port", "0", "--config-dir"])
        .arg(dir.path())
        .output()
        .expect("running molecule-runtime");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FAIL  MOLECULE_INBOUND_SECRET"), "{stderr}");
}
