//! Error handling over a real server: malformed JSON, Content-Type, unknown method, unknown
//! task, oversized bodies, A2A-Version handling, bearer auth, "not configured" and capability
//! gating, for both the JSON-RPC and the REST binding.

mod common;

use common::{rpc, spawn, user_message, Setup};
use serde_json::{json, Value};

const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";

fn assert_rpc_error(v: &Value, code: i64) {
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["data"][0]["@type"], ERROR_INFO, "{v}");
    assert_eq!(v["error"]["data"][0]["domain"], "a2a-protocol.org", "{v}");
}

async fn raw_post(url: &str, ct: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/"))
        .header("A2A-Version", "1.0")
        .body(body);
    if let Some(ct) = ct {
        req = req.header("Content-Type", ct);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn malformed_json_is_parse_error() {
    let s = spawn(Setup::default()).await;
    let (status, v) = raw_post(&s.url, Some("application/json"), b"{not json".to_vec()).await;
    assert_eq!(status, 200);
    assert_rpc_error(&v, -32700);
    assert_eq!(v["error"]["data"][0]["reason"], "PARSE_ERROR", "{v}");
    assert_eq!(v["id"], Value::Null);
}

#[tokio::test]
async fn invalid_envelopes_are_invalid_request() {
    let s = spawn(Setup::default()).await;
    for body in [
        json!([1, 2]),
        json!({"jsonrpc": "1.0", "id": 3, "method": "GetTask"}),
        json!({"jsonrpc": "2.0", "id": 4}),
    ] {
        let (status, v) = raw_post(
            &s.url,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 200);
        assert_rpc_error(&v, -32600);
    }
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let s = spawn(Setup::default()).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}});
    let (status, v) = raw_post(&s.url, Some("text/plain"), body.to_string().into_bytes()).await;
    assert_eq!(status, 415);
    assert_rpc_error(&v, -32005);
    let (status, _) = raw_post(&s.url, None, body.to_string().into_bytes()).await;
    assert_eq!(status, 415);
    // REST
    let resp = reqwest::Client::new()
        .post(format!("{}/message:send", s.url))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 415);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn unknown_method_is_method_not_found() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(&s.url, Some("1.0"), "NoSuchMethod", json!({})).await;
    assert_rpc_error(&v, -32601);
    assert_eq!(v["id"], 1);
}

#[tokio::test]
async fn unknown_task_is_task_not_found() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": "nope"})).await;
    assert_rpc_error(&v, -32001);
    assert_eq!(v["error"]["data"][0]["reason"], "TASK_NOT_FOUND");
    let (_, v) = rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": "nope"})).await;
    assert_rpc_error(&v, -32001);
    let (_, v) = rpc(&s.url, None, "tasks/get", json!({"id": "nope"})).await;
    assert_rpc_error(&v, -32001);
    let mut msg = user_message("hi");
    msg["taskId"] = json!("nope");
    let (_, v) = rpc(&s.url, Some("1.0"), "SendMessage", json!({"message": msg})).await;
    assert_rpc_error(&v, -32001);
    // REST: 404 with the REST error shape.
    let resp = reqwest::get(format!("{}/tasks/nope", s.url))
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], 404);
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    assert_eq!(v["error"]["details"][0]["reason"], "TASK_NOT_FOUND");
}

#[tokio::test]
async fn missing_params_name_the_field() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({})).await;
    assert_rpc_error(&v, -32602);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("`id`"), "{msg}");
    let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": 0})).await;
    assert_rpc_error(&v, -32602);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("pageSize"));
}

#[tokio::test]
async fn oversized_body_is_413() {
    let s = spawn(Setup {
        body_limit: Some(1024),
        ..Setup::default()
    })
    .await;
    let big = "x".repeat(4096);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                      "params": {"message": user_message(&big)}});
    let (status, v) = raw_post(
        &s.url,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 413);
    assert_rpc_error(&v, -32600);
    let resp = reqwest::Client::new()
        .post(format!("{}/message:send", s.url))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 413);
}

