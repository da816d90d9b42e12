//! JavaScript skills through the real binary and through Node: `new skill --lang js` writes a
//! skill that `call`, `check` and its own `npm test` accept; `build --js` reports the engine;
//! the `js-notes` example works with a memory grant; a workspace with a JavaScript skill
//! passes `smoke`; and the authoring package's and the example's `node --test` suites pass.
//!
//! The engine is built into the shared test cache on first use (clang, llvm-ar, wasi-libc:
//! `dev/setup`); the Node parts need `node` and `npm` (also `dev/setup`) and npm installs only
//! `file:` links, so nothing is downloaded.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{cache_dir, repo};

fn runtime(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .env_remove("MOLECULE_GUEST_SDK")
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("PLATFORM_URL")
        .args(args)
        .output()
        .expect("running molecule-runtime")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds the engine once per process, so later commands print no first-build WARN.
fn engine_ready() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let out = runtime(&["build", "--js"]);
        assert!(out.status.success(), "build --js: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("javascript engine: ok ("), "{stdout}");
    });
}

/// Runs `program args` in `dir`; panics with its output unless it succeeds, naming what to
/// install when the program is missing.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): run dev/setup to install it"));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{program} {args:?} in {}: {all}",
        dir.display()
    );
    all
}

#[test]
fn a_new_js_skill_calls_checks_and_passes_its_own_tests() {
    engine_ready();
    let root = tempfile::tempdir().unwrap();
    let skill = root.path().join("greeter");
    let skill_arg = skill.to_str().unwrap();
    let out = runtime(&["new", "skill", skill_arg, "--lang", "js"]);
    assert!(out.status.success(), "new: {}", text(&out.stderr));
    for file in ["SKILL.md", "app.js", "app.test.js", "package.json"] {
        assert!(skill.join(file).is_file(), "{file} missing");
    }
    let out = runtime(&["call", skill_arg, "hello", "--args", r#"{"name":"Ada"}"#]);
    assert!(out.status.success(), "call: {}", text(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value, serde_json::json!({"greeting": "Hello, Ada!"}));
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));

    let out = runtime(&["call", skill_arg, "hello", "--args", r#"{"name":" "}"#]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("must not be empty"),
        "{}",
        text(&out.stderr)
    );

    let out = runtime(&["check", skill_arg]);
    assert!(out.status.success(), "check: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hello"), "{}", text(&out.stdout));

    run_in(&skill, "npm", &["install", "--no-audit", "--no-fund"]);
    let tested = run_in(&skill, "npm", &["test"]);
    assert!(tested.contains("# pass 2"), "{tested}");
    assert!(
        !skill.join("node_modules").exists() || runtime_ignores_node_modules(&skill),
        "node_modules must not change what is served"
    );
}

/// With `node_modules/` installed (a link out of the folder), the skill still loads and
/// answers: the snapshot leaves `node_modules` out.
fn runtime_ignores_node_modules(skill: &Path) -> bool {
    let out = runtime(&[
        "call",
        skill.to_str().unwrap(),
        "hello",
        "--args",
        r#"{"name":"Bo"}"#,
    ]);
    out.status.success() && text(&out.stdout).contains("Hello, Bo!") && out.stderr.is_empty()
}

#[test]
fn the_js_notes_example_keeps_notes_with_a_memory_grant() {
    engine_ready();
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("memory.sqlite");
    let db = db.to_str().unwrap();
    let skill = "skills-examples/js-notes";
    let out = runtime(&[
        "call",
        skill,
        "add_note",
        "--args",
        r#"{"text":"The deploy key rotates on Fridays"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1), "ungranted memory must fail");
    assert!(
        text(&out.stderr).contains("memory"),
        "{}",
        text(&out.stderr)
    );
    let granted = |tool: &str, args: &str| {
        runtime(&[
            "call",
            skill,
            tool,
            "--args",
            args,
            "--grant",
            "memory",
            "--memory-db",
            db,
        ])
    };
    let out = granted(
        "add_note",
        r#"{"text":"The deploy key rotates on Fridays"}"#,
    );
    assert!(out.status.success(), "add_note: {}", text(&out.stderr));
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["scope"], "local", "{added}");
    let out = granted("find_notes", r#"{"query":"deploy key"}"#);
    assert!(out.status.success(), "find_notes: {}", text(&out.stderr));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        found["notes"][0]["text"], "The deploy key rotates on Fridays",
        "{found}"
    );
}

#[test]
fn a_workspace_with_a_js_skill_passes_smoke() {
    engine_ready();
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Smoke\nruntime: {}\nmodel: scripted:smoke\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"smoke ok\"\n",
    )
    .unwrap();
    let skill = dir.path().join("skills/greeter");
    let out = runtime(&["new", "skill", skill.to_str().unwrap(), "--lang", "js"]);
    assert!(out.status.success(), "new: {}", text(&out.stderr));
    let out = runtime(&[
        "smoke",
        "--json",
        "--config-dir",
        dir.path().to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", text(&out.stdout), text(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let skill = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "greeter")
        .unwrap_or_else(|| panic!("no greeter: {report:#}"));
    assert_eq!(skill["tools"], serde_json::json!(["hello"]), "{report:#}");
}

#[test]
fn the_authoring_package_and_example_node_suites_pass() {
    let sdk = repo().join("guest-sdk/js");
    let out = run_in(&sdk, "node", &["--test", "test/"]);
    assert!(out.contains("# fail 0"), "{out}");
    let example = repo().join("skills-examples/js-notes");
    // npm writes node_modules/ (ignored by git and by the runtime's snapshot) into the
    // example; work on a copy so the checkout stays clean.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&example, copy.path());
    rewrite_sdk_path(copy.path(), &sdk);
    run_in(copy.path(), "npm", &["install", "--no-audit", "--no-fund"]);
    let out = run_in(copy.path(), "npm", &["test"]);
    assert!(out.contains("# fail 0"), "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "node_modules" || name == "package-lock.json" {
            continue;
        }
        let (src, dest) = (entry.path(), to.join(&name));
        if src.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&src, &dest);
        } else {
            std::fs::copy(&src, &dest).unwrap();
        }
    }
}

/// Points the copied example's `file:` dependency on the SDK at the checkout's.
fn rewrite_sdk_path(dir: &Path, sdk: &Path) {
    let path = dir.join("package.json");
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .expect("package.json is JSON");
    let deps = manifest["devDependencies"]
        .as_object_mut()
        .expect("devDependencies");
    deps.insert(
        "molecule-skill".into(),
        Value::String(format!("file:{}", sdk.display())),
    );
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}
