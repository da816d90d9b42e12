//! Nothing is acknowledged that is not stored: with the task database full (SQLite
//! `max_page_count` capped at its current size, which fails writes exactly as a full disk
//! does), every reply that would name an unstored task is an error (HTTP 503, JSON-RPC -32603,
//! ErrorInfo `TASK_STORE_UNAVAILABLE` saying which file and why), a stream ends with that
//! error instead of the final state, GetTask claims nothing, failures are counted, and once
//! there is room again writes succeed. Also: store errors name the file and what was done.

mod common;

use common::{read_sse, rpc, rpc_stream, spawn, user_message, wait_state, Setup};
use molecule_a2a::types::{Task, TaskState, TaskStatus};
use molecule_a2a::{Retention, StoreError, TaskStore};
use serde_json::{json, Value};

/// A user text of `kib` KiB. Once the database is capped, only its free pages (left by
/// rewritten rows: at most a few copies of the running task) can take new rows; the texts
/// below are sized so that no failing write fits in them.
fn big(prefix: &str, kib: usize) -> String {
    format!("{prefix} {}", "x".repeat(kib * 1024))
}

/// Asserts `v` is the JSON-RPC "task store unavailable" error for a full `tasks.db`.
fn assert_store_full(status: u16, v: &Value) {
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], -32603, "{v}");
    let info = &v["error"]["data"][0];
    assert_eq!(info["reason"], "TASK_STORE_UNAVAILABLE", "{v}");
    let detail = info["metadata"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("writing task ")
            && detail.ends_with("tasks.db: database or disk is full"),
        "{detail}"
    );
    assert!(
        !detail.contains("/tmp"),
        "host paths stay out of replies: {detail}"
    );
}

#[tokio::test]
async fn a_full_store_answers_errors_claims_nothing_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = TaskStore::open(&dir.path().join("tasks.db"), Retention::default()).expect("open");
    let s = spawn(Setup {
        store: Some(store.clone()),
        ..Setup::default()
    })
    .await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ok")}),
    )
    .await;
    assert_eq!(
        v["result"]["task"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );
    // A task already running when the disk fills: stored up to WORKING.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message(&big("gated", 128)), "configuration": {"returnImmediately": true}}),
    )
    .await;
    let gated = v["result"]["task"]["id"]
        .as_str()
        .expect("gated id")
        .to_string();
    wait_state(&s.url, &gated, "TASK_STATE_WORKING").await;
    let stream = rpc_stream(&s.url, Some("1.0"), "SubscribeToTask", json!({"id": gated})).await;

    store
        .set_max_pages(1)
        .await
        .expect("cap the database at its size");
    let failures_before = store.metrics().write_failures;

    // Blocking, non-blocking and streaming sends: each an error, no task started.
    let (status, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message(&big("a", 256))}),
    )
    .await;
    assert_store_full(status, &v);
    let params = json!({"message": user_message(&big("b", 256)), "configuration": {"returnImmediately": true}});
    let (status, v) = rpc(&s.url, Some("1.0"), "SendMessage", params).await;
    assert_store_full(status, &v);
    let resp = rpc_stream(
        &s.url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message(&big("c", 256))}),
    )
    .await;
    let status = resp.status().as_u16();
    assert_store_full(status, &resp.json().await.expect("json error"));
    let rest = reqwest::Client::new()
        .post(format!("{}/message:send", s.url))
        .json(&json!({"message": user_message(&big("d", 256))}))
        .send()
        .await
        .expect("rest send");
    assert_eq!(rest.status().as_u16(), 503);
    let body: Value = rest.json().await.expect("rest body");
    assert_eq!(body["error"]["status"], "UNAVAILABLE", "{body}");
    assert_eq!(
        body["error"]["details"][0]["reason"],
        "TASK_STORE_UNAVAILABLE"
    );

    // The running task finishes into the full disk: its stream ends with the error, not with
    // a COMPLETED that was never stored, and GetTask does not answer an older state.
    s.executor.release();
    let events = read_sse(stream).await;
    let last = events.last().expect("events");
    assert_eq!(
        last["error"]["data"][0]["reason"], "TASK_STORE_UNAVAILABLE",
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["result"]["statusUpdate"]["status"]["state"] != "TASK_STATE_COMPLETED"),
        "{events:?}"
    );
    let (status, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": gated})).await;
    assert_store_full(status, &v);
    let (_, list) = rpc(&s.url, Some("1.0"), "ListTasks", json!({})).await;
    assert_eq!(
        list["result"]["totalSize"], 2,
        "only the tasks stored before: {list}"
    );
    assert!(store.metrics().write_failures >= failures_before + 4);

    // Room again: writes succeed, nothing is wedged.
    store.set_max_pages(1 << 30).await.expect("lift the cap");
    let (status, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message(&big("e", 256))}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{v}"
    );
    let id = v["result"]["task"]["id"].clone();
    let (_, g) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": id})).await;
    assert_eq!(
        g["result"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{g}"
    );
}

