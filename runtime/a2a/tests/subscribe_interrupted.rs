//! SubscribeToTask on an interrupted (INPUT_REQUIRED) task: the stream stays open until the
//! task is terminal — a follow-up message that completes the task is seen on it (JSON-RPC and
//! REST), a cancel ends it with CANCELED, and a terminal task is still refused.

mod common;

use common::{read_sse, rpc, rpc_stream, spawn, user_message, Setup};
use serde_json::{json, Value};

/// Sends `ask <x>` and returns the id of the INPUT_REQUIRED task.
async fn interrupted_task(url: &str) -> String {
    let (_, v) = rpc(
        url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask name")}),
    )
    .await;
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_INPUT_REQUIRED",
        "{v}"
    );
    v["result"]["task"]["id"].as_str().expect("task id").into()
}

fn continuation(task_id: &str, text: &str) -> Value {
    let mut m = user_message(text);
    m["taskId"] = json!(task_id);
    json!({ "message": m })
}

/// The states carried by a stream's task snapshots and status updates, in order.
fn states(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| {
            let r = e.get("result").unwrap_or(e);
            r["task"]["status"]["state"]
                .as_str()
                .or(r["statusUpdate"]["status"]["state"].as_str())
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test]
async fn subscribe_follows_input_required_task_to_completion() {
    let s = spawn(Setup::default()).await;
    let id = interrupted_task(&s.url).await;
    let stream = rpc_stream(&s.url, Some("1.0"), "SubscribeToTask", json!({"id": id})).await;
    assert_eq!(stream.status().as_u16(), 200);
    // The stream is registered once the response headers are here: continue the task.
    let reader = tokio::spawn(read_sse(stream));
    let (_, done) = rpc(&s.url, Some("1.0"), "SendMessage", continuation(&id, "Ada")).await;
    assert_eq!(
        done["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{done}"
    );
    let events = reader.await.expect("reader");
    assert_eq!(
        states(&events),
        [
            "TASK_STATE_INPUT_REQUIRED",
            "TASK_STATE_WORKING",
            "TASK_STATE_COMPLETED"
        ],
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["result"].get("artifactUpdate").is_some()),
        "the continuation's artifacts reach the subscriber: {events:?}"
    );
    // Now terminal: a new subscription is refused.
    let (_, v) = rpc(&s.url, Some("1.0"), "SubscribeToTask", json!({"id": id})).await;
    assert_eq!(v["error"]["code"], -32004, "{v}");
}

#[tokio::test]
async fn two_rest_subscribers_follow_the_continuation() {
    let s = spawn(Setup::default()).await;
    let id = interrupted_task(&s.url).await;
    let client = reqwest::Client::new();
    let open = || {
        client
            .post(format!("{}/tasks/{id}:subscribe", s.url))
            .header("A2A-Version", "1.0")
            .send()
    };
    let (a, b) = (open().await.expect("a"), open().await.expect("b"));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let (ra, rb) = (tokio::spawn(read_sse(a)), tokio::spawn(read_sse(b)));
    rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        continuation(&id, "Grace"),
    )
    .await;
    for events in [ra.await.expect("a"), rb.await.expect("b")] {
        assert_eq!(
            states(&events).last().map(String::as_str),
            Some("TASK_STATE_COMPLETED"),
            "{events:?}"
        );
        assert_eq!(states(&events)[0], "TASK_STATE_INPUT_REQUIRED");
    }
}

#[tokio::test]
async fn cancel_ends_the_subscription_of_an_interrupted_task() {
    let s = spawn(Setup::default()).await;
    let id = interrupted_task(&s.url).await;
    let stream = rpc_stream(&s.url, Some("1.0"), "SubscribeToTask", json!({"id": id})).await;
    let reader = tokio::spawn(read_sse(stream));
    let (_, v) = rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": id})).await;
    assert_eq!(v["result"]["status"]["state"], "TASK_STATE_CANCELED", "{v}");
    let events = reader.await.expect("reader");
    assert_eq!(
        states(&events),
        ["TASK_STATE_INPUT_REQUIRED", "TASK_STATE_CANCELED"],
        "{events:?}"
    );
}

#[tokio::test]
async fn streaming_send_still_ends_at_the_interruption() {
    let s = spawn(Setup::default()).await;
    let stream = rpc_stream(
        &s.url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message("ask name")}),
    )
    .await;
    let events = read_sse(stream).await;
    assert_eq!(
        states(&events).last().map(String::as_str),
        Some("TASK_STATE_INPUT_REQUIRED"),
        "{events:?}"
    );
}
