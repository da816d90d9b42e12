//! Human approval end to end. A real workspace (echo adapter, scripted model, file-backed task
//! store) joined to the fake platform, with `approval: {tools: [commit_memory]}`, driven by the
//! official Python A2A SDK client (tests/python/approval_client_check.py): `request_approval`
//! → INPUT_REQUIRED with the question → approve / deny / words → COMPLETED with the decision
//! the adapter saw; a held `commit_memory` asked again for a bare or stale approval, run once
//! after `approve <id>`, never after a denial; `/metrics` shows no instance running while the
//! task waits. This file is its own test binary with this one test, so the process-wide gauges
//! are this workspace's alone (the restart and boot checks are in approval_restart.rs).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use molecule_platform::fake::FakePlatform;
use molecule_tests::python::venv_python;
use molecule_tests::{boot_config_env, repo_root};
use serde_json::Value;

/// How long the whole script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The lines the script prints, in order (prefixes).
const EXPECTED: &[&str] = &[
    "OK request-approved ",
    "OK request-denied-and-answered",
    "OK held-approved ",
    "OK held-denied",
    "ALL OK",
];

fn yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: {name}\nruntime: {}\nmodel: scripted:demo\napproval:\n  tools: [commit_memory]\n",
        adapter.display()
    )
}

/// Runs `python script args…` with output in files under `dir`, killed after
/// [`SCRIPT_TIMEOUT`]. Returns (success, stdout, stderr).
fn run_script(python: &Path, script: &Path, args: &[String], dir: &Path) -> (bool, String, String) {
    let (out_path, err_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let ok = loop {
        if let Some(status) = child.try_wait().expect("waiting for python") {
            break status.success();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (ok, read(&out_path), read(&err_path))
}

fn assert_lines(out: &str, err: &str) {
    let lines: Vec<&str> = out.lines().collect();
    let mut at = 0;
    for want in EXPECTED {
        let Some(i) = lines[at..].iter().position(|l| l.starts_with(want)) else {
            panic!("missing `{want}` (in order) in the python output:\n{out}\nstderr:\n{err}");
        };
        at += i + 1;
    }
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(50));
    molecule_tests::wait_until(what, within, every, done).await;
}

/// The stored memories whose content is `content`.
fn memories_with(platform: &FakePlatform, content: &str) -> usize {
    let memories = platform.memories();
    memories.iter().filter(|m| m["content"] == content).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_approves_denies_and_held_calls_run_once() {
    let python = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-ap")];
    let ws = boot_config_env(dir.path(), &yaml("Approver"), &env, false).await;
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    wait_for("registration", || {
        platform.inbound_secret_of("ws-ap").is_some()
    })
    .await;
    let secret = platform.inbound_secret_of("ws-ap").unwrap_or_default();

    let script = repo_root().join("tests/python/approval_client_check.py");
    let logs = tempfile::tempdir().expect("temp dir for the script output");
    let (args, at) = (
        vec![format!("http://{}", ws.addr), secret],
        logs.path().to_owned(),
    );
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || run_script(&python, &script, &args, &at))
            .await
            .expect("python task");
    eprintln!("python output:\n{out}");
    assert!(
        ok,
        "approval_client_check.py failed:\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert_lines(&out, &err);

    // The held call ran once after its approval, never after the denial.
    assert_eq!(
        memories_with(&platform, "gated fact"),
        1,
        "{:?}",
        platform.memories()
    );
    assert_eq!(memories_with(&platform, "denied fact"), 0);
    // The platform was told of every question: a notify and an input_required activity.
    let notified = || platform.calls_to("POST", "/workspaces/ws-ap/notify");
    wait_for("the notifies", || notified().len() >= 6).await;
    assert!(notified().iter().any(|c| c.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("Approval needed: deploy v2 to prod"))));
    let asked = || {
        let calls = platform.calls_to("POST", "/workspaces/ws-ap/activity");
        let acts: Vec<Value> = calls.iter().flat_map(|c| activities(&c.body)).collect();
        acts.into_iter()
            .filter(|a| a["status"] == "input_required" && a["activity_type"] == "task_update")
            .count()
    };
    wait_for("the input_required activities", || asked() >= 6).await;
    tokio::time::timeout(Duration::from_secs(30), ws.shutdown())
        .await
        .expect("the workspace shuts down in time")
        .expect("workspace shutdown");
}

/// The activities in one `POST …/activity` body (one object, or a list).
fn activities(body: &Value) -> Vec<Value> {
    match body {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}
