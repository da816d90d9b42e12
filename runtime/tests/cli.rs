//! The `molecule-runtime` binary end to end: `call` prints a tool's JSON result or a clear
//! error with a non-zero exit, `check` link-checks, `build` builds into the cache.

use std::process::{Command, Output};

mod common;
use common::{cache_dir, repo};

fn runtime(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .args(args)
        .output()
        .expect("running molecule-runtime")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn call_prints_the_value_at_the_pointer() {
    let out = runtime(&[
        "call",
        "demo/skills/json-query",
        "query",
        "--args",
        r#"{"json":{"a":[1,2]},"pointer":"/a/1"}"#,
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "2\n");
}

/// `call` prints numbers exactly as the input wrote them (json-query cuts its answer out of the
/// input text and the host forwards the tool's JSON text untouched): no trip through `f64`.
#[test]
fn call_keeps_numbers_exact() {
    let out = runtime(&[
        "call",
        "demo/skills/json-query",
        "query",
        "--args",
        r#"{"json":{"n":123456789012345678901234567890},"pointer":"/n"}"#,
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "123456789012345678901234567890\n");

    let numbers = "[123456789012345678901234567890,-98765432109876543210987654321,\
                   0.1000000000000000055511151231257827,6.02214076e-23,-2.5E-7,1e-400]";
    let args = format!(r#"{{"json":{{"a":{numbers}}},"pointer":"/a"}}"#);
    let out = runtime(&["call", "demo/skills/json-query", "query", "--args", &args]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{numbers}\n"));
}

#[test]
fn call_reports_bad_input_clearly() {
    let out = runtime(&[
        "call",
        "demo/skills/json-query",
        "query",
        "--args",
        r#"{"json":{"a":[1,2]},"pointer":"a/1"}"#,
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid input") && err.contains("pointer"),
        "{err}"
    );

    let out = runtime(&["call", "demo/skills/json-query", "query", "--args", "{oops"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not JSON"),
        "{}",
        text(&out.stderr)
    );

    let out = runtime(&["call", "demo/skills/json-query", "nope"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no tool `nope`") && err.contains("query"),
        "{err}"
    );

    let out = runtime(&["call", "no/such/skill", "query"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no/such/skill"),
        "{}",
        text(&out.stderr)
    );

    let out = runtime(&[
        "call",
        "demo/skills/json-query",
        "query",
        "--timeout",
        "soon",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--timeout"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn call_limit_hints_name_the_flag() {
    // `call` takes its limits from flags, so a limit error names the flag, not config.yaml.
    let out = runtime(&["call", "tests/guests/hostile", "spin", "--timeout", "1s"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("time limit exceeded") && err.contains("(raise --timeout)"),
        "{err}"
    );
    assert!(!err.contains("sandbox.timeout"), "{err}");
}

#[test]
fn call_with_memory_grant_persists_notes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("memory.sqlite");
    let db = db.to_str().unwrap();
    let add = runtime(&[
        "call",
        "demo/skills/notes",
        "add_note",
        "--grant",
        "memory",
        "--memory-db",
        db,
        "--args",
        r#"{"text":"the release train leaves on Thursday"}"#,
    ]);
    assert!(add.status.success(), "{}", text(&add.stderr));
    let find = runtime(&[
        "call",
        "demo/skills/notes",
        "find_notes",
        "--grant",
        "memory",
        "--memory-db",
        db,
        "--args",
        r#"{"query":"release train"}"#,
    ]);
    assert!(find.status.success(), "{}", text(&find.stderr));
    assert!(
        text(&find.stdout).contains("Thursday"),
        "{}",
        text(&find.stdout)
    );

    let denied = runtime(&[
        "call",
        "demo/skills/notes",
        "add_note",
        "--args",
        r#"{"text":"x"}"#,
    ]);
    assert!(!denied.status.success());
    let err = text(&denied.stderr);
    assert!(err.contains("denied") && err.contains("--grant"), "{err}");
}

#[test]
fn check_and_build_report_per_component() {
    let out = runtime(&["check", "demo/skills/json-query", "demo/skills/notes"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(report.contains("skill json-query: ok"), "{report}");
    assert!(report.contains("tool query"), "{report}");
    assert!(report.contains("tool add_note"), "{report}");

    let out = runtime(&["build", "demo/skills/json-query"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("compiled code cached"),
        "{}",
        text(&out.stdout)
    );

    let out = runtime(&["check", "README.md"]);
    assert!(!out.status.success());
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["build", "call", "check"] {
        let out = runtime(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help");
        assert!(text(&out.stdout).contains("Usage"), "{sub}");
    }
}

#[test]
fn workspace_check_reports_grants_and_fails_on_unrequested_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("skills")).unwrap();
    std::os::unix::fs::symlink(
        repo().join("demo/skills/json-query"),
        dir.path().join("skills/json-query"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        repo().join("demo/skills/notes"),
        dir.path().join("skills/notes"),
    )
    .unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let config = format!(
        "runtime: {}\ngrants:\n  skills:\n    notes: {{interfaces: [memory]}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), &config).unwrap();
    let config_dir = dir.path().to_str().unwrap();
    let out = runtime(&["check", "--config-dir", config_dir]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    assert!(report.contains("adapter "), "{report}");
    assert!(report.contains("skill notes: ok"), "{report}");
    assert!(
        report.contains("requests:  interfaces [memory]"),
        "{report}"
    );
    assert!(
        report.contains("effective: interfaces [log, memory]"),
        "{report}"
    );

    let config = format!("{config}    json-query: {{env: [HOME]}}\n");
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let out = runtime(&["check", "--config-dir", config_dir]);
    let report = text(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("skill json-query: FAIL"), "{report}");
    assert!(report.contains("grants.skills.json-query.env"), "{report}");
}

#[test]
fn a_bad_worker_thread_count_is_a_clear_error() {
    for bad in ["", "many", "0"] {
        let out = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
            .current_dir(repo())
            .env("MOLECULE_CACHE_DIR", cache_dir())
            .env("TOKIO_WORKER_THREADS", bad)
            .args(["check", "demo/skills/json-query"])
            .output()
            .expect("running molecule-runtime");
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("TOKIO_WORKER_THREADS") && !err.contains("panicked"),
            "{bad:?}: {err}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env("TOKIO_WORKER_THREADS", "1")
        .args(["check", "demo/skills/json-query"])
        .output()
        .expect("running molecule-runtime");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// An egress denial from `call` tells the operator the flag that grants hosts there, never a
/// config key built from the skill's log label (`grants.skills.skill web-fetch.hosts`).
#[test]
fn call_egress_denial_names_the_allow_host_flag() {
    let out = runtime(&[
        "call",
        "skills-examples/web-fetch",
        "fetch",
        "--args",
        r#"{"url":"http://127.0.0.1:9/"}"#,
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains(r#"add "http://127.0.0.1:9" to `--allow-host`"#),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("grants.skills.skill"), "stderr: {stderr}");
}
