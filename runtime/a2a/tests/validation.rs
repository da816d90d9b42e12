//! A2A parameter validation over a real server: out-of-range or mistyped parameters are
//! -32602 / HTTP 400 naming the field instead of being clamped, numbers follow protojson, and
//! every error's `ErrorInfo.reason` matches its code on both bindings.

mod common;

use common::{
    assert_error, post, post_text, reason_of, rpc, send_params, spawn, task_count, user_message,
    Setup,
};
use serde_json::{json, Value};

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
        // An enum takes its name or its number (`3`: protojson), nothing else.
        ("ListTasks", json!({"status": true}), "`status`"),
        (
            "ListTasks",
            json!({"status": 99}),
            "`status`: 99 is not a TaskState",
        ),
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

/// A client's `contextId` / `taskId` over 256 bytes or holding a control character (NUL, LF)
/// is -32602 naming the member, on both bindings and before any task is stored; a plain id at
/// the limit is taken.
#[tokio::test]
async fn client_ids_are_bounded_plain_text() {
    let s = spawn(Setup::default()).await;
    let long = "c".repeat(140 * 1024);
    for (member, bad) in [
        ("contextId", "ab\u{0}cd"),
        ("contextId", "ab\ncd"),
        ("contextId", long.as_str()),
        ("taskId", "t\u{0}1"),
        ("taskId", long.as_str()),
    ] {
        let mut message = user_message("hello");
        message[member] = json!(bad);
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": message}),
        )
        .await;
        assert_error(&v, -32602, &format!("`message.{member}`"));
        let resp = reqwest::Client::new()
            .post(format!("{}/message:send", s.url))
            .json(&json!({"message": message}))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status().as_u16(), 400, "{member}");
    }
    assert_eq!(task_count(&s.url).await, 0);
    let mut message = user_message("hello");
    message["contextId"] = json!("c".repeat(256));
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": message}),
    )
    .await;
    assert!(
        v["result"]["task"].is_object() || v["result"]["message"].is_object(),
        "{v}"
    );
}
