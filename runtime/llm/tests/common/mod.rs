//! Test helpers: a fake provider server (axum on 127.0.0.1:0) that answers every request with
//! the next canned response (JSON, or SSE sent in separate delayed chunks), records what it
//! received, and stops when dropped or after 60 s at the latest.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use molecule_llm::{ChatStream, HttpOptions, LlmError, RetryPolicy, StreamEvent, Timeouts};
use serde_json::Value;
use tokio::sync::oneshot;

/// One canned answer.
#[derive(Clone)]
pub struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    chunks: Vec<String>,
}

impl Canned {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![body.to_string()],
        }
    }

    /// An SSE answer sent as these separate chunks (split anywhere, even mid-line).
    pub fn sse(chunks: Vec<String>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks,
        }
    }

    /// An SSE answer from whole events, each split in two at its middle.
    pub fn sse_events(events: &[String]) -> Self {
        let mut chunks = Vec::new();
        for e in events {
            let mut mid = e.len() / 2;
            while !e.is_char_boundary(mid) {
                mid -= 1;
            }
            chunks.push(e[..mid].to_string());
            chunks.push(e[mid..].to_string());
        }
        Self::sse(chunks)
    }

    /// Adds a response header.
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A request the fake server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Path without query.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Lowercase header names.
    pub headers: HashMap<String, String>,
    /// Parsed JSON body (Null if not JSON).
    pub body: Value,
}

#[derive(Clone)]
struct Shared {
    queue: Arc<Mutex<VecDeque<Canned>>>,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

/// A running fake server.
pub struct FakeServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeServer {
    /// Starts a server answering with `responses` in order (then 500s).
    pub async fn start(responses: Vec<Canned>) -> Self {
        let shared = Shared {
            queue: Arc::new(Mutex::new(responses.into())),
            seen: Arc::default(),
        };
        let seen = shared.seen.clone();
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let stop = async move {
                let _ = tokio::time::timeout(Duration::from_secs(60), rx).await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            seen,
            stop: Some(tx),
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

async fn handle(State(s): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    s.seen.lock().expect("lock").push(Recorded {
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let next = s.queue.lock().expect("lock").pop_front();
    let Some(c) = next else {
        return Response::builder()
            .status(500)
            .body(Body::from("no canned response left"))
            .expect("response");
    };
    let chunks = c.chunks;
    let stream = futures::stream::unfold(chunks.into_iter(), |mut it| async move {
        let chunk = it.next()?;
        tokio::time::sleep(Duration::from_millis(3)).await;
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), it))
    });
    let mut b = Response::builder().status(StatusCode::from_u16(c.status).expect("status"));
    for (k, v) in &c.headers {
        b = b.header(k, v);
    }
    b.body(Body::from_stream(stream)).expect("response")
}

/// Fast retries and short timeouts for tests.
pub fn fast_options() -> HttpOptions {
    HttpOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(10),
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
            stream_idle: Duration::from_secs(2),
            stream_total: Duration::from_secs(10),
        },
    }
}

/// Reads a stream to its end (bounded by 10 s).
pub async fn collect(mut rx: ChatStream) -> Vec<Result<StreamEvent, LlmError>> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = rx.recv().await {
            out.push(ev);
        }
    })
    .await;
    out
}

/// The text deltas of a stream, in order.
pub fn deltas(events: &[Result<StreamEvent, LlmError>]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::TextDelta(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// An SSE `data:` event.
pub fn data(v: Value) -> String {
    format!("data: {v}\n\n")
}

/// An SSE event with a name.
pub fn named(event: &str, v: Value) -> String {
    format!("event: {event}\ndata: {v}\n\n")
}
