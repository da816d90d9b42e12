//! Shared test support: an echo executor, a server bound to 127.0.0.1:0 that shuts down when
//! dropped, and small JSON-RPC / REST / SSE client helpers built on reqwest.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use molecule_a2a::types::{
    standard_interfaces, AgentCapabilities, AgentCard, AgentSkill, Artifact, Part, TaskState,
};
use molecule_a2a::{
    A2aServer, AgentExecutor, CardHandle, EventSink, RequestContext, Retention, TaskStore,
};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

/// Echo executor. The user text picks the behaviour:
/// - `reply <x>`: answers with a Message only;
/// - `ask <x>`: INPUT_REQUIRED first, COMPLETED when continued;
/// - `fail <x>`: returns an error;
/// - `gated <x>`: WORKING, then waits for [`EchoExecutor::release`] before finishing;
/// - `sleep <ms>`: WORKING, then sleeps before finishing;
/// - anything else: WORKING, two artifact chunks, COMPLETED with `echo: <text>`.
#[derive(Default)]
pub struct EchoExecutor {
    pub gate: Arc<Notify>,
    pub canceled: Mutex<Vec<String>>,
}

impl EchoExecutor {
    /// Lets one gated task finish.
    pub fn release(&self) {
        self.gate.notify_one();
    }
}

