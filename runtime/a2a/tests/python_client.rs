//! The real-client test: the official Python `a2a-sdk` client (send, stream, get, list,
//! cancel, resubscribe, REST, 0.3) drives a molecule-a2a server. The virtualenv is the one all
//! tests share (`molecule-python-venv`), created once and reused. If Python or PyPI is
//! unreachable the test fails with a clear message; it never passes silently.

mod common;

use std::path::Path;
use std::process::Command;

use common::{spawn, Setup};
use molecule_python_venv::{run, venv_python};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_drives_the_server() {
    let python = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let s = spawn(Setup::default()).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/a2a_client_check.py");
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            Command::new(&python).arg(&script).arg(&url),
            "python a2a_client_check.py",
        )
    })
    .await
    .expect("python task");
    eprintln!("python output:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    let expect = [
        "OK send TASK_STATE_COMPLETED echo: hello",
        "OK stream task,status_update,artifact_update,artifact_update,status_update",
        "OK get TASK_STATE_COMPLETED history=1",
        "OK cancel TASK_STATE_CANCELED",
        "OK subscribe task,artifact_update,artifact_update,status_update",
        "OK notfound",
        "OK rest TASK_STATE_COMPLETED",
        "ALL OK",
    ];
    for e in expect {
        assert!(lines.contains(&e), "missing `{e}` in python output:\n{out}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("OK list n=1 total=") && l.ends_with("more=True")),
        "list line missing:\n{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("OK v03 TASK_STATE_COMPLETED")),
        "0.3 line missing:\n{out}"
    );
}
