//! JSON-RPC 2.0 envelope rules and A2A parameter validation over a real server: requests
//! without a usable `id` (notifications, `null`, objects) and batches are refused without
//! running anything, ids are echoed byte for byte, out-of-range or mistyped parameters are
//! -32602 / HTTP 400 naming the field instead of being clamped, and every error's
//! `ErrorInfo.reason` matches its code on both bindings.

mod common;

use std::time::Duration;

use common::{rpc, spawn, user_message, Setup};
use serde_json::{json, Value};

/// The reason every JSON-RPC code must carry (A2A 1.0 names, plus this server's -32000).
fn reason_of(code: i64) -> &'static str {
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
fn assert_error(v: &Value, code: i64, needle: &str) {
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
async fn post_text(url: &str, body: &str) -> (u16, String) {
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

async fn post(url: &str, body: &str) -> Value {
    let (status, text) = post_text(url, body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json reply")
}

/// How many tasks the server holds.
async fn task_count(url: &str) -> u64 {
    let (_, v) = rpc(url, Some("1.0"), "ListTasks", json!({})).await;
    assert!(v["result"]["tasks"].is_array(), "{v}");
    v["result"]["totalSize"].as_u64().expect("totalSize")
}

fn send_params() -> Value {
    json!({"message": user_message("hello")})
}

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
async fn page_size_out_of_range_is_invalid_params() {
    let s = spawn(Setup::default()).await;
    for bad in [
        json!(150),
        json!(101),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e30),
        json!("abc"),
        json!(true),
        json!(18446744073709551615u64),
    ] {
        let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": bad})).await;
        assert_error(&v, -32602, "`pageSize`");
    }
    let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": 150})).await;
    assert_error(&v, -32602, "`pageSize` must be between 1 and 100, got 150");
    for good in [json!(1), json!(100), json!(null), json!("20"), json!(20.0)] {
        let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": good})).await;
        assert!(v["result"]["tasks"].is_array(), "pageSize {good}: {v}");
    }
    let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": 100})).await;
    assert_eq!(v["result"]["pageSize"], 100, "{v}");
    // 0.3 tasks/list goes through the same checks.
    let (_, v) = rpc(&s.url, None, "tasks/list", json!({"pageSize": 150})).await;
    assert_error(&v, -32602, "`pageSize`");

    // HTTP+JSON: the equivalent 400 naming the field.
    for q in [
        "pageSize=150",
        "pageSize=0",
        "pageSize=-5",
        "pageSize=abc",
        "pageSize=1.5",
    ] {
        let resp = reqwest::get(format!("{}/tasks?{q}", s.url))
            .await
            .expect("get");
        assert_eq!(resp.status().as_u16(), 400, "{q}");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"]["code"], 400, "{v}");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT", "{v}");
        assert_eq!(v["error"]["details"][0]["reason"], "INVALID_PARAMS", "{v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("`pageSize`"), "{q}: {msg}");
    }
    let resp = reqwest::get(format!("{}/tasks?pageSize=100", s.url))
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn history_length_out_of_range_is_invalid_params() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(&s.url, Some("1.0"), "SendMessage", send_params()).await;
    let task_id = v["result"]["task"]["id"]
        .as_str()
        .expect("task id")
        .to_string();
    for bad in [json!(-1), json!(2_147_483_648i64), json!(0.5), json!("x")] {
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "GetTask",
            json!({"id": task_id, "historyLength": bad}),
        )
        .await;
        assert_error(&v, -32602, "`historyLength`");
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "ListTasks",
            json!({"historyLength": bad}),
        )
        .await;
        assert_error(&v, -32602, "`historyLength`");
        let mut p = send_params();
        p["configuration"] = json!({"historyLength": bad});
        let (_, v) = rpc(&s.url, Some("1.0"), "SendMessage", p).await;
        assert_error(&v, -32602, "`configuration.historyLength`");
    }
    // The refused SendMessages started nothing.
    assert_eq!(task_count(&s.url).await, 1);
    // The largest int32 is a valid "no practical limit".
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "GetTask",
        json!({"id": task_id, "historyLength": 2_147_483_647i64}),
    )
    .await;
    assert_eq!(v["result"]["id"], task_id.as_str(), "{v}");
    let resp = reqwest::get(format!("{}/tasks/{task_id}?historyLength=-1", s.url))
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`historyLength`"),
        "{v}"
    );
    let resp = reqwest::get(format!("{}/tasks/{task_id}?historyLength=0", s.url))
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn mistyped_params_name_the_field() {
    let s = spawn(Setup::default()).await;
    let cases = [
        (
            "ListTasks",
            json!({"includeArtifacts": "yes"}),
            "`includeArtifacts`",
        ),
        ("ListTasks", json!({"contextId": 5}), "`contextId`"),
        ("ListTasks", json!({"status": 3}), "`status`"),
        ("GetTask", json!({"id": 5}), "`id`"),
        ("CancelTask", json!({}), "missing field `id`"),
        (
            "SendMessage",
            json!({"message": user_message("hi"), "configuration": "x"}),
            "`configuration` must be an object",
        ),
    ];
    for (method, params, needle) in cases {
        let (_, v) = rpc(&s.url, Some("1.0"), method, params).await;
        assert_error(&v, -32602, needle);
    }
    // REST query values are text: a numeric context id is still an id.
    let resp = reqwest::get(format!(
        "{}/tasks?contextId=123&includeArtifacts=true",
        s.url
    ))
    .await
    .expect("get");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = reqwest::get(format!("{}/tasks?includeArtifacts=maybe", s.url))
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn every_wire_error_reason_matches_its_code() {
    let s = spawn(Setup {
        streaming: false,
        body_limit: Some(4096),
        ..Setup::default()
    })
    .await;
    let mut seen = Vec::new();
    let mut check = |v: &Value| {
        let code = v["error"]["code"].as_i64().expect("error code");
        assert_eq!(v["error"]["data"][0]["reason"], reason_of(code), "{v}");
        seen.push(code);
    };
    check(&post(&s.url, "{not json").await);
    check(&post(&s.url, r#"{"jsonrpc":"2.0","method":"ListTasks"}"#).await);
    for (method, params) in [
        ("NoSuchMethod", json!({})),
        ("ListTasks", json!({"pageSize": 150})),
        ("GetTask", json!({"id": "nope"})),
        ("SendStreamingMessage", send_params()),
        ("CreateTaskPushNotificationConfig", json!({})),
        ("GetExtendedAgentCard", json!({})),
    ] {
        check(&rpc(&s.url, Some("1.0"), method, params).await.1);
    }
    check(
        &rpc(&s.url, Some("9.9"), "GetTask", json!({"id": "x"}))
            .await
            .1,
    );
    // Transport-level errors (415, 413) carry a JSON-RPC body too.
    let resp = reqwest::Client::new()
        .post(format!("{}/", s.url))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 415);
    check(&resp.json().await.expect("json"));
    let (status, text) = post_text(&s.url, &format!(r#"{{"x":"{}"}}"#, "y".repeat(8192))).await;
    assert_eq!(status, 413);
    check(&serde_json::from_str(&text).expect("json"));
    // REST: a malformed body is a parse error, not an invalid request.
    let resp = reqwest::Client::new()
        .post(format!("{}/message:send", s.url))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["details"][0]["reason"], "PARSE_ERROR", "{v}");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        vec![-32700, -32602, -32601, -32600, -32009, -32007, -32005, -32004, -32003, -32001]
    );

    // Bad credentials: HTTP 401 with -32000 UNAUTHENTICATED.
    let s = spawn(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let (status, v) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": "x"})).await;
    assert_eq!(status, 401);
    assert_eq!(v["error"]["code"], -32000, "{v}");
    assert_eq!(v["error"]["data"][0]["reason"], "UNAUTHENTICATED", "{v}");
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

#[tokio::test]
async fn unfit_numbers_are_invalid_params_naming_the_field() {
    let s = spawn(Setup::default()).await;
    for (body, needle) in [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ListTasks","params":{"pageSize":1e400}}"#,
            "`pageSize`: the number 1e400 is out of range",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"configuration":{"historyLength":-1E400}}}"#,
            "`configuration.historyLength`: the number -1E400 is out of range",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"parts":[{"data":{"x":[1,2e999]}}]}}}"#,
            "`message.parts[0].data.x[1]`: the number 2e999 is out of range",
        ),
    ] {
        let v = post(&s.url, body).await;
        assert_eq!(v["id"], 1, "{v}");
        assert_error(&v, -32602, needle);
    }
    // Bad numbers are repeated as written.
    for (raw, shown) in [
        ("-0", "got -0"),
        ("18446744073709551616", "got 18446744073709551616"),
        ("1.50", "got 1.50"),
        ("1e3", "got 1e3"),
    ] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":"a","method":"ListTasks","params":{{"pageSize":{raw}}}}}"#
        );
        let v = post(&s.url, &body).await;
        assert_eq!(v["id"], "a", "{v}");
        assert_error(&v, -32602, "`pageSize` must be");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.ends_with(shown), "{raw}: {msg}");
    }
    // REST bodies: the same 400 naming the field.
    let resp = reqwest::Client::new()
        .post(format!("{}/message:send", s.url))
        .header("Content-Type", "application/json")
        .body(r#"{"configuration":{"historyLength":1e400}}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["details"][0]["reason"], "INVALID_PARAMS", "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("`configuration.historyLength`"), "{msg}");
    // Not JSON at all stays a parse error.
    let v = post(
        &s.url,
        r#"{"jsonrpc":"2.0","id":1,"method":"ListTasks","params":{"pageSize":1e400,}}"#,
    )
    .await;
    assert_error(&v, -32700, "");
}

#[tokio::test]
async fn integer_strings_follow_protojson() {
    // protojson reads an int32 from a string of digits, and refuses surrounding whitespace.
    let s = spawn(Setup::default()).await;
    for bad in [" 5", "50 ", "\t5", "5\n", "", "+ 5"] {
        let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": bad})).await;
        assert_error(&v, -32602, "`pageSize` must be a whole number");
        let resp = reqwest::get(format!(
            "{}/tasks?pageSize={}",
            s.url,
            bad.replace(' ', "%20")
                .replace('\t', "%09")
                .replace('\n', "%0A")
                .replace('+', "%2B")
        ))
        .await
        .expect("get");
        assert_eq!(resp.status().as_u16(), 400, "{bad:?}");
    }
    for good in ["5", "+5", "0005"] {
        let (_, v) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": good})).await;
        assert_eq!(v["result"]["pageSize"], 5, "{good}: {v}");
    }
}
