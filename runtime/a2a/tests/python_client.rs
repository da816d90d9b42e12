//! The real-client test: the official Python `a2a-sdk` client (send, stream, get, list,
//! cancel, resubscribe, REST, 0.3) drives a molecule-a2a server. The virtualenv lives under the
//! cargo target dir (`$CARGO_TARGET_DIR/a2a-venv`, else `<workspace>/target/a2a-venv`), is
//! created once and reused. If Python or PyPI is unreachable the test fails with a clear
//! message; it never passes silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{spawn, Setup};

/// The a2a-sdk version this test is pinned to.
const A2A_SDK: &str = "a2a-sdk[http-server]==1.3.0";
const PIN_MARKER: &str = ".a2a-sdk-1.3.0";

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // runtime/a2a → workspace root
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Creates (once) the venv with the pinned a2a-sdk and returns its python.
fn venv_python() -> PathBuf {
    let venv = target_dir().join("a2a-venv");
    let python = venv.join("bin").join("python");
    if venv.join(PIN_MARKER).exists() && python.exists() {
        return python;
    }
    let system_python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&system_python).args(["-m", "venv"]).arg(&venv),
        "creating the Python virtualenv (needs python3 with the venv module)",
    );
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            A2A_SDK,
        ]),
        "pip install a2a-sdk (PyPI must be reachable)",
    );
    std::fs::write(venv.join(PIN_MARKER), A2A_SDK).expect("write pin marker");
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_drives_the_server() {
    let python = tokio::task::spawn_blocking(venv_python)
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
