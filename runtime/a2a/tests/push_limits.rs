//! Limits on push configs (push/limits.rs): at most 10 configs per task (the 11th create,
//! or a continuing message's config, is -32602 naming the limit), field sizes (`url` 2048,
//! `token` 1024, `authentication.scheme` 64, `authentication.credentials` 4096, `id` 128
//! bytes), and no control or non-ASCII characters in the fields that become header values —
//! each refusal names the field and the limit, and nothing refused is stored.

mod common;
mod push_common;

use common::{assert_error, rpc, user_message};
use push_common::{create, interrupted_task, options, server};
use serde_json::json;

const HOOK: &str = "http://127.0.0.1:9/hook";

async fn count(url: &str, task: &str) -> usize {
    let (_, v) = rpc(
        url,
        Some("1.0"),
        "ListTaskPushNotificationConfigs",
        json!({"taskId": task}),
    )
    .await;
    v["result"]["configs"].as_array().expect("configs").len()
}

#[tokio::test]
async fn at_most_ten_configs_per_task() {
    let s = server(options()).await;
    let task = interrupted_task(&s.url).await;
    for i in 0..10 {
        let v = create(&s.url, &task, json!({"id": format!("c{i}"), "url": HOOK})).await;
        assert!(v["result"]["id"].is_string(), "{v}");
    }
    let v = create(&s.url, &task, json!({"id": "c10", "url": HOOK})).await;
    assert_error(&v, -32602, "already has 10 push notification configs");
    // Replacing one of the ten is fine; deleting one makes room.
    let v = create(
        &s.url,
        &task,
        json!({"id": "c3", "url": HOOK, "token": "t"}),
    )
    .await;
    assert_eq!(v["result"]["token"], "t", "{v}");
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "DeleteTaskPushNotificationConfig",
        json!({"taskId": task, "id": "c0"}),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    let v = create(&s.url, &task, json!({"id": "c10", "url": HOOK})).await;
    assert!(v["result"]["id"].is_string(), "{v}");
    // A message continuing the full task may not add an 11th.
    let mut msg = user_message("go on");
    msg["taskId"] = json!(task);
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": msg,
               "configuration": {"taskPushNotificationConfig": {"url": HOOK}}}),
    )
    .await;
    assert_error(&v, -32602, "already has 10 push notification configs");
    assert_eq!(count(&s.url, &task).await, 10);
}

#[tokio::test]
async fn oversized_and_header_breaking_fields_are_refused_by_name() {
    let s = server(options()).await;
    let task = interrupted_task(&s.url).await;
    let long_url = format!("{HOOK}?{}", "a".repeat(2048));
    let cases = [
        (
            json!({"url": long_url}),
            "`url` is 2072 bytes; the limit is 2048",
        ),
        (
            json!({"url": HOOK, "id": "i".repeat(129)}),
            "`id` is 129 bytes; the limit is 128",
        ),
        (
            json!({"url": HOOK, "token": "t".repeat(1025)}),
            "`token` is 1025 bytes; the limit is 1024",
        ),
        (
            json!({"url": HOOK, "token": "a\r\nX-Evil: 1"}),
            "`token` must be printable ASCII",
        ),
        (
            json!({"url": HOOK, "token": "caf\u{e9}"}),
            "`token` must be printable ASCII",
        ),
        (
            json!({"url": HOOK, "authentication": {"scheme": "B".repeat(65)}}),
            "`authentication.scheme` is 65 bytes; the limit is 64",
        ),
        (
            json!({"url": HOOK, "authentication": {"scheme": "Bearer\r\n", "credentials": "x"}}),
            "`authentication.scheme` must be an HTTP auth scheme",
        ),
        (
            json!({"url": HOOK, "authentication": {"scheme": "Bearer", "credentials": "x\ny"}}),
            "`authentication.credentials` must be printable ASCII",
        ),
        (
            json!({"url": HOOK,
                   "authentication": {"scheme": "Bearer", "credentials": "c".repeat(4097)}}),
            "`authentication.credentials` is 4097 bytes; the limit is 4096",
        ),
        (
            json!({"url": HOOK, "authentication": {"scheme": "Bearer", "credentials": 5}}),
            "`authentication.credentials` must be a string",
        ),
        (
            json!({"url": HOOK, "authentication": {"scheme": 5}}),
            "`authentication.scheme` must be a string",
        ),
    ];
    for (config, needle) in cases {
        let v = create(&s.url, &task, config).await;
        assert_error(&v, -32602, needle);
    }
    assert_eq!(count(&s.url, &task).await, 0);
    // The same checks on a config sent with a message, named by its path.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello"),
               "configuration": {"taskPushNotificationConfig":
                   {"url": HOOK, "token": "a\r\nb"}}}),
    )
    .await;
    assert_error(
        &v,
        -32602,
        "`configuration.taskPushNotificationConfig.token` must be printable ASCII",
    );
}