#[async_trait::async_trait]
impl AgentExecutor for EchoExecutor {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        let text = ctx.user_text();
        if let Some(rest) = text.strip_prefix("reply ") {
            let mut m = molecule_a2a::types::Message::new(
                molecule_a2a::types::Role::Agent,
                vec![Part::text(format!("reply: {rest}"))],
            );
            m.message_id = molecule_a2a::types::new_id();
            events.message(m).map_err(|e| e.to_string())?;
            return Ok(());
        }
        if text == "panic" {
            events
                .status(TaskState::Working, None)
                .map_err(|e| e.to_string())?;
            panic!("the echo executor was asked to panic");
        }
        if let Some(rest) = text.strip_prefix("fail ") {
            events
                .status(TaskState::Working, None)
                .map_err(|e| e.to_string())?;
            return Err(format!("boom: {rest}"));
        }
        if text.starts_with("ask ") && !ctx.is_continuation {
            events
                .status_text(TaskState::InputRequired, "need more input")
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
        events
            .status(TaskState::Working, None)
            .map_err(|e| e.to_string())?;
        if text.starts_with("gated ") {
            self.gate.notified().await;
        }
        if let Some(ms) = text
            .strip_prefix("sleep ")
            .and_then(|m| m.parse::<u64>().ok())
        {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let artifact_id = "echo-artifact".to_string();
        for (i, chunk) in ["echo: ", text.as_str()].iter().enumerate() {
            let art = Artifact {
                artifact_id: artifact_id.clone(),
                name: Some("echo".into()),
                description: None,
                parts: vec![Part::text(*chunk)],
                metadata: None,
                extensions: None,
            };
            events
                .artifact(art, i > 0, i == 1)
                .map_err(|e| e.to_string())?;
        }
        events
            .status_text(TaskState::Completed, &format!("echo: {text}"))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn cancel(&self, task_id: &str) -> Result<(), String> {
        self.canceled
            .lock()
            .map_err(|e| e.to_string())?
            .push(task_id.to_string());
        Ok(())
    }
}

/// The test card for a server at `url`.
pub fn card(url: &str, streaming: bool) -> AgentCard {
    AgentCard {
        name: "Echo".into(),
        description: "Echo agent for tests".into(),
        version: "1.0.0".into(),
        supported_interfaces: standard_interfaces(url),
        capabilities: AgentCapabilities {
            streaming: Some(streaming),
            push_notifications: Some(false),
            extensions: None,
            extended_agent_card: Some(false),
        },
        default_input_modes: vec!["text/plain".into()],
        default_output_modes: vec!["text/plain".into()],
        skills: vec![AgentSkill {
            id: "echo".into(),
            name: "Echo".into(),
            description: "Echoes the input".into(),
            tags: vec!["test".into()],
            examples: Some(vec!["hello".into()]),
            input_modes: None,
            output_modes: None,
            security_requirements: None,
        }],
        provider: None,
        documentation_url: None,
        icon_url: None,
        security_schemes: None,
        security_requirements: None,
        signatures: None,
    }
}

/// A running server; dropping it shuts the server down.
pub struct TestServer {
    pub url: String,
    pub server: A2aServer,
    pub executor: Arc<EchoExecutor>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// How to build the server under test.
pub struct Setup {
    pub streaming: bool,
    pub store: Option<TaskStore>,
    pub secret: Option<String>,
    pub body_limit: Option<usize>,
    pub not_configured: Option<String>,
    pub serve_options: Option<molecule_a2a::ServeOptions>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            streaming: true,
            store: None,
            secret: None,
            body_limit: None,
            not_configured: None,
            serve_options: None,
        }
    }
}

/// Starts a server on 127.0.0.1:0.
pub async fn spawn(setup: Setup) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let url = format!("http://{addr}");
    let handle = CardHandle::new(card(&url, setup.streaming));
    let executor = Arc::new(EchoExecutor::default());
    let server = match setup.not_configured {
        Some(reason) => A2aServer::not_configured(handle, reason),
        None => {
            let store = setup.store.unwrap_or_else(|| {
                TaskStore::in_memory(Retention::default()).expect("in-memory store")
            });
            A2aServer::new(handle, executor.clone(), store)
        }
    };
    let mut server = server.with_bearer_secret(setup.secret);
    if let Some(limit) = setup.body_limit {
        server = server.with_body_limit(limit);
    }
    if let Some(options) = setup.serve_options {
        server = server.with_serve_options(options);
    }
    let (tx, rx) = oneshot::channel::<()>();
    let s2 = server.clone();
    tokio::spawn(async move {
        let _ = s2
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    TestServer {
        url,
        server,
        executor,
        shutdown: Some(tx),
    }
}

/// A 1.0 user message.
pub fn user_message(text: &str) -> Value {
    json!({"messageId": molecule_a2a::types::new_id(), "role": "ROLE_USER", "parts": [{"text": text}]})
}

/// A 0.3 user message.
pub fn user_message_v03(text: &str) -> Value {
    json!({"kind": "message", "messageId": molecule_a2a::types::new_id(), "role": "user",
           "parts": [{"kind": "text", "text": text}]})
}

/// Sends a JSON-RPC request; `version` is the A2A-Version header (None = no header).
pub async fn rpc(url: &str, version: Option<&str>, method: &str, params: Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let mut req = reqwest::Client::new().post(format!("{url}/")).json(&body);
    if let Some(v) = version {
        req = req.header("A2A-Version", v);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json body"))
}

/// Reads an SSE response to its end and returns the JSON of every `data:` line.
pub async fn read_sse(resp: reqwest::Response) -> Vec<Value> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    let fut = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("sse chunk");
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(pos) = buf.find("\n\n") {
                let frame: String = buf.drain(..pos + 2).collect();
                for line in frame.lines() {
                    if let Some(d) = line.strip_prefix("data:") {
                        out.push(serde_json::from_str(d.trim()).expect("sse data is json"));
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("stream closed in time");
    out
}

/// Opens a JSON-RPC streaming call and returns the response (status checked by the caller).
pub async fn rpc_stream(
    url: &str,
    version: Option<&str>,
    method: &str,
    params: Value,
) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": "s1", "method": method, "params": params});
    let mut req = reqwest::Client::new().post(format!("{url}/")).json(&body);
    if let Some(v) = version {
        req = req.header("A2A-Version", v);
    }
    req.send().await.expect("send stream")
}

/// Polls GetTask until the task has `state` (1.0 name) or panics after 10 s.
pub async fn wait_state(url: &str, task_id: &str, state: &str) -> Value {
    for _ in 0..200 {
        let (_, v) = rpc(url, Some("1.0"), "GetTask", json!({"id": task_id})).await;
        if v["result"]["status"]["state"] == state {
            return v["result"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {task_id} never reached {state}");
}

// JSON-RPC envelope and parameter checks (tests/envelope.rs, tests/validation.rs).

/// The reason every JSON-RPC code must carry (A2A 1.0 names, plus this server's -32000).
pub fn reason_of(code: i64) -> &'static str {
    match code {
        -32700 => "PARSE_ERROR",
        -32600 => "INVALID_REQUEST",
        -32601 => "METHOD_NOT_FOUND",
        -32602 => "INVALID_PARAMS",
        -32603 => "INTERNAL_ERROR",
        -32000 => "UNAUTHENTICATED",
        -32001 => "TASK_NOT_FOUND",
        -32002 => "TASK_NOT_CANCELABLE",
        -32003 => "PUSH_NOTIFICATION_NOT_SUPPORTED",
        -32004 => "UNSUPPORTED_OPERATION",
        -32005 => "CONTENT_TYPE_NOT_SUPPORTED",
        -32007 => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
        -32009 => "VERSION_NOT_SUPPORTED",
        other => panic!("unexpected code {other}"),
    }
}

/// Asserts a JSON-RPC error with `code`, the matching reason, and a message containing
/// `needle`.
pub fn assert_error(v: &Value, code: i64, needle: &str) {
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["data"][0]["reason"], reason_of(code), "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(needle),
        "message {msg:?} lacks {needle:?}: {v}"
    );
}

/// POSTs `body` verbatim to `/` with `A2A-Version: 1.0`; returns the status and the raw text.
pub async fn post_text(url: &str, body: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/"))
        .header("Content-Type", "application/json")
        .header("A2A-Version", "1.0")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// POSTs `body` like [`post_text`] and parses the reply, which must be HTTP 200.
pub async fn post(url: &str, body: &str) -> Value {
    let (status, text) = post_text(url, body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json reply")
}

/// How many tasks the server holds.
pub async fn task_count(url: &str) -> u64 {
    let (_, v) = rpc(url, Some("1.0"), "ListTasks", json!({})).await;
    assert!(v["result"]["tasks"].is_array(), "{v}");
    v["result"]["totalSize"].as_u64().expect("totalSize")
}

/// SendMessage params with a plain user message.
pub fn send_params() -> Value {
    json!({"message": user_message("hello")})
}
