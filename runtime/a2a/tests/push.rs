//! Push notifications (A2A 1.0): the four config operations on JSON-RPC and HTTP+JSON, a
//! config sent with SendMessage, delivery of every update in order to a webhook receiver on
//! 127.0.0.1 (with `A2A-Version`, the token and the authentication), the egress policy
//! (private addresses refused at create time unless allowed), persistence across a restart,
//! deletion with the task (retention), and retries after a 500.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{card, rpc, user_message, wait_state, EchoExecutor};
use molecule_a2a::{A2aServer, CardHandle, PushOptions, Retention, TaskStore};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// What the webhook received: headers of interest and the JSON body, in arrival order.
#[derive(Clone, Debug)]
struct Hit {
    version: Option<String>,
    token: Option<String>,
    authorization: Option<String>,
    body: Value,
}

/// A webhook on 127.0.0.1 that records every POST; the first `fail_first` answer 500.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    _stop: oneshot::Sender<()>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let failures = Arc::new(Mutex::new(fail_first));
    let (h, f) = (hits.clone(), failures.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let (h, f) = (h.clone(), f.clone());
            async move {
                let mut left = f.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                let get = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                h.lock().unwrap().push(Hit {
                    version: get("a2a-version"),
                    token: get("x-a2a-notification-token"),
                    authorization: get("authorization"),
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                });
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Receiver {
        url,
        hits,
        _stop: tx,
    }
}

impl Receiver {
    /// Waits (bounded, as a hang guard) until `n` notifications arrived; returns them.
    async fn wait_for(&self, n: usize) -> Vec<Hit> {
        for _ in 0..400 {
            let got = self.hits.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "only {:?} notifications arrived, expected {n}",
            self.hits.lock().unwrap()
        );
    }
}

struct Server {
    url: String,
    server: A2aServer,
    _stop: oneshot::Sender<()>,
}

fn options(allow: &[&str]) -> PushOptions {
    PushOptions {
        allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
        backoff: Duration::from_millis(20),
        ..PushOptions::default()
    }
}

async fn server(store: TaskStore, push: Option<PushOptions>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = A2aServer::new(
        CardHandle::new(card(&url, true)),
        Arc::new(EchoExecutor::default()),
        store,
    )
    .with_push(push);
    let (tx, rx) = oneshot::channel::<()>();
    let s2 = server.clone();
    tokio::spawn(async move {
        let _ = s2
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    Server {
        url,
        server,
        _stop: tx,
    }
}

fn memory() -> TaskStore {
    TaskStore::in_memory(Retention::default()).unwrap()
}

/// The kind and state of a pushed StreamResponse, e.g. `status:TASK_STATE_WORKING`.
fn kind(v: &Value) -> String {
    if let Some(s) = v.get("statusUpdate") {
        format!("status:{}", s["status"]["state"].as_str().unwrap_or("?"))
    } else if v.get("artifactUpdate").is_some() {
        "artifact".into()
    } else {
        format!("other:{v}")
    }
}

#[tokio::test]
async fn every_update_arrives_in_order_with_version_token_and_auth() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let config = json!({"url": hook.url, "token": "tok-1",
                        "authentication": {"scheme": "Bearer", "credentials": "cb-secret"}});
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello"),
               "configuration": {"taskPushNotificationConfig": config}}),
    )
    .await;
    let task_id = v["result"]["task"]["id"]
        .as_str()
        .expect("a task")
        .to_string();
    let hits = hook.wait_for(4).await;
    let kinds: Vec<String> = hits.iter().map(|h| kind(&h.body)).collect();
    assert_eq!(
        kinds,
        [
            "status:TASK_STATE_WORKING",
            "artifact",
            "artifact",
            "status:TASK_STATE_COMPLETED"
        ]
    );
    for h in &hits {
        assert_eq!(h.version.as_deref(), Some("1.0"));
        assert_eq!(h.token.as_deref(), Some("tok-1"));
        assert_eq!(h.authorization.as_deref(), Some("Bearer cb-secret"));
        let body_task = h.body.as_object().unwrap().values().next().unwrap()["taskId"].clone();
        assert_eq!(body_task, task_id.as_str());
    }
    // The config sent with the message is listed for the task, with its generated id.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTaskPushNotificationConfigs",
        json!({"taskId": task_id}),
    )
    .await;
    let configs = v["result"]["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 1, "{v}");
    assert_eq!(configs[0]["url"], hook.url.as_str());
    assert!(configs[0]["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert_eq!(s.server.push_metrics().unwrap().delivered, 4);
}

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

#[tokio::test]
async fn a_500_is_retried_and_the_order_kept() {
    let hook = receiver(1).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello"),
               "configuration": {"taskPushNotificationConfig": {"url": hook.url}}}),
    )
    .await;
    let hits = hook.wait_for(4).await;
    let kinds: Vec<String> = hits.iter().map(|h| kind(&h.body)).collect();
    assert_eq!(kinds[0], "status:TASK_STATE_WORKING", "{kinds:?}");
    assert_eq!(kinds[3], "status:TASK_STATE_COMPLETED", "{kinds:?}");
    let m = s.server.push_metrics().unwrap();
    assert!(m.retried >= 1, "{m:?}");
    assert_eq!(m.failed, 0, "{m:?}");
}

