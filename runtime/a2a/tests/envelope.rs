//! JSON-RPC 2.0 envelope rules over a real server: requests without a usable `id`
//! (notifications, `null`, objects) and batches are refused without running anything, the
//! envelope's members are checked, and ids are echoed byte for byte (also when the agent is
//! not configured).

mod common;

use std::time::Duration;

use common::{assert_error, post, post_text, send_params, spawn, task_count, Setup};
use serde_json::{json, Value};

#[tokio::test]
async fn notification_is_refused_and_starts_nothing() {
    let s = spawn(Setup::default()).await;
    for method in ["SendMessage", "SendStreamingMessage"] {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": send_params()});
        let v = post(&s.url, &body.to_string()).await;
        assert_error(&v, -32600, "missing `id`");
        assert_eq!(v["id"], Value::Null, "{v}");
        assert!(v.get("result").is_none(), "{v}");
    }
    // 0.3 (no A2A-Version header) is refused the same way.
    let resp = reqwest::Client::new()
        .post(format!("{}/", s.url))
        .json(&json!({"jsonrpc": "2.0", "method": "message/send",
                      "params": {"message": common::user_message_v03("hi")}}))
        .send()
        .await
        .expect("send");
    let v: Value = resp.json().await.expect("json");
    assert_error(&v, -32600, "notification");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(task_count(&s.url).await, 0, "a notification started a task");
}

#[tokio::test]
async fn null_and_structured_ids_are_refused() {
    let s = spawn(Setup::default()).await;
    let cases = [
        (json!(null), "`id` is null"),
        (json!({"a": 1}), "got an object"),
        (json!([1]), "got an array"),
        (json!(true), "got a boolean"),
    ];
    for (id, needle) in cases {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "SendMessage",
                          "params": send_params()});
        let v = post(&s.url, &body.to_string()).await;
        assert_error(&v, -32600, needle);
        assert_eq!(v["id"], Value::Null, "{v}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(task_count(&s.url).await, 0);
}

#[tokio::test]
async fn ids_are_echoed_exactly() {
    let s = spawn(Setup::default()).await;
    for id in [
        r#""abc""#,
        r#""caf\u00e9""#,
        "7",
        "-3",
        "123456789012345678901234567890",
        "1.50",
        "1e3",
    ] {
        let expected = format!(r#"{{"jsonrpc":"2.0","id":{id},"#);
        // A result, an error from the operation and an error from the envelope check.
        for rest in [
            r#""method":"ListTasks","params":{}"#,
            r#""method":"GetTask","params":{"id":"nope"}"#,
            r#""method":"NoSuchMethod""#,
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},{rest}}}"#);
            let (status, text) = post_text(&s.url, &body).await;
            assert_eq!(status, 200, "{text}");
            assert!(text.starts_with(&expected), "id {id}: {text}");
        }
    }
    // Every SSE frame of a stream carries the id as sent.
    let id = "123456789012345678901234567890";
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"SendStreamingMessage","params":{}}}"#,
        send_params()
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/", s.url))
        .header("Content-Type", "application/json")
        .header("A2A-Version", "1.0")
        .body(body)
        .send()
        .await
        .expect("send stream");
    let text = tokio::time::timeout(Duration::from_secs(20), resp.text())
        .await
        .expect("stream ends")
        .expect("stream body");
    let frames: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .collect();
    assert!(frames.len() >= 2, "{text}");
    for f in frames {
        assert!(
            f.starts_with(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#)),
            "{f}"
        );
    }
}

#[tokio::test]
async fn batches_are_refused_clearly() {
    let s = spawn(Setup::default()).await;
    let one = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params()});
    for body in [json!([one]), json!([])] {
        let v = post(&s.url, &body.to_string()).await;
        assert_error(
            &v,
            -32600,
            "batch requests (a JSON array) are not supported",
        );
        assert_eq!(v["id"], Value::Null, "{v}");
    }
    // An invalid JSON batch is a parse error (JSON-RPC 2.0 §7).
    let v = post(&s.url, r#"[{"jsonrpc":"2.0","method":"ListTasks","id":1},"#).await;
    assert_error(&v, -32700, "");
    // A scalar is not a request either.
    let v = post(&s.url, "42").await;
    assert_error(&v, -32600, "must be a JSON object");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(task_count(&s.url).await, 0);
}

#[tokio::test]
async fn envelope_members_are_checked() {
    let s = spawn(Setup::default()).await;
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ListTasks","params":"x"}"#,
            -32600,
            "`params` must be an object",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ListTasks","params":[50]}"#,
            -32602,
            "named parameters",
        ),
        (r#"{"jsonrpc":"2.0","id":1,"method":7}"#, -32600, "`method`"),
        (
            r#"{"jsonrpc":2.0,"id":1,"method":"ListTasks"}"#,
            -32600,
            "`jsonrpc`",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ListTasks"}"#,
            -32600,
            "duplicate",
        ),
    ];
    for (body, code, needle) in cases {
        let v = post(&s.url, body).await;
        assert_error(&v, code, needle);
    }
    // Absent or null params mean no params.
    let v = post(
        &s.url,
        r#"{"jsonrpc":"2.0","id":1,"method":"ListTasks","params":null}"#,
    )
    .await;
    assert!(v["result"]["tasks"].is_array(), "{v}");
    let v = post(&s.url, r#"{"jsonrpc":"2.0","id":1,"method":"ListTasks"}"#).await;
    assert!(v["result"]["tasks"].is_array(), "{v}");
}

#[tokio::test]
async fn not_configured_echoes_the_exact_id() {
    let s = spawn(Setup {
        not_configured: Some("setup failed".into()),
        ..Setup::default()
    })
    .await;
    let (status, text) = post_text(
        &s.url,
        r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"hi"}]}}}"#,
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        text.starts_with(r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"error":"#),
        "{text}"
    );
    let (_, text) = post_text(
        &s.url,
        r#"{"jsonrpc":"2.0","id":{},"method":"SendMessage"}"#,
    )
    .await;
    // An invalid id is refused as on a ready server (-32600), not answered "not configured".
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["id"], Value::Null, "{v}");
    assert_error(&v, -32600, "`id` must be a string or a number");
}