#[tokio::test]
async fn version_header_handling() {
    let s = spawn(Setup::default()).await;
    // Unknown version → -32009.
    let (_, v) = rpc(&s.url, Some("9.9"), "GetTask", json!({"id": "x"})).await;
    assert_rpc_error(&v, -32009);
    assert_eq!(v["error"]["data"][0]["reason"], "VERSION_NOT_SUPPORTED");
    // Missing header means 0.3: 1.0 method names need the 1.0 header.
    let (_, v) = rpc(&s.url, None, "GetTask", json!({"id": "x"})).await;
    assert_rpc_error(&v, -32009);
    // Empty header is the same as missing: 0.3 names work.
    let (_, v) = rpc(
        &s.url,
        Some(""),
        "message/send",
        json!({"message": common::user_message_v03("hello")}),
    )
    .await;
    assert_eq!(v["result"]["kind"], "task", "{v}");
    // 1.0 header + 1.0 method works; 1.0.1 is the same minor.
    let (_, v) = rpc(
        &s.url,
        Some("1.0.1"),
        "SendMessage",
        json!({"message": user_message("hi")}),
    )
    .await;
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{v}"
    );
    // REST: unknown version → 400 VERSION_NOT_SUPPORTED.
    let resp = reqwest::Client::new()
        .get(format!("{}/tasks", s.url))
        .header("A2A-Version", "2.0")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["details"][0]["reason"], "VERSION_NOT_SUPPORTED");
}

#[tokio::test]
async fn bearer_auth_guards_everything_but_the_card() {
    let s = spawn(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let (status, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": "x"})).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["data"][0]["reason"], "UNAUTHENTICATED");
    let resp = reqwest::Client::new()
        .post(format!("{}/", s.url))
        .header("A2A-Version", "1.0")
        .header("Authorization", "Bearer wrong")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = reqwest::get(format!("{}/tasks", s.url)).await.expect("get");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = reqwest::Client::new()
        .post(format!("{}/", s.url))
        .header("A2A-Version", "1.0")
        .header("Authorization", "Bearer s3cret")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], -32001);
    let resp = reqwest::get(format!("{}/.well-known/agent-card.json", s.url))
        .await
        .expect("card");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn not_configured_answers_503_and_serves_the_card() {
    let s = spawn(Setup {
        not_configured: Some(
            "adapter setup failed: missing OPENAI_API_KEY; set `model` in \
             /home/op/ws/config.yaml"
                .into(),
        ),
        ..Setup::default()
    })
    .await;
    let (status, v) = rpc(
        &s.url,
        None,
        "message/send",
        json!({"message": common::user_message_v03("hi")}),
    )
    .await;
    assert_eq!(status, 503);
    // The same ErrorInfo shape as every other error, the reason REST gives too, and no host
    // path: the config path is cut to its file name.
    let info = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "AGENT_NOT_CONFIGURED", "domain": "a2a-protocol.org",
        "metadata": {"detail": "adapter setup failed: missing OPENAI_API_KEY; set `model` in \
                                config.yaml"}}]);
    assert_eq!(
        v,
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603,
        "message": "Internal error: agent not configured", "data": info}})
    );
    // The envelope is checked first, exactly as on a ready server.
    let (status, v) = raw_post(&s.url, Some("application/json"), b"garbage".to_vec()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], Value::Null);
    assert_rpc_error(&v, -32700);
    let note = br#"{"jsonrpc":"2.0","method":"message/send","params":{}}"#.to_vec();
    let (status, v) = raw_post(&s.url, Some("application/json"), note).await;
    assert_eq!(status, 200, "{v}");
    assert_rpc_error(&v, -32600);
    let (status, v) = rpc(&s.url, None, "no/such", json!({})).await;
    assert_eq!(status, 200, "{v}");
    assert_rpc_error(&v, -32601);
    let (status, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": 0})).await;
    assert_eq!(status, 200, "{v}");
    assert_rpc_error(&v, -32602);
    let resp = reqwest::get(format!("{}/.well-known/agent-card.json", s.url))
        .await
        .expect("card");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = reqwest::get(format!("{}/tasks", s.url))
        .await
        .expect("rest");
    assert_eq!(resp.status().as_u16(), 503);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["status"], "UNAVAILABLE");
    assert_eq!(v["error"]["details"], info, "{v}");
    let resp = reqwest::get(format!("{}/tasks?pageSize=0", s.url))
        .await
        .expect("rest");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let s = spawn(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let get = |auth: &'static str| {
        let url = s.url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/"))
                .header("A2A-Version", "1.0")
                .header("Authorization", auth)
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask",
                              "params": {"id": "x"}}))
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    };
    for ok in [
        "Bearer s3cret",
        "bearer s3cret",
        "BEARER s3cret",
        "bEaReR  s3cret",
    ] {
        assert_eq!(get(ok).await, 200, "{ok}");
    }
    for bad in [
        "BEARER s3cre",
        "Basic s3cret",
        "Bearers3cret",
        "s3cret",
        "Bearer S3CRET",
    ] {
        assert_eq!(get(bad).await, 401, "{bad}");
    }
}