fn task(id: &str, text: &str) -> Task {
    Task {
        id: id.into(),
        context_id: "ctx".into(),
        status: TaskStatus {
            state: TaskState::Completed,
            message: Some(molecule_a2a::types::agent_text_message(text, id, "ctx")),
            timestamp: Some(molecule_a2a::types::now()),
        },
        artifacts: None,
        history: None,
        metadata: None,
    }
}

#[tokio::test]
async fn a_failed_write_names_the_task_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tasks.db");
    let store = TaskStore::open(&path, Retention::default()).expect("open");
    store.set_max_pages(1).await.expect("cap");
    let err = store
        .put(&task("t-full", &big("z", 64)))
        .await
        .expect_err("the write fails");
    assert_eq!(
        err.to_string(),
        format!(
            "writing task t-full to {}: database or disk is full",
            path.display()
        )
    );
    assert!(matches!(err, StoreError::Write { .. }));
    assert_eq!(store.get("t-full").await.expect_err("not stored"), err);
    assert_eq!(store.metrics().write_failures, 1);
    store.set_max_pages(1 << 30).await.expect("uncap");
    store
        .put(&task("t-full", "small"))
        .await
        .expect("stored now");
    assert!(store.get("t-full").await.expect("read").is_some());
}

#[tokio::test]
async fn a_lost_final_write_is_stored_once_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = TaskStore::open(&dir.path().join("tasks.db"), Retention::default()).expect("open");
    let mut working = task("t-lost", "started");
    working.status.state = TaskState::Working;
    store
        .put(&working)
        .await
        .expect("stored while there is space");
    store.set_max_pages(1).await.expect("cap");
    let final_write = task("t-lost", &big("done", 64));
    store
        .put(&final_write)
        .await
        .expect_err("the final write fails");
    store
        .get("t-lost")
        .await
        .expect_err("lost: not the WORKING version");
    store.set_max_pages(1 << 30).await.expect("uncap");
    // Any other write that commits makes the store write the lost one again.
    store.put(&task("t-other", "small")).await.expect("stored");
    let got = store
        .get("t-lost")
        .await
        .expect("no longer lost")
        .expect("present");
    assert_eq!(got.status.state, TaskState::Completed);
    assert_eq!(got.status.message, final_write.status.message);
    let m = store.metrics();
    let count = |s| {
        m.tasks_by_state
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |c| c.1)
    };
    assert_eq!(
        (count(TaskState::Working), count(TaskState::Completed)),
        (0, 2)
    );
}

#[test]
fn open_errors_name_the_file_and_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A "folder" that is a file: SQLite cannot create the database there.
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").expect("write");
    let path = file.join("tasks.db");
    let err = TaskStore::open(&path, Retention::default())
        .err()
        .expect("open fails");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot open the task store {}: unable to open database file",
            path.display()
        )),
        "{text}"
    );
    assert!(!text.contains("Error code"), "{text}");
    // A file that is not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).expect("write junk");
    let text = TaskStore::open(&junk, Retention::default())
        .err()
        .expect("open fails")
        .to_string();
    assert_eq!(
        text,
        format!(
            "cannot open the task store {}: file is not a database",
            junk.display()
        )
    );
}
