//! Push notification configs (A2A 1.0): the four config operations on JSON-RPC and
//! HTTP+JSON (paged lists included), the egress policy (private addresses refused at create
//! time unless allowed), push off, persistence across a restart and deletion with the task
//! (retention), and the Python SDK driving the operations. Delivery is `push_delivery.rs`.

mod common;
mod push_common;

use std::time::Duration;

use common::{rpc, user_message, wait_state};
use molecule_a2a::{Retention, TaskStore};
use push_common::recorder::{kind, receiver};
use push_common::{memory, options_allowing as options, server_with as server};
use serde_json::{json, Value};

#[tokio::test]
async fn private_webhook_refused_at_create_unless_allowed() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&[]))).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask x")}),
    )
    .await;
    let task_id = v["result"]["task"]["id"].as_str().unwrap().to_string();
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": task_id, "url": hook.url}),
    )
    .await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("loopback") && msg.contains("a2a.push.allow_hosts"),
        "{msg}"
    );
    assert_eq!(v["error"]["data"][0]["reason"], "INVALID_PARAMS");
    // The same config on SendMessage: refused before any task exists.
    let before = common::task_count(&s.url).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello"),
               "configuration": {"taskPushNotificationConfig": {"url": hook.url}}}),
    )
    .await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert_eq!(common::task_count(&s.url).await, before);
    // The metadata address is refused too, whatever the port.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": task_id, "url": "http://169.254.169.254/latest"}),
    )
    .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("link-local"),
        "{v}"
    );

    // Allowed by the operator: created, and answered with its id.
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask x")}),
    )
    .await;
    let task_id = v["result"]["task"]["id"].as_str().unwrap().to_string();
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": task_id, "id": "cfg-1", "url": hook.url}),
    )
    .await;
    assert_eq!(v["result"]["id"], "cfg-1", "{v}");
    assert_eq!(v["result"]["taskId"], task_id.as_str());
}