/// The official Python `a2a-sdk` client drives the four config operations on JSON-RPC and
/// HTTP+JSON, then sends messages with a push config; the webhook gets their updates.
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
async fn canceling_a_stored_interrupted_task_is_pushed() {
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
    wait_state(&s.url, &task_id, "TASK_STATE_INPUT_REQUIRED").await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": task_id, "id": "c", "url": hook.url, "token": "t-cancel"}),
    )
    .await;
    assert_eq!(v["result"]["id"], "c", "{v}");
    let (_, v) = rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": task_id})).await;
    assert_eq!(v["result"]["status"]["state"], "TASK_STATE_CANCELED", "{v}");
    let hits = hook.wait_for(1).await;
    assert_eq!(
        kind(&hits.last().unwrap().body),
        "status:TASK_STATE_CANCELED"
    );
    assert_eq!(hits.last().unwrap().token.as_deref(), Some("t-cancel"));
    assert_eq!(
        hits.last().unwrap().body["statusUpdate"]["taskId"],
        task_id.as_str()
    );
}

#[tokio::test]
async fn tasks_failed_at_boot_are_pushed() {
    let hook = receiver(0).await;
    let store = memory();
    // What a killed process leaves: a WORKING task with a webhook.
    let task: molecule_a2a::types::Task = serde_json::from_value(json!({
        "id": "left-over", "contextId": "ctx-left",
        "status": {"state": "TASK_STATE_WORKING"}
    }))
    .unwrap();
    store.put(&task).await.unwrap();
    let config = serde_json::from_value(json!({
        "taskId": "left-over", "id": "h", "url": hook.url, "token": "t-boot"
    }))
    .unwrap();
    store.put_push_config(config).await.unwrap();

    let s = server(store, Some(options(&["127.0.0.1"]))).await;
    assert_eq!(s.server.fail_unfinished_tasks().await.unwrap(), 1);
    let hits = hook.wait_for(1).await;
    let last = &hits.last().unwrap().body;
    assert_eq!(kind(last), "status:TASK_STATE_FAILED");
    assert_eq!(last["statusUpdate"]["taskId"], "left-over");
    assert_eq!(last["statusUpdate"]["contextId"], "ctx-left");
    assert_eq!(hits.last().unwrap().token.as_deref(), Some("t-boot"));
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

#[tokio::test]
async fn one_http_client_per_webhook_host_and_address() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    for text in ["one", "two"] {
        let config = json!({"url": hook.url});
        rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message(text),
                   "configuration": {"taskPushNotificationConfig": config}}),
        )
        .await;
    }
    hook.wait_for(8).await;
    let m = s.server.push_metrics().unwrap();
    assert_eq!(m.delivered, 8, "{m:?}");
    assert_eq!(m.clients_built, 1, "{m:?}");
}
