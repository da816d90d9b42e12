//! A whole workspace booted from a config folder (`boot(plan, deps, listener)` on
//! 127.0.0.1:0, adapter `tests/guests/echo-adapter` given by path) and driven over HTTP with
//! reqwest: the card with its ETag, SendMessage over 1.0 and 0.3, a trap that fails one task
//! while another succeeds, cancel of a running task, "not configured", `/metrics`, inbound
//! bearer auth, and tasks that survive a restart. Every server stops when its test ends.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use molecule_config::Env;
use molecule_llm::{Credentials, Gateway, ModelSelection};
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::workspace::boot::{boot, BootDeps, RunningWorkspace};
use molecule_tests::{host, repo_root, test_cache_dir};
use serde_json::{json, Value};

/// Boots a workspace whose config.yaml is the echo adapter plus `extra_yaml`.
async fn boot_echo(
    dir: &Path,
    extra_yaml: &str,
    env: &[(&str, &str)],
    in_memory: bool,
) -> RunningWorkspace {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Echo\nruntime: {}\nmodel: scripted:demo\n{extra_yaml}\n",
        adapter.display()
    );
    std::fs::write(dir.join("config.yaml"), yaml).expect("write config.yaml");
    let env = Env::from_pairs(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let overrides = Overrides {
        config_dir: Some(dir.to_owned()),
        port: Some(0),
        bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let plan = Plan::new(env, &overrides);
    assert!(
        !plan.preflight.has_failures(),
        "{}",
        plan.preflight.render()
    );
    let credentials = Credentials {
        scripted_file: Some(repo_root().join("demo/model-script.yaml")),
        ..Credentials::default()
    };
    let selection = ModelSelection::resolve(None, "scripted:demo").expect("model selection");
    let gateway = Gateway::new(selection, credentials)
        .map(Arc::new)
        .map_err(|e| e.to_string());
    let deps = BootDeps {
        host: Arc::new(host()),
        builder: molecule_runtime::builder::ComponentBuilder::new(&test_cache_dir()),
        gateway,
        in_memory_tasks: in_memory,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind 127.0.0.1:0");
    boot(plan, deps, listener).await.expect("boot")
}

fn url(ws: &RunningWorkspace) -> String {
    format!("http://{}", ws.addr)
}

/// A JSON-RPC call; returns (HTTP status, body).
async fn rpc(
    base: &str,
    version: Option<&str>,
    bearer: Option<&str>,
    method: &str,
    params: Value,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/"))
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}));
    if let Some(v) = version {
        req = req.header("A2A-Version", v);
    }
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json body"))
}

