//! `runtime: cli` through a fully booted workspace and the official Python A2A SDK client
//! (`a2a-sdk==1.3.0`, the shared pinned venv): the granted program is a small Python agent
//! run by the real interpreter (no shell). The script (tests/python/cli_agent_check.py)
//! checks that stdout streams as appended chunks of one artifact while the program runs (it
//! unblocks the program only after the first chunk arrived), that a non-zero exit FAILs the
//! task naming the code, that cancel ends a running program, and that with `max_concurrent: 1`
//! a second task waits SUBMITTED (and is canceled there) while the first runs. Afterwards no task's working
//! folder is left under the data dir.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use molecule_tests::python::venv_python;
use molecule_tests::{boot_config_env, repo_root};

const AGENT: &str = "import os, sys, time
text = sys.stdin.read().strip()
if text == 'fail':
    print('failing', flush=True)
    sys.exit(3)
print('chunk one: ' + text, flush=True)
go = os.path.join(sys.argv[1], 'go-' + text)
for _ in range(2000):
    if os.path.exists(go):
        break
    time.sleep(0.01)
else:
    sys.exit(4)
print('chunk two', flush=True)
";

const EXPECTED: &[&str] = &[
    "OK stream chunks=",
    "OK fail TASK_STATE_FAILED exited with code 3",
    "OK cancel TASK_STATE_CANCELED",
    "OK slots SUBMITTED TASK_STATE_CANCELED TASK_STATE_COMPLETED",
    "ALL OK",
];

/// The real interpreter behind `python3` (a version-manager shim needs an environment the
/// granted program does not get).
fn python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed (dev/setup)");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_streams_a_cli_agent() {
    let venv = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let dir = tempfile::tempdir().expect("config dir");
    let work = tempfile::tempdir().expect("agent, go and data dir");
    let agent = work.path().join("agent.py");
    std::fs::write(&agent, AGENT).expect("write agent.py");
    let go_dir = work.path().join("go");
    std::fs::create_dir(&go_dir).expect("go dir");
    let data = work.path().join("data");
    let yaml = format!(
        "name: Cli\nruntime: cli\nruntime_config:\n  command: {}\n  args: [{}, {}]\n  \
         timeout: 60s\n  kill_grace: 2s\n  max_concurrent: 1\n",
        python().display(),
        agent.display(),
        go_dir.display()
    );
    let data_env = data.to_str().expect("utf-8 path");
    let ws = boot_config_env(
        dir.path(),
        &yaml,
        &[
            ("MOLECULE_DATA_DIR", data_env),
            ("MOLECULE_CLI_SHEPHERD", env!("CARGO_BIN_EXE_cli-shepherd")),
        ],
        true,
    )
    .await;
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    let url = format!("http://{}", ws.addr);
    let script = repo_root().join("tests/python/cli_agent_check.py");
    let go = go_dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&venv)
            .arg(&script)
            .arg(&url)
            .arg(&go)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run the python client")
    })
    .await
    .expect("python task");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let mut at = 0;
    for want in EXPECTED {
        let i = lines[at..]
            .iter()
            .position(|l| l.starts_with(want))
            .unwrap_or_else(|| panic!("missing `{want}` in order:\n{stdout}\n{stderr}"));
        at += i + 1;
    }
    tokio::time::timeout(Duration::from_secs(30), ws.shutdown())
        .await
        .expect("the workspace shuts down in time")
        .expect("workspace shutdown");
    let left: Vec<_> = std::fs::read_dir(data.join("cli-tasks"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "working folders left: {left:?}");
}

/// JSON-RPC `method` (A2A 1.0) on `base`; returns the `result`.
async fn rpc(base: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json body");
    body["result"].clone()
}

/// Starts a task on `text` without waiting; returns its id.
async fn start(base: &str, text: &str) -> String {
    let message = serde_json::json!({"messageId": format!("m-{text}"), "role": "ROLE_USER",
                                     "parts": [{"text": text}]});
    let params =
        serde_json::json!({"message": message, "configuration": {"returnImmediately": true}});
    let task = rpc(base, "SendMessage", params).await;
    task["task"]["id"].as_str().expect("a task id").to_owned()
}

