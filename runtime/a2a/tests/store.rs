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
    assert_eq!(t["artifacts"][0]["parts"][0]["text"], "echo: persist me");
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

fn stored_task(
    id: &str,
    context: &str,
    state: molecule_a2a::types::TaskState,
    n: usize,
) -> molecule_a2a::types::Task {
    use molecule_a2a::types::{agent_text_message, now, Task, TaskStatus};
    Task {
        id: id.to_string(),
        context_id: context.to_string(),
        status: TaskStatus {
            state,
            message: Some(agent_text_message(format!("version {n}"), id, context)),
            timestamp: Some(now()),
        },
        artifacts: None,
        history: None,
        metadata: None,
    }
}

/// Writes are batched and coalesced on the store thread; every read must still see every write
/// queued before it, and the newest version of each task must be what survives a reopen.
#[tokio::test]
async fn batched_writes_keep_order_and_survive_reopen() {
    use molecule_a2a::store::ListQuery;
    use molecule_a2a::types::TaskState;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tasks.db");
    {
        let store = TaskStore::open(&path, Retention::default()).expect("open store");
        for version in 0..10 {
            for t in 0..200 {
                let state = if version == 9 {
                    TaskState::Completed
                } else {
                    TaskState::Working
                };
                let id = format!("task-{t}");
                store.put(&stored_task(&id, &format!("ctx-{}", t % 4), state, version));
                if t % 50 == 0 {
                    // A read queued right behind the write sees it.
                    let got = store.get(&id).await.expect("get").expect("task exists");
                    let text = got.status.message.expect("status message").parts[0]
                        .as_text()
                        .map(str::to_string);
                    assert_eq!(text.as_deref(), Some(format!("version {version}").as_str()));
                }
            }
        }
        store.flush().await.expect("flush");
    }
    let store = TaskStore::open(&path, Retention::default()).expect("reopen store");
    let all = store
        .list(ListQuery {
            page_size: 50,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(all.total_size, 200);
    assert_eq!(all.tasks.len(), 50);
    assert!(!all.next_page_token.is_empty());
    let ctx = store
        .list(ListQuery {
            context_id: Some("ctx-1".into()),
            page_size: 100,
            ..ListQuery::default()
        })
        .await
        .expect("list context");
    assert_eq!(ctx.total_size, 50);
    assert!(ctx.next_page_token.is_empty());
    for t in [0, 77, 199] {
        let got = store
            .get(&format!("task-{t}"))
            .await
            .expect("get")
            .expect("task kept");
        assert_eq!(got.status.state, TaskState::Completed);
        let text = got.status.message.expect("message").parts[0]
            .as_text()
            .map(str::to_string);
        assert_eq!(text.as_deref(), Some("version 9"));
    }
}

/// Status changes in the same millisecond are routine on a fast server: "newest first" must
/// then follow the order the writes were made, on every page and after a reopen (where new
/// writes continue the numbering).
#[tokio::test]
async fn same_millisecond_updates_list_in_write_order() {
    use molecule_a2a::store::ListQuery;
    use molecule_a2a::types::TaskState;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tasks.db");
    let at = molecule_a2a::types::now();
    let put_at = |store: &TaskStore, id: &str, version: usize| {
        let mut task = stored_task(id, "ctx", TaskState::Completed, version);
        task.status.timestamp = Some(at);
        store.put(&task);
    };
    let walk = |store: TaskStore| async move {
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let page = store
                .list(ListQuery {
                    page_size: 2,
                    after: token
                        .as_deref()
                        .and_then(molecule_a2a::store::parse_page_token),
                    ..ListQuery::default()
                })
                .await
                .expect("list");
            ids.extend(page.tasks.into_iter().map(|t| t.id));
            if page.next_page_token.is_empty() {
                return ids;
            }
            token = Some(page.next_page_token);
        }
    };
    {
        let store = TaskStore::open(&path, Retention::default()).expect("open store");
        // "b" is written again after "c" and "a" (in the same batch): it is the newest.
        for (id, v) in [("b", 0), ("c", 0), ("a", 0), ("b", 1), ("e", 0), ("d", 0)] {
            put_at(&store, id, v);
        }
        assert_eq!(walk(store.clone()).await, ["d", "e", "b", "a", "c"]);
    }
    let store = TaskStore::open(&path, Retention::default()).expect("reopen store");
    put_at(&store, "c", 1);
    assert_eq!(walk(store.clone()).await, ["c", "d", "e", "b", "a"]);
}
