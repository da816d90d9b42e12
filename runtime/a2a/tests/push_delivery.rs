//! Push notification delivery (A2A 1.0): every update of a task arrives in order at a webhook
//! receiver on 127.0.0.1 with `A2A-Version`, the token and the authentication; a 500 is retried
//! with the order kept; final states set outside the live path (a stored interrupted task
//! canceled, tasks failed at boot) are pushed; one HTTP client per webhook host and address.

mod common;
mod push_common;

use common::{rpc, user_message, wait_state};
use push_common::recorder::{kind, receiver};
use push_common::{memory, options_allowing as options, server_with as server};
use serde_json::json;

#[tokio::test]
async fn every_update_arrives_in_order_with_version_token_and_auth() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let config = json!({"url": hook.url, "token": "tok-1",
                        "authentication": {"scheme": "Bearer", "credentials": "cb-secret"}});
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello"),
               "configuration": {"taskPushNotificationConfig": config}}),
    )
    .await;
    let task_id = v["result"]["task"]["id"]
        .as_str()
        .expect("a task")
        .to_string();
    let hits = hook.wait_for(4).await;
    let kinds: Vec<String> = hits.iter().map(|h| kind(&h.body)).collect();
    assert_eq!(
        kinds,
        [
            "status:TASK_STATE_WORKING",
            "artifact",
            "artifact",
            "status:TASK_STATE_COMPLETED"
        ]
    );
    for h in &hits {
        assert_eq!(h.version.as_deref(), Some("1.0"));
        assert_eq!(h.token.as_deref(), Some("tok-1"));
        assert_eq!(h.authorization.as_deref(), Some("Bearer cb-secret"));
        let body_task = h.body.as_object().unwrap().values().next().unwrap()["taskId"].clone();
        assert_eq!(body_task, task_id.as_str());
    }
    // The config sent with the message is listed for the task, with its generated id.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "ListTaskPushNotificationConfigs",
        json!({"taskId": task_id}),
    )
    .await;
    let configs = v["result"]["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 1, "{v}");
    assert_eq!(configs[0]["url"], hook.url.as_str());
    assert!(configs[0]["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert_eq!(s.server.push_metrics().unwrap().delivered, 4);
}

#[tokio::test]
async fn a_500_is_retried_and_the_order_kept() {
    let hook = receiver(1).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello"),
               "configuration": {"taskPushNotificationConfig": {"url": hook.url}}}),
    )
    .await;
    let hits = hook.wait_for(4).await;
    let kinds: Vec<String> = hits.iter().map(|h| kind(&h.body)).collect();
    assert_eq!(kinds[0], "status:TASK_STATE_WORKING", "{kinds:?}");
    assert_eq!(kinds[3], "status:TASK_STATE_COMPLETED", "{kinds:?}");
    let m = s.server.push_metrics().unwrap();
    assert!(m.retried >= 1, "{m:?}");
    assert_eq!(m.failed, 0, "{m:?}");
}

/// The official Python `a2a-sdk` client drives the four config operations on JSON-RPC and
/// HTTP+JSON, then sends messages with a push config; the webhook gets their updates.
#[tokio::test]
async fn canceling_a_stored_interrupted_task_is_pushed() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask x")}),
    )
    .await;
    let task_id = v["result"]["task"]["id"].as_str().unwrap().to_string();
    wait_state(&s.url, &task_id, "TASK_STATE_INPUT_REQUIRED").await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "CreateTaskPushNotificationConfig",
        json!({"taskId": task_id, "id": "c", "url": hook.url, "token": "t-cancel"}),
    )
    .await;
    assert_eq!(v["result"]["id"], "c", "{v}");
    let (_, v) = rpc(&s.url, Some("1.0"), "CancelTask", json!({"id": task_id})).await;
    assert_eq!(v["result"]["status"]["state"], "TASK_STATE_CANCELED", "{v}");
    let hits = hook.wait_for(1).await;
    assert_eq!(
        kind(&hits.last().unwrap().body),
        "status:TASK_STATE_CANCELED"
    );
    assert_eq!(hits.last().unwrap().token.as_deref(), Some("t-cancel"));
    assert_eq!(
        hits.last().unwrap().body["statusUpdate"]["taskId"],
        task_id.as_str()
    );
}

#[tokio::test]
async fn tasks_failed_at_boot_are_pushed() {
    let hook = receiver(0).await;
    let store = memory();
    // What a killed process leaves: a WORKING task with a webhook.
    let task: molecule_a2a::types::Task = serde_json::from_value(json!({
        "id": "left-over", "contextId": "ctx-left",
        "status": {"state": "TASK_STATE_WORKING"}
    }))
    .unwrap();
    store.put(&task).await.unwrap();
    let config = serde_json::from_value(json!({
        "taskId": "left-over", "id": "h", "url": hook.url, "token": "t-boot"
    }))
    .unwrap();
    store.put_push_config(config).await.unwrap();

    let s = server(store, Some(options(&["127.0.0.1"]))).await;
    assert_eq!(s.server.fail_unfinished_tasks().await.unwrap(), 1);
    let hits = hook.wait_for(1).await;
    let last = &hits.last().unwrap().body;
    assert_eq!(kind(last), "status:TASK_STATE_FAILED");
    assert_eq!(last["statusUpdate"]["taskId"], "left-over");
    assert_eq!(last["statusUpdate"]["contextId"], "ctx-left");
    assert_eq!(hits.last().unwrap().token.as_deref(), Some("t-boot"));
}

#[tokio::test]
async fn one_http_client_per_webhook_host_and_address() {
    let hook = receiver(0).await;
    let s = server(memory(), Some(options(&["127.0.0.1"]))).await;
    for text in ["one", "two"] {
        let config = json!({"url": hook.url});
        rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message(text),
                   "configuration": {"taskPushNotificationConfig": config}}),
        )
        .await;
    }
    hook.wait_for(8).await;
    let m = s.server.push_metrics().unwrap();
    assert_eq!(m.delivered, 8, "{m:?}");
    assert_eq!(m.clients_built, 1, "{m:?}");
}
