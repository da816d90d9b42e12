//! The A2A 0.3 surface beyond messages and tasks: push-config results in the 0.3 shape
//! (`{taskId, pushNotificationConfig}`, a bare array from `list`, `null` from `delete`), a
//! message's 0.3 push config with `authentication.schemes`, the merged (0.3) card's security
//! fields, `agent/getAuthenticatedExtendedCard` in the merged form, the extended card signed
//! like the public one, and ProtoJSON enum numbers. Checked on the raw wire (curl-like, no
//! `A2A-Version`) and with the official Python a2a-sdk 1.3.0 0.3 client.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{card, user_message, user_message_v03, EchoExecutor};
use molecule_a2a::card_signing::{verify_card, CardSigner, TrustedKey};
use molecule_a2a::types::AgentSkill;
use molecule_a2a::{A2aServer, CardHandle, ExtendedCard, PushOptions, Retention, TaskStore};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const SECRET: &str = "v03-secret";

/// What the webhook saw per POST: `(x-a2a-notification-token, authorization)`.
type Hits = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// A webhook on 127.0.0.1 recording `(x-a2a-notification-token, authorization)` per POST.
struct Hook {
    url: String,
    hits: Hits,
    _stop: oneshot::Sender<()>,
}

async fn hook() -> Hook {
    let hits: Hits = Arc::default();
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap| {
            let h = h.clone();
            async move {
                let get = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(String::from)
                };
                h.lock()
                    .unwrap()
                    .push((get("x-a2a-notification-token"), get("authorization")));
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
    Hook {
        url,
        hits,
        _stop: tx,
    }
}

impl Hook {
    /// The authorization header of the first notification carrying `token` (bounded wait).
    async fn authorization_for(&self, token: &str) -> Option<String> {
        for _ in 0..400 {
            let found = self
                .hits
                .lock()
                .unwrap()
                .iter()
                .find(|(t, _)| t.as_deref() == Some(token))
                .cloned();
            if let Some((_, auth)) = found {
                return auth;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no notification with token {token}");
    }
}

struct Server {
    url: String,
    server: A2aServer,
    _stop: oneshot::Sender<()>,
}

fn extended() -> ExtendedCard {
    ExtendedCard {
        description: None,
        skills: vec![AgentSkill {
            id: "admin".into(),
            name: "Admin".into(),
            description: "Operator-only tools".into(),
            tags: vec!["ops".into()],
            examples: None,
            input_modes: None,
            output_modes: None,
            security_requirements: None,
        }],
    }
}

/// A server with push (127.0.0.1 allowed), the extended card and, when `secret`, the inbound
/// bearer secret [`SECRET`].
async fn server(secret: bool) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let push = PushOptions {
        allow_hosts: vec!["127.0.0.1".into()],
        backoff: Duration::from_millis(20),
        ..PushOptions::default()
    };
    let server = A2aServer::new(
        CardHandle::new(card(&url, true)),
        Arc::new(EchoExecutor::default()),
        TaskStore::in_memory(Retention::default()).unwrap(),
    )
    .with_push(Some(push))
    .with_bearer_secret(secret.then(|| SECRET.to_string()))
    .with_extended_card(Some(extended()));
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

/// A JSON-RPC call without `A2A-Version` (0.3) or with `1.0`, with the bearer when `auth`.
async fn call(url: &str, v1: bool, auth: bool, method: &str, params: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    if v1 {
        req = req.header("A2A-Version", "1.0");
    }
    if auth {
        req = req.bearer_auth(SECRET);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// A 0.3 task left INPUT_REQUIRED (`ask x`), to hang push configs on.
async fn interrupted_task(url: &str, auth: bool) -> String {
    let v = call(
        url,
        false,
        auth,
        "message/send",
        json!({"message": user_message_v03("ask x")}),
    )
    .await;
    v["result"]["id"].as_str().expect("task id").to_string()
}

#[tokio::test]
async fn push_config_results_are_in_the_03_shape() {
    let s = server(false).await;
    let task = interrupted_task(&s.url, false).await;
    let config = json!({"id": "c1", "url": "http://127.0.0.1:9/hook", "token": "tk",
        "authentication": {"schemes": ["Bearer"], "credentials": "cred"}});
    let expected = json!({"taskId": task, "pushNotificationConfig": config});
    let set = call(
        &s.url,
        false,
        false,
        "tasks/pushNotificationConfig/set",
        json!({"taskId": task, "pushNotificationConfig": config}),
    )
    .await;
    assert_eq!(set["result"], expected, "{set}");
    let get = call(
        &s.url,
        false,
        false,
        "tasks/pushNotificationConfig/get",
        json!({"id": task, "pushNotificationConfigId": "c1"}),
    )
    .await;
    assert_eq!(get["result"], expected, "{get}");
    let list = call(
        &s.url,
        false,
        false,
        "tasks/pushNotificationConfig/list",
        json!({"id": task}),
    )
    .await;
    assert_eq!(list["result"], json!([expected]), "{list}");
    let del = call(
        &s.url,
        false,
        false,
        "tasks/pushNotificationConfig/delete",
        json!({"id": task, "pushNotificationConfigId": "c1"}),
    )
    .await;
    assert!(del.get("error").is_none(), "{del}");
    assert_eq!(del["result"], Value::Null, "{del}");
    let list = call(
        &s.url,
        false,
        false,
        "tasks/pushNotificationConfig/list",
        json!({"id": task}),
    )
    .await;
    assert_eq!(list["result"], json!([]), "{list}");
    // The 1.0 methods keep the 1.0 shape.
    let v1 = call(
        &s.url,
        true,
        false,
        "CreateTaskPushNotificationConfig",
        json!({"taskId": task, "id": "c2", "url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert_eq!(v1["result"]["id"], "c2", "{v1}");
    assert!(v1["result"].get("pushNotificationConfig").is_none(), "{v1}");
}

#[tokio::test]
async fn list_03_returns_every_config_of_the_task() {
    let s = server(false).await;
    let task = interrupted_task(&s.url, false).await;
    for i in 0..3 {
        let v = call(
            &s.url,
            true,
            false,
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task, "id": format!("c{i}"), "url": "http://127.0.0.1:9/hook"}),
        )
        .await;
        assert!(v.get("error").is_none(), "{v}");
    }
    let list = call(
        &s.url,
        false,
        false,
        "tasks/pushNotificationConfig/list",
        json!({"id": task}),
    )
    .await;
    let ids: Vec<&str> = list["result"]
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|c| c["pushNotificationConfig"]["id"].as_str())
        .collect();
    assert_eq!(ids, ["c0", "c1", "c2"], "{list}");
}

#[tokio::test]
async fn message_send_03_push_config_with_schemes_is_delivered_with_them() {
    let s = server(false).await;
    let hook = hook().await;
    let v = call(
        &s.url,
        false,
        false,
        "message/send",
        json!({"message": user_message_v03("push me"),
               "configuration": {"pushNotificationConfig": {"url": hook.url, "token": "t03",
                   "authentication": {"schemes": ["Bearer"], "credentials": "c"}}}}),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(
        hook.authorization_for("t03").await.as_deref(),
        Some("Bearer c")
    );
    let bad = call(
        &s.url,
        false,
        false,
        "message/send",
        json!({"message": user_message_v03("push me"),
               "configuration": {"pushNotificationConfig": {"url": hook.url,
                   "authentication": {"schemes": []}}}}),
    )
    .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let text = bad["error"]["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("`params.configuration.pushNotificationConfig.authentication.schemes`"),
        "{bad}"
    );
}

#[tokio::test]
async fn merged_card_declares_03_security_and_extended_card_v1_card_does_not() {
    let s = server(true).await;
    let merged: Value = reqwest::get(format!("{}/.well-known/agent-card.json", s.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(merged["security"], json!([{"bearer": []}]), "{merged}");
    assert_eq!(merged["securitySchemes"]["bearer"]["type"], "http");
    assert_eq!(merged["securitySchemes"]["bearer"]["scheme"], "Bearer");
    assert_eq!(
        merged["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"],
        "Bearer"
    );
    assert_eq!(merged["supportsAuthenticatedExtendedCard"], true);
    let v1 = s.server.card().json_v1();
    assert!(v1.get("security").is_none(), "{v1}");
    assert!(v1.get("supportsAuthenticatedExtendedCard").is_none());
    assert!(
        v1["securitySchemes"]["bearer"].get("type").is_none(),
        "{v1}"
    );
}

#[tokio::test]
async fn extended_card_03_is_merged_and_both_are_signed() {
    let s = server(true).await;
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let signer = CardSigner::from_pkcs8(der.as_ref(), "k1").unwrap();
    let trusted = TrustedKey::from_pem("k1", signer.public_key_pem().as_bytes()).unwrap();
    s.server.card().set_signer(Some(signer));
    let v03 = call(
        &s.url,
        false,
        true,
        "agent/getAuthenticatedExtendedCard",
        json!({}),
    )
    .await;
    let card = &v03["result"];
    assert_eq!(card["url"], s.url, "{v03}");
    assert_eq!(card["protocolVersion"], "0.3.0");
    assert_eq!(card["preferredTransport"], "JSONRPC");
    assert_eq!(card["supportsAuthenticatedExtendedCard"], true);
    assert_eq!(card["security"], json!([{"bearer": []}]));
    assert!(card["skills"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == "admin"));
    assert_eq!(
        verify_card(card, std::slice::from_ref(&trusted)).unwrap(),
        "k1"
    );
    let v1 = call(&s.url, true, true, "GetExtendedAgentCard", json!({})).await;
    let card = &v1["result"];
    assert!(card.get("url").is_none(), "{v1}");
    assert_eq!(card["signatures"].as_array().map(Vec::len), Some(1), "{v1}");
    assert_eq!(
        verify_card(card, std::slice::from_ref(&trusted)).unwrap(),
        "k1"
    );
    // The public merged card, with its 0.3 security members, still verifies.
    let public: Value = reqwest::get(format!("{}/.well-known/agent-card.json", s.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify_card(&public, &[trusted]).unwrap(), "k1");
}

#[tokio::test]
async fn enum_numbers_are_accepted_unknown_ones_refused() {
    let s = server(false).await;
    let task = interrupted_task(&s.url, false).await;
    let v = call(&s.url, true, false, "ListTasks", json!({"status": 6})).await;
    let ids: Vec<&str> = v["result"]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [task.as_str()], "{v}");
    let v = call(&s.url, true, false, "ListTasks", json!({"status": 42})).await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`status`: 42 is not a TaskState number"),
        "{v}"
    );
    let mut m = user_message("hi");
    m["role"] = json!(1);
    let v = call(&s.url, true, false, "SendMessage", json!({"message": m})).await;
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{v}"
    );
    let mut m = user_message("hi");
    m["role"] = json!(7);
    let v = call(&s.url, true, false, "SendMessage", json!({"message": m})).await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`message.role`"),
        "{v}"
    );
    // REST query values are text: `?status=6` is the number too.
    let r: Value = reqwest::Client::new()
        .get(format!("{}/tasks?status=6", s.url))
        .header("A2A-Version", "1.0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["tasks"].as_array().map(Vec::len), Some(1), "{r}");
}

/// The official Python a2a-sdk 1.3.0 0.3 client (`CompatJsonRpcTransport`): push-config
/// operations, a message with a push config carrying authentication, the extended card, and
/// the merged card's 0.3 security fields equal to what the SDK's own merge produces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_03_client_drives_push_configs_and_extended_card() {
    use molecule_python_venv::{run, venv_python};
    let python = tokio::task::spawn_blocking(|| venv_python(&[]))
        .await
        .expect("venv setup task");
    let s = server(true).await;
    let hook = hook().await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/compat_v03_check.py");
    let (url, hook_url) = (s.url.clone(), hook.url.clone());
    let out = tokio::task::spawn_blocking(move || {
        run(
            std::process::Command::new(&python)
                .arg(&script)
                .arg(&url)
                .arg(SECRET)
                .arg(&hook_url),
            "python compat_v03_check.py",
        )
    })
    .await
    .expect("python task");
    eprintln!("python output:\n{out}");
    for line in [
        "OK v03 set,get,list,delete",
        "OK v03 extended-card admin,echo",
        "ALL OK",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}`:\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("OK card-03-fields security=")),
        "{out}"
    );
    assert_eq!(
        hook.authorization_for("send-v03").await.as_deref(),
        Some("Bearer hook-cred")
    );
}