#[tokio::test]
async fn echoed_client_text_is_capped() {
    let s = spawn(Setup::default()).await;
    let long = "a".repeat(900_000);
    let (_, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": long})).await;
    assert_rpc_error(&v, -32001);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(msg, format!("Task not found: {}…", "a".repeat(128)));
    let (_, v) = rpc(&s.url, Some("1.0"), &long, json!({})).await;
    assert_rpc_error(&v, -32601);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(msg, format!("Method not found: {}…", "a".repeat(128)));
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTasks",
        json!({"pageToken": format!("\u{1b}[31m{long}")}),
    )
    .await;
    assert_rpc_error(&v, -32602);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.len() < 300 && msg.contains("\\u{1b}[31maaa") && msg.contains('…'),
        "{msg}"
    );
    let mut m = common::user_message("hi");
    m["role"] = json!(long);
    let (_, v) = rpc(&s.url, Some("1.0"), "SendMessage", json!({"message": m})).await;
    assert_rpc_error(&v, -32602);
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.chars().count() < 400, "{} chars", msg.len());
}

#[tokio::test]
async fn bad_parts_are_rejected_with_the_field() {
    let s = spawn(Setup::default()).await;
    let bad = json!({"messageId": "m", "role": "ROLE_USER",
                     "parts": [{"text": "a"}, {"text": "b", "url": "http://x"}]});
    let (_, v) = rpc(&s.url, Some("1.0"), "SendMessage", json!({"message": bad})).await;
    assert_rpc_error(&v, -32602);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("message.parts[1]"),
        "{v}"
    );
    let empty = json!({"messageId": "m", "role": "ROLE_USER", "parts": []});
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": empty}),
    )
    .await;
    assert_rpc_error(&v, -32602);
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": {"role": "ROLE_USER"}}),
    )
    .await;
    assert_rpc_error(&v, -32602);
    let (_, v) = rpc(
        &s.url,
        None,
        "message/send",
        json!({"message": {"kind": "message", "messageId": "m", "role": "user",
                                        "parts": [{"kind": "file", "file": {}}]}}),
    )
    .await;
    assert_rpc_error(&v, -32602);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("message.parts[0].file"),
        "{v}"
    );
}

#[tokio::test]
async fn capability_gating() {
    let s = spawn(Setup {
        streaming: false,
        ..Setup::default()
    })
    .await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message("hi")}),
    )
    .await;
    assert_rpc_error(&v, -32004);
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": "t", "url": "http://example.com/"}),
    )
    .await;
    assert_rpc_error(&v, -32003);
    let (_, v) = rpc(&s.url, None, "tasks/pushNotificationConfig/set", json!({})).await;
    assert_rpc_error(&v, -32003);
    let (_, v) = rpc(&s.url, Some("1.0"), "GetExtendedAgentCard", json!({})).await;
    assert_rpc_error(&v, -32007);
}

#[tokio::test]
async fn terminal_tasks_refuse_messages_and_cancel() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hi")}),
    )
    .await;
    let task_id = v["result"]["task"]["id"]
        .as_str()
        .expect("task id")
        .to_string();
    let mut msg = user_message("again");
    msg["taskId"] = json!(task_id);
    let (_, v) = rpc(&s.url, Some("1.0"), "SendMessage", json!({"message": msg})).await;
    assert_rpc_error(&v, -32004);
    let (_, v) = rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": task_id})).await;
    assert_rpc_error(&v, -32002);
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SubscribeToTask",
        json!({"id": task_id}),
    )
    .await;
    assert_rpc_error(&v, -32004);
}
