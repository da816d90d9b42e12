//! Task budgets of a whole workspace (`sandbox.task.*`): a task past its events or artifact
//! bytes budget ends FAILED naming the key, with one log notice per task and a receipt.

use std::sync::Arc;

use molecule_runtime::budgets::Budget;
use molecule_tests::{budget_hits as hits, captured_log as captured};
use serde_json::{json, Value};

/// A workspace (langgraph, a scripted model with a long streamed answer) whose task budget is
/// `budget_yaml`; two tasks are sent and returned (blocking SendMessage).
async fn two_tasks_within(budget_yaml: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let answer = "This answer is streamed in many small chunks. ".repeat(20);
    let script = format!("stream_chunk_chars: 8\nturns:\n  - text: \"{answer}\"\n");
    let script_file = dir.path().join("model-script.yaml");
    std::fs::write(&script_file, script).unwrap();
    let yaml = format!(
        "name: budgets\nruntime: langgraph\nmodel: scripted:budgets\n\
         sandbox: {{task: {budget_yaml}}}\n"
    );
    let ws = molecule_tests::boot_with_gateway(dir.path(), &yaml, &[], true, |_| {
        let provider = molecule_llm::ScriptedProvider::from_file(&script_file).unwrap();
        let selection = molecule_llm::ModelSelection::resolve(None, "scripted:budgets").unwrap();
        Ok(Arc::new(molecule_llm::Gateway::with_provider(
            selection,
            Arc::new(provider),
        )))
    })
    .await;
    let mut tasks = Vec::new();
    for n in 0..2 {
        let message = json!({"messageId": format!("m-{n}"), "role": "ROLE_USER",
                             "parts": [{"text": "answer at length"}]});
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                          "params": {"message": message}});
        let reply: Value = reqwest::Client::new()
            .post(format!("http://{}/", ws.addr))
            .header("A2A-Version", "1.0")
            .json(&body)
            .send()
            .await
            .expect("SendMessage")
            .json()
            .await
            .expect("JSON");
        tasks.push(reply["result"]["task"].clone());
    }
    ws.shutdown().await.unwrap();
    tasks
}

/// Each task that spent `key` ended FAILED naming it, and the log has exactly one notice
/// about it per task (no line per refused event, from the host or the adapter).
fn assert_failed_once_each(tasks: &[Value], key: &str) {
    let log = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
    for task in tasks {
        assert_eq!(task["status"]["state"], "TASK_STATE_FAILED", "{task}");
        let text = task["status"]["message"]["parts"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.starts_with("budget spent: "), "{text}");
        assert!(text.contains(&format!("(raise {key})")), "{text}");
        assert!(
            task["metadata"]["molecule.receipt"]["wall_ms"].is_number(),
            "{task}"
        );
        let id = task["id"].as_str().expect("task id");
        let notices: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(id) && l.contains("budget spent"))
            .collect();
        assert_eq!(notices.len(), 1, "one notice per task: {notices:#?}");
        assert!(notices[0].contains(key), "{}", notices[0]);
    }
    assert!(
        !log.contains("events.add-artifact failed"),
        "the adapter logged refused events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_its_events_budget_ends_failed_naming_the_key() {
    captured();
    let before = hits(Budget::TaskEvents);
    let tasks = two_tasks_within("{max_events: 5}").await;
    assert_failed_once_each(&tasks, "sandbox.task.max_events");
    assert!(hits(Budget::TaskEvents) >= before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_its_artifact_bytes_ends_failed_naming_the_key() {
    captured();
    let tasks = two_tasks_within("{max_artifact_bytes: 10}").await;
    assert_failed_once_each(&tasks, "sandbox.task.max_artifact_bytes");
    for task in &tasks {
        assert!(
            task["artifacts"].as_array().is_none_or(Vec::is_empty),
            "{task}"
        );
    }
}
