//! The official Python `a2a-sdk` client subscribes to an INPUT_REQUIRED task and follows it to
//! COMPLETED (JSON-RPC and HTTP+JSON): the stream stays open while the task waits for input,
//! and the follow-up message's events arrive on it. Uses the shared virtualenv
//! (`molecule-python-venv`); fails with a clear message when Python or PyPI is unreachable.

mod common;

use std::path::Path;
use std::process::Command;

use common::{spawn, Setup};
use molecule_python_venv::{run, venv_python};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_subscribes_to_an_input_required_task() {
    let python = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let s = spawn(Setup::default()).await;
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/subscribe_interrupted_check.py");
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            Command::new(&python).arg(&script).arg(&url),
            "python subscribe_interrupted_check.py",
        )
    })
    .await
    .expect("python task");
    eprintln!("python output:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    for e in [
        "OK JSONRPC task,status_update,artifact_update,artifact_update,status_update TASK_STATE_COMPLETED",
        "OK HTTP+JSON task,status_update,artifact_update,artifact_update,status_update TASK_STATE_COMPLETED",
        "ALL OK",
    ] {
        assert!(lines.contains(&e), "missing `{e}` in python output:\n{out}");
    }
}
