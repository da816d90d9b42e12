//! What a task paused for a human keeps, seen through A2A (JSON-RPC with reqwest): the
//! langgraph adapter (built from source) streams the `scripted` model's text in 12-character
//! chunks, and the model says something, then calls `request_approval` (or the gated `query`
//! of a copy of `demo/skills/json-query`). The stored INPUT_REQUIRED task keeps those words
//! whole (not cut at the last chunk held back by the streamer), and its `molecule.receipt`
//! counts the execution that ended at the pause (and, once resumed, the approved held call).
//! The resumed execution continues the same
//! `response` artifact (same `artifactId`, `append`, one `lastChunk` at the end) instead of
//! adding a second artifact of that name.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use molecule_config::Env;
use molecule_llm::{Gateway, ModelSelection, ScriptedProvider};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::workspace::boot::{boot, BootDeps, RunningWorkspace};
use molecule_tests::{copy_crate, host, test_cache_dir};
use serde_json::{json, Value};

/// The resumed request's last user message is the human's reply (`approve …`) and a pointer
/// to the decision, which the host's SDK puts in the system message; the rule on the reply
/// comes first.
const SCRIPT: &str = r#"
rules:
  - when: "approve"
    turns:
      - text: "Approved, so it is done."
  - when: "deploy"
    turns:
      - text: "I need a human for this."
        tool_calls:
          - name: request_approval
            id: call_ask
            arguments: {action: deploy v2, reason: release day}
turns:
  - text: "Saving that lookup."
    tool_calls:
      - name: query
        id: call_query
        arguments: {json: {team: {lead: Ada}}, pointer: /team/lead}
"#;

async fn boot_langgraph(dir: &std::path::Path) -> RunningWorkspace {
    copy_crate("demo/skills/json-query", &dir.join("skills/json-query"));
    let yaml = "name: approval stream\nruntime: langgraph\nmodel: scripted:approval\n\
                approval:\n  tools: [query]\n";
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    std::fs::write(dir.join("model-script.yaml"), SCRIPT).unwrap();
    let overrides = Overrides {
        config_dir: Some(dir.to_owned()),
        port: Some(0),
        bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let plan = Plan::new(Env::from_pairs(Vec::<(String, String)>::new()), &overrides);
    assert!(
        !plan.preflight.has_failures(),
        "{}",
        plan.preflight.render()
    );
    let provider = ScriptedProvider::from_file(&dir.join("model-script.yaml")).unwrap();
    let selection = ModelSelection::resolve(None, "scripted:approval").unwrap();
    let deps = BootDeps {
        host: Arc::new(host()),
        builder: ComponentBuilder::new(&test_cache_dir()),
        gateway: Ok(Arc::new(Gateway::with_provider(
            selection,
            Arc::new(provider),
        ))),
        in_memory_tasks: true,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let ws = boot(plan, deps, listener).await.expect("boot");
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    ws
}

fn request(method: &str, text: &str, task: Option<&Value>) -> Value {
    let mut message = json!({"messageId": format!("m-{text}"), "role": "ROLE_USER",
                             "parts": [{"text": text}]});
    if let Some(task) = task {
        message["taskId"] = task["id"].clone();
        message["contextId"] = task["contextId"].clone();
    }
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": message}})
}

async fn send(ws: &RunningWorkspace, text: &str, task: Option<&Value>) -> Value {
    let body = request("SendMessage", text, task);
    let resp = reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("send");
    let body: Value = resp.json().await.unwrap();
    body["result"]["task"].clone()
}

/// The events of a `SendStreamingMessage` (the stream closes at the task's end).
async fn send_streaming(ws: &RunningWorkspace, text: &str, task: &Value) -> Vec<Value> {
    let body = request("SendStreamingMessage", text, Some(task));
    let resp = reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("stream");
    let body = tokio::time::timeout(std::time::Duration::from_secs(120), resp.text())
        .await
        .expect("the stream ends")
        .unwrap();
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| {
            serde_json::from_str::<Value>(d.trim()).expect("SSE data is JSON")["result"].clone()
        })
        .collect()
}

/// The task's artifacts as (id, name, text).
fn artifacts(task: &Value) -> Vec<(String, String, String)> {
    let list = task["artifacts"].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|a| {
            let text = a["parts"].as_array().into_iter().flatten();
            let text: String = text.filter_map(|p| p["text"].as_str()).collect();
            let name = a["name"].as_str().unwrap_or_default().to_owned();
            (
                a["artifactId"].as_str().unwrap_or_default().to_owned(),
                name,
                text,
            )
        })
        .collect()
}