fn message(text: &str) -> Value {
    json!({"messageId": uuid(), "role": "ROLE_USER", "parts": [{"text": text}]})
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "m-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// SendMessage (1.0); returns the task.
async fn send(base: &str, text: &str, immediately: bool) -> Value {
    let params = json!({"message": message(text),
                        "configuration": {"returnImmediately": immediately}});
    let (status, body) = rpc(base, Some("1.0"), None, "SendMessage", params).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["task"].clone()
}

async fn get_task(base: &str, id: &str) -> Value {
    let (_, body) = rpc(base, Some("1.0"), None, "GetTask", json!({"id": id})).await;
    body["result"].clone()
}

fn artifact_text(task: &Value) -> String {
    task["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_send_v1_and_v03_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_echo(dir.path(), "", &[], true).await;
    let base = url(&ws);
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);

    let card = reqwest::get(format!("{base}/.well-known/agent-card.json"))
        .await
        .unwrap();
    assert_eq!(card.status(), 200);
    let etag = card.headers()["etag"].to_str().unwrap().to_owned();
    assert!(card.headers().contains_key("cache-control"));
    let body: Value = card.json().await.unwrap();
    assert_eq!(body["name"], "Echo");
    let again = reqwest::Client::new()
        .get(format!("{base}/.well-known/agent-card.json"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let task = send(&base, "hello", false).await;
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(artifact_text(&task), "echo: hello");

    let params = json!({"message": {"messageId": uuid(), "role": "user",
                                    "parts": [{"kind": "text", "text": "old client"}]}});
    let (status, body) = rpc(&base, None, None, "message/send", params).await;
    assert_eq!(status, 200, "{body}");
    let task = &body["result"];
    assert_eq!(task["kind"], "task", "{body}");
    assert_eq!(task["status"]["state"], "completed", "{body}");
    assert_eq!(
        task["artifacts"][0]["parts"][0]["text"], "echo: old client",
        "{body}"
    );

    let text = metrics(&base).await;
    assert!(
        text.contains("molecule_tasks{state=\"completed\"} 2"),
        "{text}"
    );
    assert!(text.contains("molecule_tasks_started_total "), "{text}");
    assert!(text.contains("molecule_uptime_seconds "), "{text}");
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_its_task_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_echo(dir.path(), "", &[], true).await;
    let base = url(&ws);
    let (trapped, fine) = tokio::join!(send(&base, "trap", false), send(&base, "fine", false));
    assert_eq!(trapped["status"]["state"], "TASK_STATE_FAILED", "{trapped}");
    let reason = trapped["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("crashed"), "unreadable reason: {trapped}");
    assert_eq!(fine["status"]["state"], "TASK_STATE_COMPLETED", "{fine}");
    assert_eq!(artifact_text(&fine), "echo: fine");
    let text = metrics(&base).await;
    assert!(
        text.contains("molecule_tasks{state=\"failed\"} 1"),
        "{text}"
    );
    ws.shutdown().await.unwrap();
}

/// Each task runs in its own instance, set up exactly once (no state leaks between tasks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_gets_a_fresh_instance() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_echo(dir.path(), "", &[], true).await;
    let base = url(&ws);
    for _ in 0..5 {
        let task = send(&base, "instance", false).await;
        assert_eq!(artifact_text(&task), "tasks=1 setups=1", "{task}");
    }
    let both = tokio::join!(
        send(&base, "instance", false),
        send(&base, "instance", false)
    );
    for task in [both.0, both.1] {
        assert_eq!(artifact_text(&task), "tasks=1 setups=1", "{task}");
    }
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_a_running_task() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_echo(dir.path(), "", &[], true).await;
    let base = url(&ws);
    let task = send(&base, "wait", true).await;
    let id = task["id"].as_str().unwrap().to_owned();
    let mut state = Value::Null;
    for _ in 0..100 {
        state = get_task(&base, &id).await["status"]["state"].clone();
        if state == "TASK_STATE_WORKING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "TASK_STATE_WORKING");
    let (_, body) = rpc(&base, Some("1.0"), None, "CancelTask", json!({"id": id})).await;
    assert_eq!(
        body["result"]["status"]["state"], "TASK_STATE_CANCELED",
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = get_task(&base, &id).await;
    assert_eq!(after["status"]["state"], "TASK_STATE_CANCELED", "{after}");
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_failure_serves_the_card_and_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_echo(dir.path(), "runtime_config: {fail_setup: true}", &[], true).await;
    let base = url(&ws);
    let reason = ws.not_configured.clone().expect("not configured");
    assert!(!reason.contains("sk-live"), "{reason}");
    let card = reqwest::get(format!("{base}/.well-known/agent-card.json"))
        .await
        .unwrap();
    assert_eq!(card.status(), 200);
    let (status, body) = rpc(
        &base,
        Some("1.0"),
        None,
        "SendMessage",
        json!({"message": message("hi")}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(body["error"]["code"], -32603, "{body}");
    assert_eq!(
        body["error"]["message"],
        "Internal error: agent not configured"
    );
    let info = &body["error"]["data"][0];
    assert_eq!(
        info["@type"], "type.googleapis.com/google.rpc.ErrorInfo",
        "{body}"
    );
    assert_eq!(info["reason"], "AGENT_NOT_CONFIGURED", "{body}");
    assert_eq!(info["domain"], "a2a-protocol.org", "{body}");
    let data = info["metadata"]["detail"].as_str().unwrap_or_default();
    assert!(data.contains("setup refused"), "{body}");
    // No host path reaches clients.
    assert!(!data.contains(&dir.path().display().to_string()), "{body}");
    assert!(
        data.contains("[REDACTED]") && !data.contains("sk-live"),
        "{body}"
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_secret_guards_a2a_but_not_the_card() {
    for (yaml, env) in [
        ("a2a: {inbound_secret: s3cret-from-yaml}", vec![]),
        ("", vec![("MOLECULE_INBOUND_SECRET", "s3cret-from-env")]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let ws = boot_echo(dir.path(), yaml, &env, true).await;
        let base = url(&ws);
        let secret = if env.is_empty() {
            "s3cret-from-yaml"
        } else {
            "s3cret-from-env"
        };
        let params = || json!({"message": message("hello")});
        let (status, body) = rpc(&base, Some("1.0"), None, "SendMessage", params()).await;
        assert_eq!(status, 401, "{body}");
        let (status, _) = rpc(&base, Some("1.0"), Some("wrong"), "SendMessage", params()).await;
        assert_eq!(status, 401);
        let rest = reqwest::get(format!("{base}/tasks")).await.unwrap();
        assert_eq!(rest.status(), 401);
        let (status, body) = rpc(&base, Some("1.0"), Some(secret), "SendMessage", params()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["result"]["task"]["status"]["state"],
            "TASK_STATE_COMPLETED"
        );
        let card = reqwest::get(format!("{base}/.well-known/agent-card.json"))
            .await
            .unwrap();
        assert_eq!(card.status(), 200);
        ws.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_echo(dir.path(), "", &[], false).await;
    let task = send(&url(&ws), "remember me", false).await;
    let id = task["id"].as_str().unwrap().to_owned();
    ws.shutdown().await.unwrap();

    let ws = boot_echo(dir.path(), "", &[], false).await;
    let got = get_task(&url(&ws), &id).await;
    assert_eq!(got["id"], id.as_str(), "{got}");
    assert_eq!(got["status"]["state"], "TASK_STATE_COMPLETED", "{got}");
    assert_eq!(artifact_text(&got), "echo: remember me");
    ws.shutdown().await.unwrap();
}
