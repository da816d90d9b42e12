//! The official Python A2A SDK client (`a2a-sdk==1.3.0`, in the virtualenv shared with the
//! a2a crate's own client test, see `molecule_tests::python`) drives a fully booted workspace:
//! the real `molecule-runtime` workspace with the echo adapter (tests/guests/echo-adapter),
//! a file-backed task store, on 127.0.0.1:0. The script (tests/python/workspace_client_check.py)
//! checks send, stream, get, list, cancel, resubscribe, multi-turn history, not-found, the REST
//! binding and 0.3, printing one `OK` line per check; this test asserts on those lines. If
//! Python or PyPI is unreachable the test fails with a clear message; it never passes
//! silently. The server stops when the test ends (shut down at the end, and the test runtime
//! drops it on a failure).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use molecule_tests::python::venv_python;
use molecule_tests::{boot_config, repo_root};

/// How long the whole script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The lines the script must print, in this order. One ending in `=` or a space is a prefix
/// (the rest varies: counts, texts checked by the script itself).
const EXPECTED: &[&str] = &[
    "OK send TASK_STATE_COMPLETED echo: hello",
    "OK stream task,status_update,artifact_update,status_update TASK_STATE_COMPLETED",
    "OK get TASK_STATE_COMPLETED history=1 full=",
    "OK list pages=",
    "OK cancel TASK_STATE_CANCELED",
    "OK subscribe task,status_update TASK_STATE_CANCELED working=",
    "OK multiturn ",
    "OK multiturn-client-context ",
    "OK notfound",
    "OK rest TASK_STATE_COMPLETED echo: over rest",
    "OK v03 TASK_STATE_COMPLETED echo: legacy",
    "ALL OK",
];

/// Runs `python script url` (blocking) with stdout and stderr in files under `dir`, killing
/// it after [`SCRIPT_TIMEOUT`]. Returns (success, stdout, stderr).
fn run_script(python: &Path, script: &Path, url: &str, dir: &Path) -> (bool, String, String) {
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    let mut child = Command::new(python)
        .arg(script)
        .arg(url)
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
            let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            panic!("the script ran over {SCRIPT_TIMEOUT:?}; stdout:\n{stdout}\nstderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    (ok, stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_drives_the_workspace() {
    let python: PathBuf = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");

    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Echo\nruntime: {}\nmodel: scripted:demo\n",
        adapter.display()
    );
    let ws = boot_config(dir.path(), &yaml, false).await;
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    let url = format!("http://{}", ws.addr);

    let script = repo_root().join("tests/python/workspace_client_check.py");
    // The script's output goes outside the config folder, which the workspace watches.
    let logs_dir = tempfile::tempdir().expect("temp dir for the script output");
    let logs = logs_dir.path().to_owned();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || run_script(&python, &script, &url, &logs))
            .await
            .expect("python task");
    eprintln!("python output:\n{out}");
    assert!(
        ok,
        "workspace_client_check.py failed:\nstdout:\n{out}\nstderr:\n{err}"
    );

    let lines: Vec<&str> = out.lines().collect();
    let mut at = 0;
    for want in EXPECTED {
        let found = lines[at..]
            .iter()
            .position(|l| l == want || (want.ends_with(['=', ' ']) && l.starts_with(want)));
        let Some(i) = found else {
            panic!("missing `{want}` (in order) in the python output:\n{out}\nstderr:\n{err}");
        };
        at += i + 1;
    }
    let multiturn = lines
        .iter()
        .find(|l| l.starts_with("OK multiturn "))
        .expect("multiturn line");
    assert!(multiturn.contains("hello"), "{multiturn}");

    tokio::time::timeout(Duration::from_secs(30), ws.shutdown())
        .await
        .expect("the workspace shuts down in time")
        .expect("workspace shutdown");
}
