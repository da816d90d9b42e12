//! Helpers of the push tests added with the push fairness and limits fixes
//! (`push_fairness.rs`, `push_limits.rs`): webhooks on 127.0.0.1 (one that counts every POST
//! and answers a fixed status, one that accepts connections and never answers) and a server
//! with push options. Everything stops with the test's runtime.
#![allow(dead_code)]

pub mod recorder;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use molecule_a2a::{A2aServer, CardHandle, PushMetrics, PushOptions, Retention, TaskStore};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::common::{card, rpc, user_message, wait_state, EchoExecutor};

/// A webhook answering every POST with `status`; `posts` counts them.
pub struct Hook {
    pub url: String,
    pub posts: Arc<AtomicUsize>,
}

/// Starts a [`Hook`] on 127.0.0.1 (path `/hook?key=k`).
pub async fn hook(status: StatusCode) -> Hook {
    let posts = Arc::new(AtomicUsize::new(0));
    let p = posts.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let p = p.clone();
            async move {
                p.fetch_add(1, Ordering::SeqCst);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook?key=k", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Hook { url, posts }
}

impl Hook {
    /// Waits (bounded, as a hang guard) until `n` POSTs arrived.
    pub async fn wait_for(&self, n: usize) {
        for _ in 0..400 {
            if self.posts.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "only {} notifications arrived, expected {n}",
            self.posts.load(Ordering::SeqCst)
        );
    }
}

/// A webhook URL on 127.0.0.1 that accepts connections and never answers.
pub async fn silent_hook() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    url
}

/// A server on 127.0.0.1 with push `options`.
pub struct Server {
    pub url: String,
    pub server: A2aServer,
    _stop: oneshot::Sender<()>,
}

impl Server {
    pub fn metrics(&self) -> PushMetrics {
        self.server.push_metrics().expect("push on")
    }

    /// Waits (bounded) until `done(metrics)` holds; returns those metrics.
    pub async fn wait_metrics(&self, done: impl Fn(&PushMetrics) -> bool) -> PushMetrics {
        for _ in 0..400 {
            let m = self.metrics();
            if done(&m) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("push metrics never got there: {:?}", self.metrics());
    }
}

/// Push options allowing 127.0.0.1, with a 20 ms first backoff.
pub fn options() -> PushOptions {
    options_allowing(&["127.0.0.1"])
}

/// Push options allowing the webhook hosts `allow`, with a 20 ms first backoff.
pub fn options_allowing(allow: &[&str]) -> PushOptions {
    PushOptions {
        allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
        backoff: Duration::from_millis(20),
        ..PushOptions::default()
    }
}

pub async fn server(push: PushOptions) -> Server {
    server_with(memory(), Some(push)).await
}

/// An in-memory task store.
pub fn memory() -> TaskStore {
    TaskStore::in_memory(Retention::default()).unwrap()
}

/// A server on 127.0.0.1 over `store`, with push `push` (`None`: push off).
pub async fn server_with(store: TaskStore, push: Option<PushOptions>) -> Server {
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

/// Sends `text` with a push config for `hook_url`; answers the task id once `state`.
pub async fn send_with_hook(url: &str, text: &str, hook_url: &str, state: &str) -> String {
    let (_, v) = rpc(
        url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message(text),
               "configuration": {"taskPushNotificationConfig": {"url": hook_url}}}),
    )
    .await;
    let id = v["result"]["task"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a task: {v}"))
        .to_string();
    wait_state(url, &id, state).await;
    id
}

/// A task left INPUT_REQUIRED (`ask x`), to hang configs on.
pub async fn interrupted_task(url: &str) -> String {
    let (_, v) = rpc(
        url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask x")}),
    )
    .await;
    let id = v["result"]["task"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a task: {v}"))
        .to_string();
    wait_state(url, &id, "TASK_STATE_INPUT_REQUIRED").await;
    id
}

/// CreateTaskPushNotificationConfig with `config` (merged with `taskId`).
pub async fn create(url: &str, task: &str, mut config: Value) -> Value {
    config["taskId"] = json!(task);
    rpc(url, Some("1.0"), "CreateTaskPushNotificationConfig", config)
        .await
        .1
}
