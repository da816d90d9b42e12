//! SSE streaming over a real server: fan-out to two subscribers of one task (task first, then
//! every update, closed at the terminal state), the 0.3 stream shape with `final`, and the REST
//! stream binding.

mod common;

use common::{read_sse, rpc, rpc_stream, spawn, user_message, user_message_v03, wait_state, Setup};
use serde_json::{json, Value};

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let r = &e["result"];
            for k in ["task", "message", "statusUpdate", "artifactUpdate"] {
                if r.get(k).is_some() {
                    return k.to_string();
                }
            }
            format!("?{e}")
        })
        .collect()
}

#[tokio::test]
async fn two_subscribers_get_every_event() {
    let s = spawn(Setup::default()).await;
    let a = rpc_stream(
        &s.url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message("gated fan")}),
    )
    .await;
    assert_eq!(a.status().as_u16(), 200);
    assert!(a.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    // Find the task id through ListTasks, wait until it works, then subscribe a second stream.
    let mut task_id = String::new();
    for _ in 0..100 {
        let (_, l) = rpc(&s.url, Some("1.0"), "ListTasks", json!({})).await;
        if let Some(id) = l["result"]["tasks"][0]["id"].as_str() {
            task_id = id.to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    wait_state(&s.url, &task_id, "TASK_STATE_WORKING").await;
    let b = rpc_stream(
        &s.url,
        Some("1.0"),
        "SubscribeToTask",
        json!({"id": task_id}),
    )
    .await;
    assert_eq!(b.status().as_u16(), 200);
    s.executor.release();
    let (ea, eb) = tokio::join!(read_sse(a), read_sse(b));
    assert_eq!(
        kinds(&ea),
        [
            "task",
            "statusUpdate",
            "artifactUpdate",
            "artifactUpdate",
            "statusUpdate"
        ],
        "{ea:?}"
    );
    assert_eq!(
        kinds(&eb),
        ["task", "artifactUpdate", "artifactUpdate", "statusUpdate"],
        "{eb:?}"
    );
    assert_eq!(
        ea[0]["result"]["task"]["status"]["state"],
        "TASK_STATE_SUBMITTED"
    );
    assert_eq!(
        eb[0]["result"]["task"]["status"]["state"],
        "TASK_STATE_WORKING"
    );
    assert_eq!(ea[0]["id"], "s1");
    assert_eq!(ea[0]["jsonrpc"], "2.0");
    for events in [&ea, &eb] {
        let n = events.len();
        assert_eq!(
            events[n - 1]["result"]["statusUpdate"]["status"]["state"],
            "TASK_STATE_COMPLETED"
        );
        assert_eq!(events[n - 2]["result"]["artifactUpdate"]["append"], true);
        assert_eq!(events[n - 2]["result"]["artifactUpdate"]["lastChunk"], true);
        assert_eq!(
            events[n - 1]["result"]["statusUpdate"]["taskId"],
            task_id.as_str()
        );
    }
}

#[tokio::test]
async fn message_reply_stream_is_one_message() {
    let s = spawn(Setup::default()).await;
    let r = rpc_stream(
        &s.url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message("reply hi")}),
    )
    .await;
    let events = read_sse(r).await;
    assert_eq!(kinds(&events), ["message"], "{events:?}");
}

#[tokio::test]
async fn v03_stream_has_kinds_and_final() {
    let s = spawn(Setup::default()).await;
    let r = rpc_stream(
        &s.url,
        None,
        "message/stream",
        json!({"message": user_message_v03("hey")}),
    )
    .await;
    let events = read_sse(r).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["result"]["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        [
            "task",
            "status-update",
            "artifact-update",
            "artifact-update",
            "status-update"
        ],
        "{events:?}"
    );
    assert_eq!(events[1]["result"]["final"], false);
    assert_eq!(events[1]["result"]["status"]["state"], "working");
    assert_eq!(events[4]["result"]["final"], true);
    assert_eq!(events[4]["result"]["status"]["state"], "completed");
    assert_eq!(events[2]["result"]["artifact"]["parts"][0]["kind"], "text");
    // tasks/resubscribe on a terminal task → -32004 as a plain JSON-RPC error.
    let id = events[0]["result"]["id"].clone();
    let (_, v) = rpc(&s.url, None, "tasks/resubscribe", json!({"id": id})).await;
    assert_eq!(v["error"]["code"], -32004);
}

#[tokio::test]
async fn rest_stream_sends_bare_stream_responses() {
    let s = spawn(Setup::default()).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/message:stream", s.url))
        .header("A2A-Version", "1.0")
        .json(&json!({"message": user_message("rest stream")}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let events = read_sse(resp).await;
    assert!(events[0].get("task").is_some(), "{events:?}");
    assert_eq!(
        events
            .last()
            .map(|e| e["statusUpdate"]["status"]["state"].clone()),
        Some(json!("TASK_STATE_COMPLETED"))
    );
    // Subscribing to an interrupted task sends the task and stays open until it is terminal
    // (tests/subscribe_interrupted.rs); a cancel ends it.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask q")}),
    )
    .await;
    let id = v["result"]["task"]["id"].as_str().expect("id").to_string();
    let resp = reqwest::get(format!("{}/tasks/{id}:subscribe", s.url))
        .await
        .expect("sub");
    let reader = tokio::spawn(read_sse(resp));
    rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": id})).await;
    let events = reader.await.expect("reader");
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[0]["task"]["status"]["state"],
        "TASK_STATE_INPUT_REQUIRED"
    );
    assert_eq!(
        events[1]["statusUpdate"]["status"]["state"],
        "TASK_STATE_CANCELED"
    );
}

#[tokio::test]
async fn cancel_closes_open_streams() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("gated c"),
        "configuration": {"returnImmediately": true}}),
    )
    .await;
    let id = v["result"]["task"]["id"].as_str().expect("id").to_string();
    wait_state(&s.url, &id, "TASK_STATE_WORKING").await;
    let sub = rpc_stream(&s.url, Some("1.0"), "SubscribeToTask", json!({"id": id})).await;
    let (_, c) = rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": id})).await;
    assert_eq!(c["result"]["status"]["state"], "TASK_STATE_CANCELED", "{c}");
    let events = read_sse(sub).await;
    assert_eq!(kinds(&events), ["task", "statusUpdate"]);
    assert_eq!(
        events[1]["result"]["statusUpdate"]["status"]["state"],
        "TASK_STATE_CANCELED"
    );
}

#[tokio::test]
async fn shutdown_closes_open_streams() {
    let s = spawn(Setup::default()).await;
    let r = rpc_stream(
        &s.url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message("gated forever")}),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    drop(s); // signals graceful shutdown
    let events = read_sse(r).await; // must end instead of hanging
    assert!(events.len() <= 2, "{events:?}");
}
