//! Happy paths over a real server: SendMessage / GetTask / ListTasks / CancelTask over JSON-RPC
//! 1.0, the same flows in 0.3 shapes, the REST binding, multi-turn tasks, message replies,
//! executor failures, returnImmediately, concurrency and the agent card's cache headers.

mod common;

use common::{rpc, spawn, user_message, user_message_v03, wait_state, Setup};
use serde_json::{json, Value};

#[tokio::test]
async fn send_message_v1_completes_with_artifacts_and_history() {
    let s = spawn(Setup::default()).await;
    let (status, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("hello")}),
    )
    .await;
    assert_eq!(status, 200);
    let task = &v["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{v}");
    assert_eq!(task["status"]["message"]["parts"][0]["text"], "echo: hello");
    assert_eq!(task["status"]["message"]["role"], "ROLE_AGENT");
    assert!(task["status"]["timestamp"]
        .as_str()
        .unwrap_or_default()
        .ends_with('Z'));
    // The two appended text chunks ("echo: ", "hello") are one text part in the task.
    let parts = &task["artifacts"][0]["parts"];
    assert_eq!(parts, &json!([{"text": "echo: hello"}]));
    assert_eq!(task["history"][0]["role"], "ROLE_USER");
    assert_eq!(task["history"][0]["taskId"], task["id"]);
    assert!(task.get("kind").is_none());
    // GetTask with historyLength.
    let id = task["id"].clone();
    let (_, g) = rpc(
        &s.url,
        Some("1.0"),
        "GetTask",
        json!({"id": id, "historyLength": 0}),
    )
    .await;
    assert!(g["result"].get("history").is_none(), "{g}");
    let (_, g) = rpc(
        &s.url,
        Some("1.0"),
        "GetTask",
        json!({"id": id, "historyLength": 1}),
    )
    .await;
    assert_eq!(g["result"]["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(g["result"]["history"][0]["role"], "ROLE_AGENT");
    let (_, g) = rpc(&s.url, Some("1.0"), "GetTask", json!({"id": id})).await;
    assert_eq!(g["result"]["history"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn send_message_v03_uses_legacy_shapes() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        None,
        "message/send",
        json!({"message": user_message_v03("hello")}),
    )
    .await;
    let r = &v["result"];
    assert_eq!(r["kind"], "task", "{v}");
    assert_eq!(r["status"]["state"], "completed");
    assert_eq!(r["status"]["message"]["role"], "agent");
    assert_eq!(r["status"]["message"]["kind"], "message");
    assert_eq!(
        r["artifacts"][0]["parts"][0],
        json!({"kind": "text", "text": "echo: hello"})
    );
    assert_eq!(r["history"][0]["role"], "user");
    let (_, g) = rpc(
        &s.url,
        Some("0.3"),
        "tasks/get",
        json!({"id": r["id"], "historyLength": 1}),
    )
    .await;
    assert_eq!(g["result"]["kind"], "task");
    assert_eq!(g["result"]["history"].as_array().map(Vec::len), Some(1));
    // blocking:false returns at once.
    let (_, v) = rpc(
        &s.url,
        None,
        "message/send",
        json!({"message": user_message_v03("gated x"),
        "configuration": {"blocking": false}}),
    )
    .await;
    assert_eq!(v["result"]["status"]["state"], "submitted", "{v}");
    let id = v["result"]["id"].as_str().unwrap_or_default().to_string();
    let (_, c) = rpc(&s.url, None, "tasks/cancel", json!({"id": id})).await;
    assert_eq!(c["result"]["status"]["state"], "canceled", "{c}");
}

#[tokio::test]
async fn message_reply_failure_and_multi_turn() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("reply yo")}),
    )
    .await;
    assert_eq!(
        v["result"]["message"]["parts"][0]["text"], "reply: yo",
        "{v}"
    );
    assert_eq!(v["result"]["message"]["role"], "ROLE_AGENT");
    let (_, v) = rpc(
        &s.url,
        None,
        "message/send",
        json!({"message": user_message_v03("reply yo")}),
    )
    .await;
    assert_eq!(v["result"]["kind"], "message", "{v}");

    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("fail hard")}),
    )
    .await;
    let t = &v["result"]["task"];
    assert_eq!(t["status"]["state"], "TASK_STATE_FAILED", "{v}");
    assert_eq!(t["status"]["message"]["parts"][0]["text"], "boom: hard");

    // A panicking executor fails its task alone; the server keeps serving.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("panic")}),
    )
    .await;
    let t = &v["result"]["task"];
    assert_eq!(t["status"]["state"], "TASK_STATE_FAILED", "{v}");
    assert_eq!(
        t["status"]["message"]["parts"][0]["text"],
        "executor panicked"
    );

    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("ask name")}),
    )
    .await;
    let t = &v["result"]["task"];
    assert_eq!(t["status"]["state"], "TASK_STATE_INPUT_REQUIRED", "{v}");
    let mut next = user_message("ask Bob");
    next["taskId"] = t["id"].clone();
    next["contextId"] = json!("wrong-context");
    let (_, e) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": next.clone()}),
    )
    .await;
    assert_eq!(e["error"]["code"], -32602, "{e}");
    next["contextId"] = t["contextId"].clone();
    let (_, v2) = rpc(&s.url, Some("1.0"), "SendMessage", json!({"message": next})).await;
    let t2 = &v2["result"]["task"];
    assert_eq!(t2["id"], t["id"]);
    assert_eq!(t2["status"]["state"], "TASK_STATE_COMPLETED", "{v2}");
    assert_eq!(t2["history"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn list_tasks_pages_newest_first() {
    let s = spawn(Setup::default()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, v) = rpc(
            &s.url,
            Some("1.0"),
            "SendMessage",
            json!({"message": user_message(&format!("m{i}"))}),
        )
        .await;
        ids.push(v["result"]["task"]["id"].clone());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (_, p1) = rpc(&s.url, Some("1.0"), "ListTasks", json!({"pageSize": 2})).await;
    let r = &p1["result"];
    assert_eq!(r["totalSize"], 3, "{p1}");
    assert_eq!(r["pageSize"], 2);
    assert_eq!(r["tasks"][0]["id"], ids[2]);
    assert_eq!(r["tasks"][1]["id"], ids[1]);
    assert!(r["tasks"][0].get("artifacts").is_none());
    let token = r["nextPageToken"].as_str().unwrap_or_default().to_string();
    assert!(!token.is_empty());
    let (_, p2) = rpc(
        &s.url,
        Some("1.0"),
        "ListTasks",
        json!({"pageSize": 2, "pageToken": token, "includeArtifacts": true}),
    )
    .await;
    let r = &p2["result"];
    assert_eq!(r["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["tasks"][0]["id"], ids[0]);
    assert_eq!(r["nextPageToken"], "");
    assert!(r["tasks"][0]["artifacts"].is_array());
    let (_, f) = rpc(
        &s.url,
        Some("1.0"),
        "ListTasks",
        json!({"status": "TASK_STATE_WORKING"}),
    )
    .await;
    assert_eq!(f["result"]["tasks"], json!([]));
    assert_eq!(f["result"]["nextPageToken"], "");
}

#[tokio::test]
async fn rest_binding_round_trip() {
    let s = spawn(Setup::default()).await;
    let c = reqwest::Client::new();
    let resp = c
        .post(format!("{}/message:send", s.url))
        .header("A2A-Version", "1.0")
        .json(&json!({"message": user_message("rest")}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.expect("json");
    let id = v["task"]["id"].as_str().expect("id").to_string();
    assert_eq!(v["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    let v: Value = c
        .get(format!("{}/tasks/{id}?historyLength=1", s.url))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v["history"].as_array().map(Vec::len), Some(1));
    let v: Value = c
        .get(format!("{}/tasks?pageSize=10", s.url))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(v["tasks"][0]["id"], id.as_str());
    assert_eq!(v["nextPageToken"], "");
    // Cancel a gated task over REST.
    let v: Value = c.post(format!("{}/message:send", s.url))
        .json(&json!({"message": user_message("gated r"), "configuration": {"returnImmediately": true}}))
        .send().await.expect("send").json().await.expect("json");
    let gid = v["task"]["id"].as_str().expect("id").to_string();
    wait_state(&s.url, &gid, "TASK_STATE_WORKING").await;
    let resp = c
        .post(format!("{}/tasks/{gid}:cancel", s.url))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["status"]["state"], "TASK_STATE_CANCELED");
    assert_eq!(
        s.executor.canceled.lock().expect("lock").as_slice(),
        std::slice::from_ref(&gid)
    );
    let resp = c
        .post(format!("{}/tasks/{gid}:cancel", s.url))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status().as_u16(), 400);
    let resp = c
        .get(format!("{}/tasks/{gid}/pushNotificationConfigs", s.url))
        .send()
        .await
        .expect("push");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        v["error"]["details"][0]["reason"],
        "PUSH_NOTIFICATION_NOT_SUPPORTED"
    );
    let resp = c
        .get(format!("{}/no/such/path", s.url))
        .send()
        .await
        .expect("404");
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn tasks_run_concurrently() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("gated a"),
        "configuration": {"returnImmediately": true}}),
    )
    .await;
    let gated = v["result"]["task"]["id"].as_str().expect("id").to_string();
    wait_state(&s.url, &gated, "TASK_STATE_WORKING").await;
    assert_eq!(s.server.active_tasks(), 1);
    // Another task completes while the gated one waits.
    let (_, v) = rpc(
        &s.url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("quick")}),
    )
    .await;
    assert_eq!(
        v["result"]["task"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );
    s.executor.release();
    let t = wait_state(&s.url, &gated, "TASK_STATE_COMPLETED").await;
    assert_eq!(t["artifacts"][0]["parts"][0]["text"], "echo: gated a");
}

