//! Human approval across a restart and at boot, over A2A JSON-RPC with reqwest against a real
//! workspace (echo adapter, scripted model, file-backed task store): a call held for approval
//! is stored with its task, survives a restart and runs once after `approve <id>`; boot refuses
//! an `approval.tools` name that is no tool of the workspace, naming the file and the key.

use molecule_tests::{a2a_result, boot_config, repo_root, try_boot_config_env};
use serde_json::{json, Value};

fn yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: {name}\nruntime: {}\nmodel: scripted:demo\napproval:\n  tools: [commit_memory]\n",
        adapter.display()
    )
}

async fn send(base: &str, text: &str, task: Option<&Value>) -> Value {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut message = json!({"messageId": format!("m-{nanos}"),
        "role": "ROLE_USER", "parts": [{"text": text}]});
    if let Some(task) = task {
        message["taskId"] = task["id"].clone();
        message["contextId"] = task["contextId"].clone();
    }
    let client = reqwest::Client::new();
    a2a_result(&client, base, "SendMessage", json!({"message": message})).await["task"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_call_survives_a_restart_and_runs_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = boot_config(dir.path(), &yaml("Restart"), false).await;
    let base = format!("http://{}", ws.addr);
    let task = send(
        &base,
        r#"tool commit_memory {"content":"restart fact"}"#,
        None,
    )
    .await;
    assert_eq!(
        task["status"]["state"], "TASK_STATE_INPUT_REQUIRED",
        "{task}"
    );
    let id = task["metadata"]["molecule.approval"]["pending"]["id"]
        .as_str()
        .expect("the pending id in the task")
        .to_owned();
    ws.shutdown().await.expect("shutdown");

    let ws = boot_config(dir.path(), &yaml("Restart"), false).await;
    let base = format!("http://{}", ws.addr);
    let done = send(&base, &format!("approve {id}"), Some(&task)).await;
    assert_eq!(done["status"]["state"], "TASK_STATE_COMPLETED", "{done}");
    let text = done["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.starts_with(&format!("approval: Approved kind=tool id={id}")),
        "{text}"
    );
    let found = send(
        &base,
        r#"tool search_memory {"query":"restart fact"}"#,
        None,
    )
    .await;
    let found = found["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let hits: Value = serde_json::from_str(found).expect("search_memory output");
    assert_eq!(hits["memories"].as_array().map(Vec::len), Some(1), "{hits}");
    ws.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_refuses_a_gated_name_that_is_no_tool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Typo\nruntime: {}\nmodel: scripted:demo\napproval:\n  tools: [comit_memory]\n",
        adapter.display()
    );
    let Err(err) = try_boot_config_env(dir.path(), &yaml, &[]).await else {
        panic!("boot accepted an unknown approval.tools name");
    };
    let err = format!("{err:#}");
    assert!(
        err.contains("config.yaml") && err.contains("approval.tools[0]"),
        "{err}"
    );
}
