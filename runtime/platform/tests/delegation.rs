//! Two workspaces delegating through the fake platform's A2A proxy over real HTTP. The
//! workspaces here are minimal JSON-RPC servers (the host's tests run the real runtime);
//! each checks that the platform presents its inbound secret.

mod common;

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use molecule_platform::fake::FakePlatform;
use molecule_platform::{message_send, A2aOutcome};
use serde_json::{json, Value};

/// Starts a tiny A2A workspace answering `message/send` with "<name> got: <text>", refusing
/// calls without `Bearer <secret>`. Returns its URL.
async fn workspace(name: &'static str, secret: String) -> String {
    let app = Router::new().route(
        "/",
        post(move |h: HeaderMap, Json(req): Json<Value>| {
            let secret = secret.clone();
            async move {
                let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                if auth != format!("Bearer {secret}") {
                    return (axum::http::StatusCode::UNAUTHORIZED, Json(json!({"error": "bad secret"})));
                }
                let from = h.get("x-workspace-id").and_then(|v| v.to_str().ok()).unwrap_or("?").to_string();
                let text = req["params"]["message"]["parts"][0]["text"].as_str().unwrap_or("").to_string();
                let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": {
                    "kind": "message", "role": "agent", "messageId": "m1",
                    "parts": [{"kind": "text", "text": format!("{name} got: {text} (from {from})")}]}});
                (axum::http::StatusCode::OK, Json(answer))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

#[tokio::test]
async fn parent_delegates_to_child_through_the_platform() {
    let fake = FakePlatform::start().await;
    fake.set_parent("ws-child", Some("ws-pm"));
    let pm = common::registered(&fake, "ws-pm", tempfile::tempdir().unwrap().path()).await;
    let child_dir = tempfile::tempdir().unwrap();
    let child = common::builder(&fake, "ws-child", child_dir.path())
        .build()
        .unwrap();
    // The child learns its inbound secret from registration, then serves with it.
    child
        .register(&common::registration("ws-child", "http://placeholder/"))
        .await
        .unwrap();
    let secret = child.inbound_secret().borrow().clone().unwrap();
    let url = workspace("child", secret).await;
    let mut card = child.last_registration().unwrap().agent_card;
    card.url = url.clone();
    child.update_card(&card).await.unwrap();

    let peers = pm.peers().await.unwrap();
    let kid = peers
        .iter()
        .find(|p| p.parent_id.as_deref() == Some("ws-pm"))
        .expect("child listed");
    assert_eq!(
        (kid.id.as_str(), kid.url.as_str()),
        ("ws-child", url.as_str())
    );

    let out = pm
        .send_a2a("ws-child", &message_send("summarise Q1"))
        .await
        .unwrap();
    let A2aOutcome::Delivered(v) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        v["result"]["parts"][0]["text"],
        "child got: summarise Q1 (from ws-pm)"
    );

    // Round trip through the proxy (no model): p50 over 50 sends.
    let mut rtts = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        let out = pm
            .send_a2a("ws-child", &message_send(&format!("ping {i}")))
            .await
            .unwrap();
        rtts.push(t.elapsed());
        assert!(matches!(out, A2aOutcome::Delivered(_)));
    }
    rtts.sort();
    println!(
        "delegation round trip via fake platform proxy: p50 {:?}, max {:?}",
        rtts[25], rtts[49]
    );
    assert!(rtts[25] < Duration::from_millis(200));
}