#[tokio::test]
async fn agent_card_headers_and_swap() {
    let s = spawn(Setup::default()).await;
    let url = format!("{}/.well-known/agent-card.json", s.url);
    let resp = reqwest::get(&url).await.expect("card");
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert!(h["cache-control"]
        .to_str()
        .unwrap_or_default()
        .contains("max-age="));
    assert!(h.contains_key("last-modified"));
    let etag = h["etag"].to_str().expect("etag").to_string();
    let card: Value = resp.json().await.expect("json");
    assert_eq!(card["supportedInterfaces"][0]["protocolBinding"], "JSONRPC");
    assert_eq!(card["supportedInterfaces"][0]["protocolVersion"], "1.0");
    assert_eq!(card["supportedInterfaces"][0]["url"], s.url.as_str());
    assert_eq!(card["capabilities"]["pushNotifications"], false);
    assert_eq!(card["skills"][0]["id"], "echo");
    let resp = reqwest::Client::new()
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("card");
    assert_eq!(resp.status().as_u16(), 304);
    // Swap the card: a new ETag, the old one no longer matches.
    let mut next = (*s.server.card().get()).clone();
    next.description = "changed".into();
    s.server.card().set(next);
    let resp = reqwest::Client::new()
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("card");
    assert_eq!(resp.status().as_u16(), 200);
    assert_ne!(resp.headers()["etag"].to_str().unwrap_or_default(), etag);
    let card: Value = resp.json().await.expect("json");
    assert_eq!(card["description"], "changed");
}
