//! A recording webhook for the push tests (`push.rs`, `push_delivery.rs`): a server on
//! 127.0.0.1 that keeps every POST's A2A headers and JSON body in arrival order, optionally
//! failing the first ones with 500, and the kind of each pushed StreamResponse.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::oneshot;

/// What the webhook received: headers of interest and the JSON body, in arrival order.
#[derive(Clone, Debug)]
pub struct Hit {
    pub version: Option<String>,
    pub token: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
}

/// A webhook on 127.0.0.1 that records every POST; the first `fail_first` answer 500.
pub struct Receiver {
    pub url: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    _stop: oneshot::Sender<()>,
}

pub async fn receiver(fail_first: usize) -> Receiver {
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
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
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

/// The kind and state of a pushed StreamResponse, e.g. `status:TASK_STATE_WORKING`.
pub fn kind(v: &Value) -> String {
    if let Some(s) = v.get("statusUpdate") {
        format!("status:{}", s["status"]["state"].as_str().unwrap_or("?"))
    } else if v.get("artifactUpdate").is_some() {
        "artifact".into()
    } else {
        format!("other:{v}")
    }
}