fn pending_id(task: &Value) -> String {
    assert_eq!(
        task["status"]["state"], "TASK_STATE_INPUT_REQUIRED",
        "{task}"
    );
    let approval = &task["metadata"]["molecule.approval"]["pending"];
    approval["id"].as_str().expect("a pending id").to_owned()
}

/// The paused execution ran the adapter and called the model: its receipt says so.
fn assert_paused_receipt(task: &Value) {
    let receipt = &task["metadata"]["molecule.receipt"];
    let counted = |key: &str| receipt[key].as_f64().unwrap_or_default();
    assert!(
        counted("host_calls") > 0.0 && counted("peak_memory_bytes") > 0.0,
        "the paused execution's receipt is recorded: {receipt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_before_a_pause_are_kept_whole_and_the_answer_continues_them() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_langgraph(dir.path()).await;

    // request_approval: the words before it, whole, in one `response` artifact.
    let task = send(&ws, "Please deploy v2", None).await;
    pending_id(&task);
    let paused = artifacts(&task);
    assert_eq!(paused.len(), 1, "{task}");
    let (id, name, text) = &paused[0];
    assert_eq!(
        (name.as_str(), text.as_str()),
        ("response", "I need a human for this.")
    );
    assert_paused_receipt(&task);

    // The answer streams into the same artifact: appended chunks, the last one marked.
    let events = send_streaming(&ws, "approve", &task).await;
    let updates: Vec<&Value> = events
        .iter()
        .filter_map(|e| e.get("artifactUpdate"))
        .collect();
    assert!(!updates.is_empty(), "{events:#?}");
    for update in &updates {
        assert_eq!(update["artifact"]["artifactId"], id.as_str(), "{update}");
        assert_eq!(update["append"], true, "{update}");
    }
    let lasts: Vec<bool> = updates.iter().map(|u| u["lastChunk"] == true).collect();
    assert_eq!(lasts.iter().filter(|l| **l).count(), 1, "{updates:#?}");
    assert!(lasts.last().copied().unwrap_or_default(), "{updates:#?}");
    let done = events.last().unwrap();
    assert_eq!(
        done["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{done}"
    );
    let stored = get_task(&ws, &task).await;
    let finished = artifacts(&stored);
    assert_eq!(finished.len(), 1, "no second `response` artifact: {stored}");
    assert_eq!(
        finished[0],
        (
            id.clone(),
            "response".into(),
            "I need a human for this.\n\nApproved, so it is done.".into()
        )
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_before_a_held_call_are_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_langgraph(dir.path()).await;
    let task = send(&ws, "Who leads the team?", None).await;
    let id = pending_id(&task);
    let paused = artifacts(&task);
    assert_eq!(paused.len(), 1, "{task}");
    assert_eq!(paused[0].2, "Saving that lookup.", "{task}");
    assert_paused_receipt(&task);

    let done = send(&ws, &format!("approve {id}"), Some(&task)).await;
    assert_eq!(done["status"]["state"], "TASK_STATE_COMPLETED", "{done}");
    // The approved call ran (before the adapter) and counts in the task's receipt.
    let receipt = &done["metadata"]["molecule.receipt"];
    assert_eq!(receipt["tool_calls"], 1, "{receipt}");
    let finished = artifacts(&done);
    assert_eq!(finished.len(), 1, "{done}");
    assert_eq!(finished[0].0, paused[0].0, "the same artifact continues");
    assert_eq!(
        finished[0].2,
        "Saving that lookup.\n\nApproved, so it is done."
    );
    ws.shutdown().await.unwrap();
}

async fn get_task(ws: &RunningWorkspace, task: &Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "GetTask",
                      "params": {"id": task["id"]}});
    let resp = reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("get");
    let body: Value = resp.json().await.unwrap();
    body["result"].clone()
}
