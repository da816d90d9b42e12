//! The stderr log level through the real binary: config.yaml's `observability.log_level`
//! takes effect for a workspace command (`smoke` here), and `LOG_LEVEL` > `RUST_LOG` > the
//! config key > the default `warn`.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{cache_dir, repo};

/// A config folder running the echo adapter with the scripted model, `extra` YAML appended.
fn workspace(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Levels\nruntime: {}\nmodel: scripted:levels\n{extra}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"ok\"\n",
    )
    .unwrap();
    dir
}

/// Runs `smoke` on `dir` with nothing but `env` setting a level; asserts it passed.
fn smoke(dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"));
    cmd.current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .env_remove("RUST_LOG")
        .env_remove("MOLECULE_SMOKE_MODE")
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("PLATFORM_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .args(["smoke", "--config-dir", dir.to_str().unwrap()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("running molecule-runtime smoke");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "smoke failed: {stderr}");
    stderr
}

/// `text` without ANSI colour sequences (`ESC [ … m`).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// Log lines at `level` (`DEBUG`, `INFO`): a timestamp, then the level.
fn logged_at(stderr: &str, level: &str) -> usize {
    plain(stderr)
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            let stamp = words.next().unwrap_or_default();
            stamp.starts_with("20") && stamp.contains('T') && words.next() == Some(level)
        })
        .count()
}

#[test]
fn observability_log_level_debug_takes_effect() {
    let dir = workspace("observability: {log_level: DEBUG}");
    let stderr = smoke(dir.path(), &[]);
    assert!(
        stderr.contains("log level DEBUG from observability.log_level"),
        "{stderr}"
    );
    // Not only our own line: callsites first seen at the start-up level log too.
    assert!(logged_at(&stderr, "DEBUG") >= 2, "{stderr}");
}

#[test]
fn without_a_level_the_default_is_warn() {
    let dir = workspace("");
    let stderr = smoke(dir.path(), &[]);
    assert_eq!(logged_at(&stderr, "DEBUG"), 0, "{stderr}");
    assert_eq!(logged_at(&stderr, "INFO"), 0, "{stderr}");
    // The same workspace with the key logs at DEBUG (so the silence above is the level's).
    let loud = workspace("observability: {log_level: debug}");
    assert!(logged_at(&smoke(loud.path(), &[]), "DEBUG") > 0);
}

#[test]
fn the_environment_wins_over_the_config_key() {
    let dir = workspace("observability: {log_level: DEBUG}");
    let stderr = smoke(dir.path(), &[("LOG_LEVEL", "error"), ("RUST_LOG", "debug")]);
    assert_eq!(logged_at(&stderr, "DEBUG"), 0, "LOG_LEVEL wins: {stderr}");
    let stderr = smoke(dir.path(), &[("RUST_LOG", "warn")]);
    assert_eq!(logged_at(&stderr, "DEBUG"), 0, "RUST_LOG wins: {stderr}");
    let stderr = smoke(dir.path(), &[("LOG_LEVEL", "WARNING")]);
    assert_eq!(logged_at(&stderr, "DEBUG"), 0, "WARNING is warn: {stderr}");
}
