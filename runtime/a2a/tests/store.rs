//! Persistence: tasks (with history and artifacts) survive a restart on the same SQLite file,
//! tasks left running by a dead process are failed at startup, and retention bounds the count.

mod common;

use common::{rpc, spawn, user_message, wait_state, Setup};
use molecule_a2a::{Retention, TaskStore};
use serde_json::json;

#[tokio::test]
async fn restart_keeps_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tasks.db");
    let (done_id, gated_id) = {
        let store = TaskStore::open(&path, Retention::default()).expect("open store");
        let s = spawn(Setup {
            store: Some(store.clone()),
            ..Setup::default()
        })
        .await;
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message("persist me")}),
        )
        .await;
        let done = v["result"]["task"]["id"].as_str().expect("id").to_string();
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message("gated p"),
            "configuration": {"returnImmediately": true}}),
        )
        .await;
        let gated = v["result"]["task"]["id"].as_str().expect("id").to_string();
        wait_state(&s.url, &gated, "TASK_STATE_WORKING").await;
        store.flush().await.expect("flush");
        (done, gated)
    };
    // "Restart": a new store and server on the same file.
    let store = TaskStore::open(&path, Retention::default()).expect("reopen store");
    let s = spawn(Setup {
        store: Some(store),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        s.server
            .fail_unfinished_tasks()
            .await
            .expect("fail unfinished"),
        1
    );
    let (_, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": done_id})).await;
    let t = &v["result"];
    assert_eq!(t["status"]["state"], "TASK_STATE_COMPLETED", "{v}");
    assert_eq!(t["history"][0]["parts"][0]["text"], "persist me");
    assert_eq!(t["artifacts"][0]["parts"][1]["text"], "persist me");
    let (_, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": gated_id})).await;
    assert_eq!(v["result"]["status"]["state"], "TASK_STATE_FAILED", "{v}");
    let (_, l) = rpc(&s.url, Some("1.0"), "ListTasks", json!({})).await;
    assert_eq!(l["result"]["totalSize"], 2);
}

#[tokio::test]
async fn retention_bounds_task_count() {
    let store = TaskStore::in_memory(Retention {
        max_tasks: 2,
        max_age: std::time::Duration::from_secs(3600),
    })
    .expect("store");
    let s = spawn(Setup {
        store: Some(store.clone()),
        ..Setup::default()
    })
    .await;
    let mut last = String::new();
    for i in 0..4 {
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message(&format!("r{i}"))}),
        )
        .await;
        last = v["result"]["task"]["id"].as_str().expect("id").to_string();
    }
    molecule_a2a::store::prune_now(&store).await.expect("prune");
    let (_, l) = rpc(&s.url, Some("1.0"), "ListTasks", json!({})).await;
    assert_eq!(l["result"]["totalSize"], 2, "{l}");
    assert_eq!(l["result"]["tasks"][0]["id"], last.as_str());
    // Age-based pruning.
    let aged = TaskStore::in_memory(Retention {
        max_tasks: 100,
        max_age: std::time::Duration::ZERO,
    })
    .expect("store");
    let s2 = spawn(Setup {
        store: Some(aged.clone()),
        ..Setup::default()
    })
    .await;
    rpc(
        &s2.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("old")}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    molecule_a2a::store::prune_now(&aged).await.expect("prune");
    let (_, l) = rpc(&s2.url, Some("1.0"), "ListTasks", json!({})).await;
    assert_eq!(l["result"]["totalSize"], 0, "{l}");
}
