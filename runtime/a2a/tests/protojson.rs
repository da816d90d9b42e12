//! ProtoJSON field names on JSON-RPC and HTTP+JSON: a request may name a field by its JSON
//! name (`historyLength`) or by its proto field name (`history_length`).

mod common;

use common::{assert_error, rpc, spawn, user_message, Setup};
use serde_json::json;

#[tokio::test]
async fn proto_field_names_are_read_on_both_bindings() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello")}),
    )
    .await;
    let task = v["result"]["task"].clone();
    let id = task["id"].as_str().expect("task id").to_string();
    let ctx = task["contextId"].as_str().expect("context id").to_string();
    assert_eq!(task["history"].as_array().map(Vec::len), Some(2), "{v}");
    // GetTask {"history_length": 1}.
    let (_, g) = rpc(
        &s.url,
        Some("1.0"),
        "GetTask",
        json!({"id": id, "history_length": 1}),
    )
    .await;
    assert_eq!(
        g["result"]["history"].as_array().map(Vec::len),
        Some(1),
        "{g}"
    );
    // Tasks in other contexts, then ListTasks {"context_id": …} returns only this one.
    for _ in 0..3 {
        rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message("other")}),
        )
        .await;
    }
    let (_, l) = rpc(
        &s.url,
        Some("1.0"),
        "ListTasks",
        json!({"context_id": ctx, "page_size": 10, "include_artifacts": true}),
    )
    .await;
    let tasks = l["result"]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "{l}");
    assert_eq!(tasks[0]["id"], id.as_str());
    assert!(tasks[0]["artifacts"].is_array(), "{l}");
    // The same over REST: query parameters and a body in proto names.
    let body: serde_json::Value = reqwest::get(format!(
        "{}/tasks?context_id={ctx}&include_artifacts=false",
        s.url
    ))
    .await
    .expect("list")
    .json()
    .await
    .expect("json");
    assert_eq!(body["tasks"].as_array().map(Vec::len), Some(1), "{body}");
    assert!(body["tasks"][0].get("artifacts").is_none(), "{body}");
    let body: serde_json::Value = reqwest::get(format!("{}/tasks/{id}?history_length=1", s.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body["history"].as_array().map(Vec::len), Some(1), "{body}");
    let mut msg = user_message("gated x");
    msg["message_id"] = msg["messageId"].take();
    msg.as_object_mut().expect("object").remove("messageId");
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/message:send", s.url))
        .json(&json!({"message": msg, "configuration": {"return_immediately": true}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["task"]["status"]["state"], "TASK_STATE_SUBMITTED",
        "{body}"
    );
    s.executor.release();
}

#[tokio::test]
async fn one_field_under_both_names_is_refused() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTasks",
        json!({"contextId": "a", "context_id": "b"}),
    )
    .await;
    assert_error(&v, -32602, "`contextId` is given twice");
}