#[tokio::test]
async fn rest_operations_create_get_list_delete() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask x")}),
    )
    .await;
    let task_id = v["result"]["task"]["id"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let base = format!("{}/tasks/{task_id}/pushNotificationConfigs", s.url);
    let r = http
        .post(&base)
        .json(&json!({"id": "a", "url": hook.url, "token": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["taskId"], task_id.as_str());
    let got: Value = http
        .get(format!("{base}/a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, created);
    let list: Value = http.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["configs"], json!([created]));
    let r = http.delete(format!("{base}/a")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/a")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["details"][0]["reason"], "TASK_NOT_FOUND");
    // An unknown task is 404 on every operation.
    let r = http
        .get(format!("{}/tasks/nope/pushNotificationConfigs", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn push_off_answers_not_supported_and_card_says_so() {
    let off = server(memory(), None).await;
    let card: Value = reqwest::get(format!("{}/.well-known/agent-card.json", off.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["capabilities"]["pushNotifications"], false);
    let (_, v) = rpc(
        &off.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": "t", "url": "https://example.com/hook"}),
    )
    .await;
    assert_eq!(v["error"]["code"], -32003, "{v}");
    assert_eq!(
        v["error"]["data"][0]["reason"],
        "PUSH_NOTIFICATION_NOT_SUPPORTED"
    );

    let on = server(memory(), Some(options(&[]))).await;
    let card: Value = reqwest::get(format!("{}/.well-known/agent-card.json", on.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["capabilities"]["pushNotifications"], true);
}

#[tokio::test]
async fn configs_survive_a_restart_and_go_with_their_task() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tasks.db");
    let hook = receiver(0).await;
    let task_id;
    {
        let store = TaskStore::open(&path, Retention::default()).unwrap();
        let s = server(store, Some(options(&["127.0.0.1"]))).await;
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message("ask x")}),
        )
        .await;
        task_id = v["result"]["task"]["id"].as_str().unwrap().to_string();
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task_id, "id": "keep", "url": hook.url, "token": "after-restart"}),
        )
        .await;
        assert_eq!(v["result"]["id"], "keep", "{v}");
    }
    // A new process on the same file: the config is there and delivered to.
    let store = TaskStore::open(&path, Retention::default()).unwrap();
    let s = server(store.clone(), Some(options(&["127.0.0.1"]))).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "GetTaskPushNotificationConfig",
        json!({"taskId": task_id, "id": "keep"}),
    )
    .await;
    assert_eq!(v["result"]["token"], "after-restart", "{v}");
    let mut m = user_message("more");
    m["taskId"] = json!(task_id);
    rpc(&s.url, Some("1.0"), "SendMessage", json!({"message": m})).await;
    wait_state(&s.url, &task_id, "TASK_STATE_COMPLETED").await;
    let hits = hook.wait_for(4).await;
    assert_eq!(
        kind(&hits.last().unwrap().body),
        "status:TASK_STATE_COMPLETED"
    );
    assert!(hits
        .iter()
        .all(|h| h.token.as_deref() == Some("after-restart")));
    drop(s);
    drop(store);

    // Retention deletes the task, and its configs with it.
    let store = TaskStore::open(
        &path,
        Retention {
            max_tasks: 0,
            max_age: Duration::from_secs(3600),
        },
    )
    .unwrap();
    molecule_a2a::store::prune_now(&store).await.unwrap();
    assert!(store.get(&task_id).await.unwrap().is_none());
    assert!(store.list_push_configs(&task_id).await.unwrap().is_empty());
    assert!(store.all_push_configs().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_drives_push_configs() {
    use molecule_python_venv::{run, venv_python};
    let python = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/a2a_push_check.py");
    let (url, hook_url) = (s.url.clone(), hook.url.clone());
    let out = tokio::task::spawn_blocking(move || {
        run(
            std::process::Command::new(&python)
                .arg(&script)
                .arg(&url)
                .arg(&hook_url),
            "python a2a_push_check.py",
        )
    })
    .await
    .expect("python task");
    eprintln!("python output:\n{out}");
    for line in [
        "OK JSONRPC create,get,list,delete",
        "OK HTTP+JSON create,get,list,delete",
        "ALL OK",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}`:\n{out}");
    }
    // Each binding's message: WORKING, two artifact chunks, COMPLETED, with its token.
    let hits = hook.wait_for(8).await;
    for binding in ["JSONRPC", "HTTP+JSON"] {
        let token = format!("send-{binding}");
        let kinds: Vec<String> = hits
            .iter()
            .filter(|h| h.token.as_deref() == Some(token.as_str()))
            .map(|h| kind(&h.body))
            .collect();
        assert_eq!(
            kinds,
            [
                "status:TASK_STATE_WORKING",
                "artifact",
                "artifact",
                "status:TASK_STATE_COMPLETED"
            ],
            "{binding}"
        );
    }
}

#[tokio::test]
async fn list_configs_pages_with_page_size_and_token() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask x")}),
    )
    .await;
    let task_id = v["result"]["task"]["id"].as_str().unwrap().to_string();
    for id in ["p1", "p2", "p3"] {
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task_id, "id": id, "url": hook.url}),
        )
        .await;
        assert_eq!(v["result"]["id"], id, "{v}");
    }
    let ids = |v: &Value| -> Vec<String> {
        v["configs"]
            .as_array()
            .unwrap_or_else(|| panic!("configs: {v}"))
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    // JSON-RPC, proto field names: page_size 2, then the rest.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTaskPushNotificationConfigs",
        json!({"task_id": task_id, "page_size": 2}),
    )
    .await;
    assert_eq!(ids(&v["result"]), ["p1", "p2"], "{v}");
    let token = v["result"]["nextPageToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty(), "{v}");
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTaskPushNotificationConfigs",
        json!({"taskId": task_id, "pageSize": 2, "pageToken": token}),
    )
    .await;
    assert_eq!(ids(&v["result"]), ["p3"], "{v}");
    assert_eq!(v["result"]["nextPageToken"], "", "{v}");
    // No pageSize (or 0): everything on one page.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTaskPushNotificationConfigs",
        json!({"taskId": task_id, "pageSize": 0}),
    )
    .await;
    assert_eq!(ids(&v["result"]), ["p1", "p2", "p3"], "{v}");
    // HTTP+JSON: the query string.
    let url = format!(
        "{}/tasks/{task_id}/pushNotificationConfigs?pageSize=1",
        s.url
    );
    let page: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(ids(&page), ["p1"], "{page}");
    let next = page["nextPageToken"].as_str().unwrap();
    let page: Value = reqwest::get(format!("{url}&pageToken={next}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&page), ["p2"], "{page}");
    // Bad values are -32602.
    for bad in [json!({"pageSize": 101}), json!({"pageToken": "nope"})] {
        let mut p = bad.clone();
        p["taskId"] = json!(task_id);
        let (_, v) = rpc(&s.url, Some("1.0"), "ListTaskPushNotificationConfigs", p).await;
        assert_eq!(v["error"]["code"], -32602, "{bad}: {v}");
    }
}