/// Polls the task until `cond` holds on it (bounded: a hang fails, not a speed check).
async fn wait_for(
    base: &str,
    id: &str,
    cond: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..1000 {
        let task = rpc(base, "GetTask", serde_json::json!({"id": id})).await;
        if cond(&task) {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} never reached the state wanted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_max_waiting_fails_busy() {
    let dir = tempfile::tempdir().expect("config dir");
    let work = tempfile::tempdir().expect("agent, go and data dir");
    let agent = work.path().join("agent.py");
    std::fs::write(&agent, AGENT).expect("write agent.py");
    let go_dir = work.path().join("go");
    std::fs::create_dir(&go_dir).expect("go dir");
    let yaml = format!(
        "runtime: cli\nruntime_config:\n  command: {}\n  args: [{}, {}]\n  max_concurrent: 1\n\
         sandbox:\n  admission: {{max_waiting: 0}}\n",
        python().display(),
        agent.display(),
        go_dir.display()
    );
    let data = work.path().join("data");
    let env = [
        ("MOLECULE_DATA_DIR", data.to_str().expect("utf-8 path")),
        ("MOLECULE_CLI_SHEPHERD", env!("CARGO_BIN_EXE_cli-shepherd")),
    ];
    let ws = boot_config_env(dir.path(), &yaml, &env, true).await;
    let base = format!("http://{}", ws.addr);
    let state = |t: &serde_json::Value| t["status"]["state"].as_str().unwrap_or("").to_owned();
    let first = start(&base, "a2").await;
    wait_for(&base, &first, |t| state(t) == "TASK_STATE_WORKING").await;
    let second = start(&base, "b2").await;
    let failed = wait_for(&base, &second, |t| state(t) == "TASK_STATE_FAILED").await;
    let reason = failed["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.starts_with("busy: ") && reason.contains("sandbox.admission.max_waiting"),
        "{failed}"
    );
    std::fs::write(go_dir.join("go-a2"), "").expect("go");
    wait_for(&base, &first, |t| state(t) == "TASK_STATE_COMPLETED").await;
    ws.shutdown().await.expect("shutdown");
}

/// Prints its task and context ids, then the history file the runtime wrote for it.
const HISTORY_AGENT: &str = "import os, sys
sys.stdin.read()
print('task=' + os.environ['MOLECULE_TASK_ID'])
print('context=' + os.environ['MOLECULE_CONTEXT_ID'])
path = os.environ['MOLECULE_HISTORY_FILE']
print('in-folder=' + str(os.path.dirname(path) == os.getcwd()))
sys.stdout.write(open(path).read())
";

/// The text of all of a task's artifacts.
fn artifact_text(task: &serde_json::Value) -> String {
    let parts = task["artifacts"].as_array().into_iter().flatten();
    parts
        .flat_map(|a| a["parts"].as_array().into_iter().flatten())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// A second message on the same context: the program reads the first exchange (the user's
/// text and its own earlier output) from `MOLECULE_HISTORY_FILE`, one JSON line each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_program_reads_the_contexts_earlier_messages() {
    let dir = tempfile::tempdir().expect("config dir");
    let work = tempfile::tempdir().expect("agent and data dir");
    let agent = work.path().join("agent.py");
    std::fs::write(&agent, HISTORY_AGENT).expect("write agent.py");
    let yaml = format!(
        "runtime: cli\nruntime_config:\n  command: {}\n  args: [{}]\n  history_max_bytes: 4KiB\n",
        python().display(),
        agent.display()
    );
    let data = work.path().join("data");
    let env = [
        ("MOLECULE_DATA_DIR", data.to_str().expect("utf-8 path")),
        ("MOLECULE_CLI_SHEPHERD", env!("CARGO_BIN_EXE_cli-shepherd")),
    ];
    let ws = boot_config_env(dir.path(), &yaml, &env, true).await;
    let base = format!("http://{}", ws.addr);
    let done = |t: &serde_json::Value| t["status"]["state"] == "TASK_STATE_COMPLETED";
    let mut outputs = Vec::new();
    let mut ids = Vec::new();
    for (i, text) in ["first question", "second question"].iter().enumerate() {
        let message = serde_json::json!({"messageId": format!("h-{i}"), "role": "ROLE_USER",
            "contextId": "ctx-history", "parts": [{"text": text}]});
        let params =
            serde_json::json!({"message": message, "configuration": {"returnImmediately": true}});
        let task = rpc(&base, "SendMessage", params).await;
        let id = task["task"]["id"].as_str().expect("a task id").to_owned();
        let task = wait_for(&base, &id, done).await;
        outputs.push(artifact_text(&task));
        ids.push(id);
    }
    ws.shutdown().await.expect("shutdown");
    let first = &outputs[0];
    assert!(
        first.starts_with(&format!(
            "task={}\ncontext=ctx-history\nin-folder=True\n",
            ids[0]
        )),
        "{first}"
    );
    let second = &outputs[1];
    let lines: Vec<serde_json::Value> = second
        .lines()
        .skip(3)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{second}");
    assert_eq!(
        (&lines[0]["taskId"], &lines[0]["role"], &lines[0]["text"]),
        (
            &ids[0].clone().into(),
            &"user".into(),
            &"first question".into()
        ),
        "{second}"
    );
    assert_eq!(lines[1]["role"], "agent", "{second}");
    assert_eq!(lines[1]["text"].as_str(), Some(first.as_str()), "{second}");
}
