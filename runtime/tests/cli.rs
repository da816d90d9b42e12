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
    for sub in ["build", "call", "check", "inspect", "script"] {
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

/// Runs `molecule-runtime ARGS` with `stdin` piped in.
fn runtime_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    runtime_in_tmp(args, stdin, &std::env::temp_dir())
}

/// Like [`runtime_with_stdin`] with `TMPDIR` set to `tmp`.
fn runtime_in_tmp(args: &[&str], stdin: &[u8], tmp: &std::path::Path) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("TMPDIR", tmp)
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env_remove("LOG_LEVEL")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running molecule-runtime");
    let mut pipe = child.stdin.take().unwrap();
    // A write error means the child stopped reading (the too-large case): fine.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child
        .wait_with_output()
        .expect("waiting for molecule-runtime")
}

/// `script` runs an Agent Skills script in the sandbox like `python scripts/stats.py ARGS`:
/// our stdin is its stdin, its stdout and stderr are ours, its exit code is ours. (The Python
/// interpreter is built into the shared test cache on first use: python3 and PyPI.)
/// Builds the Python interpreter into the shared test cache once per process, so the runs
/// under test print only what the script printed (a first build logs a WARN on stderr).
fn python_ready() {
    static READY: std::sync::Once = std::sync::Once::new();
    READY.call_once(|| {
        let out = runtime(&["build", "--python"]);
        assert!(
            out.status.success(),
            "build --python: {}",
            text(&out.stderr)
        );
    });
}

#[test]
fn script_runs_an_agent_skills_script_like_python() {
    python_ready();
    let skill = "skills-examples/text-stats";
    let out = runtime_with_stdin(
        &["script", skill, "scripts/stats.py", "--top", "2", "--json"],
        b"the cat and the hat",
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(stats["words"], 5);
    assert_eq!(
        stats["top_words"],
        serde_json::json!([{"word": "the", "count": 2}, {"word": "and", "count": 1}])
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // Empty stdin: the script's own exit code 3 and message on stderr, nothing on stdout.
    let out = runtime_with_stdin(&["script", skill, "stats.py"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("no text on stdin"));

    // argv reaches argparse: an unknown option is its exit code 2 with the usage.
    let out = runtime_with_stdin(&["script", skill, "stats.py", "--bogus"], b"x");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unrecognized arguments: --bogus"));
    // Everything after the script is the script's, even names of our own options.
    let out = runtime_with_stdin(&["script", skill, "stats.py", "--timeout", "1s"], b"x");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("unrecognized arguments: --timeout 1s"));

    // Unknown or escaping scripts name what exists; stdin past 1 MiB is refused.
    let out = runtime_with_stdin(&["script", skill, "nope.py"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("nope.py") && err.contains("stats.py"), "{err}");
    let out = runtime_with_stdin(&["script", skill, "../SKILL.md"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a file inside"));
    let out = runtime_with_stdin(&["script", skill, "stats.py"], &vec![b'a'; (1 << 20) + 1]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("larger than 1 MiB"),
        "{}",
        text(&out.stderr)
    );
}

/// `script` applies `--timeout` and names the flag when the script runs out of time.
#[test]
fn script_timeout_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("spin");
    std::fs::create_dir_all(skill.join("scripts")).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: spin\ndescription: Spins.\n---\n",
    )
    .unwrap();
    std::fs::write(
        skill.join("scripts/spin.py"),
        "import os\nopen('here', 'w').write(os.getcwd())\nwhile True:\n    pass\n",
    )
    .unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    python_ready();
    let out = runtime_in_tmp(
        &[
            "script",
            "--timeout",
            "1s",
            skill.to_str().unwrap(),
            "spin.py",
        ],
        b"",
        &tmp,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("time limit") && err.contains("--timeout"),
        "{err}"
    );
    // The scratch folder the script wrote into is gone.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}
