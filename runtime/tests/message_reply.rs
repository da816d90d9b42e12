//! Message-only replies through the real binary and the echo test adapter: `say <text>`
//! answers with `events.reply` — SendMessage returns the Message (no task) and a stream is that
//! one Message —, and WORKING is sent once: lazily before the first artifact, and not again
//! when the adapter reports WORKING itself (`working`).

#![cfg(unix)]

use std::time::Duration;

use serde_json::{json, Value};

mod common;
use common::repo;
use common::server::start;

fn rpc(port: u16, method: &str, text: &str) -> reqwest::RequestBuilder {
    let params = json!({"message": {"messageId": format!("m-{text}"), "role": "ROLE_USER",
                                    "parts": [{"text": text}]}});
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("A2A-Version", "1.0")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
}

async fn stream(port: u16, text: &str) -> Vec<Value> {
    let resp = rpc(port, "SendStreamingMessage", text)
        .send()
        .await
        .expect("stream");
    let body = tokio::time::timeout(Duration::from_secs(60), resp.text())
        .await
        .expect("stream ends")
        .expect("body");
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str::<Value>(d.trim()).expect("json")["result"].clone())
        .collect()
}

fn working_updates(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["statusUpdate"]["status"]["state"] == "TASK_STATE_WORKING")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_is_the_whole_answer_and_working_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Reply\nruntime: {}\nmodel: scripted:reply\na2a: {{streaming: true}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"ok\"\n",
    )
    .unwrap();
    let (_server, port) = start(dir.path());

    let v: Value = rpc(port, "SendMessage", "say hi there")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &v["result"]["message"];
    assert_eq!(m["parts"][0]["text"], "hi there", "{v}");
    assert_eq!(m["role"], "ROLE_AGENT", "{v}");
    assert!(v["result"].get("task").is_none(), "{v}");

    let events = stream(port, "say streamed").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["message"]["parts"][0]["text"], "streamed");

    let events = stream(port, "working").await;
    assert_eq!(working_updates(&events), 1, "{events:?}");
    let last = &events[events.len() - 1];
    assert_eq!(
        last["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );

    let events = stream(port, "plain echo").await;
    assert_eq!(working_updates(&events), 1, "{events:?}");
    assert!(events.iter().any(|e| e.get("artifactUpdate").is_some()));
}

/// A reply is held to the task's budgets like any message: past
/// `sandbox.task.max_artifact_bytes` it is refused and the task ends FAILED naming the key,
/// instead of the whole oversized reply reaching the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_past_the_task_budget_fails_the_task_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Reply\nruntime: {}\nmodel: scripted:reply\nsandbox: {{task: {{max_artifact_bytes: 1k}}}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"ok\"\n",
    )
    .unwrap();
    let (_server, port) = start(dir.path());

    let small: Value = rpc(port, "SendMessage", "say fits")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(small["result"]["message"]["parts"][0]["text"], "fits");

    let text = format!("say {}", "A".repeat(20_000));
    let v: Value = rpc(port, "SendMessage", &text)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["result"].get("message").is_none(), "the reply got out");
    let task = &v["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_FAILED", "{task}");
    let why = task["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("sandbox.task.max_artifact_bytes"), "{why}");
}
