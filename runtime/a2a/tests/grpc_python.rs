//! The official Python `a2a-sdk` client with its gRPC extra (`a2a-sdk[grpc]==1.3.0`) drives
//! the gRPC binding: the card lists a `GRPC` interface and the client is configured for gRPC
//! only (tests/python/a2a_grpc_check.py). Needs python3 with venv and PyPI on first run; it
//! fails with a clear message otherwise, never passes silently.

mod common;

use std::path::Path;
use std::process::Command;

use common::{card, spawn, Setup};
use molecule_python_venv::{run, venv_python, A2A_SDK_GRPC};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_drives_the_grpc_binding() {
    let python = tokio::task::spawn_blocking(|| venv_python(&[A2A_SDK_GRPC]))
        .await
        .expect("venv setup task");
    let s = spawn(Setup::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let target = listener.local_addr().expect("local addr").to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = s.server.clone();
    tokio::spawn(async move {
        let _ = server
            .serve_grpc(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let mut c = card(&s.url, true);
    c.supported_interfaces
        .insert(0, molecule_a2a::grpc::interface(&target));
    s.server.card().set(c);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/a2a_grpc_check.py");
    let url = s.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            Command::new(&python).arg(&script).arg(&url),
            "python a2a_grpc_check.py",
        )
    })
    .await
    .expect("python task");
    drop(stop);
    eprintln!("python output:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    for e in [
        "OK send TASK_STATE_COMPLETED echo: hello",
        "OK stream task,status_update,artifact_update,artifact_update,status_update",
        "OK get TASK_STATE_COMPLETED history=1",
        "OK list n=1 total=1",
        "OK cancel TASK_STATE_CANCELED",
        "OK subscribe TASK_STATE_INPUT_REQUIRED",
        "OK notfound",
        "ALL OK",
    ] {
        assert!(lines.contains(&e), "missing `{e}` in python output:\n{out}");
    }
}
