//! Payload shapes and auth headers of every platform call, against the fake platform.

mod common;

use std::collections::BTreeMap;

use molecule_platform::fake::FakePlatform;
use molecule_platform::{
    Activity, ActivityType, ConfigurationStatus, Heartbeat, MemoryScope, NewMemory,
};
use serde_json::json;

#[tokio::test]
async fn register_sends_the_contract_body_and_persists_the_minted_token() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = common::builder(&fake, "ws-a", dir.path()).build().unwrap();
    let resp = c
        .register(&common::registration("ws-a", "http://a:8000/"))
        .await
        .unwrap();
    assert_eq!(resp.status, "registered");
    let token = resp
        .auth_token
        .clone()
        .expect("first register mints a token");
    assert_eq!(token.len(), 64, "256-bit hex token");
    assert_eq!(fake.token_of("ws-a").as_deref(), Some(token.as_str()));
    assert_eq!(c.tokens().get().as_deref(), Some(token.as_str()));
    assert_eq!(*c.inbound_secret().borrow(), fake.inbound_secret_of("ws-a"));

    let call = &fake.calls_to("POST", "/registry/register")[0];
    let b = &call.body;
    assert_eq!(b["id"], "ws-a");
    assert_eq!(b["url"], "http://a:8000/");
    let card = &b["agent_card"];
    for k in [
        "name",
        "description",
        "version",
        "url",
        "skills",
        "capabilities",
    ] {
        assert!(card.get(k).is_some(), "agent_card.{k} missing: {card}");
    }
    assert_eq!(
        card["skills"][0],
        json!({"id": "json-query", "name": "JSON query", "description": "queries JSON", "tags": ["json"]})
    );
    assert_eq!(
        card["capabilities"],
        json!({"streaming": true, "pushNotifications": true})
    );
    assert_eq!(card["configuration_status"], "ready");
    assert!(card.get("configuration_error").is_none());
    assert_eq!(call.header("x-workspace-id"), Some("ws-a"));
    assert_eq!(
        call.bearer(),
        None,
        "no token is known before the first register"
    );

    // Re-registering sends the token and gets no new one.
    let again = c
        .register(&common::registration("ws-a", "http://a:8000/"))
        .await
        .unwrap();
    assert!(again.auth_token.is_none());
    let call = fake.calls_to("POST", "/registry/register").pop().unwrap();
    assert_eq!(call.bearer(), Some(token.as_str()));
}

#[tokio::test]
async fn not_configured_card_carries_the_error() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = common::builder(&fake, "ws-a", dir.path()).build().unwrap();
    let mut reg = common::registration("ws-a", "http://a/");
    reg.agent_card.configuration_status = ConfigurationStatus::NotConfigured;
    reg.agent_card.configuration_error = Some("missing ANTHROPIC_API_KEY".into());
    c.register(&reg).await.unwrap();
    let card = &fake.calls_to("POST", "/registry/register")[0].body["agent_card"];
    assert_eq!(card["configuration_status"], "not_configured");
    assert_eq!(card["configuration_error"], "missing ANTHROPIC_API_KEY");
}

#[tokio::test]
async fn every_call_after_register_carries_bearer_and_workspace_id() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let parent = common::registered(&fake, "ws-pm", tempfile::tempdir().unwrap().path()).await;
    fake.set_parent("ws-a", Some("ws-pm"));
    fake.set_parent("ws-b", Some("ws-pm"));
    let c = common::registered(&fake, "ws-a", dir.path()).await;
    common::registered(&fake, "ws-b", tempfile::tempdir().unwrap().path()).await;
    fake.set_secrets(
        "ws-a",
        BTreeMap::from([("OPENAI_API_KEY".into(), "sk-test".into())]),
    );
    fake.echo_a2a("ws-b");
    let token = c.tokens().get().unwrap();

    let hb = c
        .heartbeat(&Heartbeat {
            workspace_id: "ws-a".into(),
            error_rate: 0.25,
            sample_error: "boom".into(),
            active_tasks: 2,
            current_task: "summarise".into(),
            uptime_seconds: 7,
            runtime_state: Some("wedged".into()),
            runtime_metadata: Some(json!({"capabilities": ["a2a"], "idle_timeout_seconds": 60})),
        })
        .await
        .unwrap();
    assert_eq!(hb.status, "ok");
    let mut card = common::registration("ws-a", "https://tunnel.example/a2a").agent_card;
    card.skills.clear();
    c.update_card(&card).await.unwrap();
    assert_eq!(
        c.last_registration().unwrap().url,
        "https://tunnel.example/a2a"
    );
    let d = c.discover("ws-b").await.unwrap();
    assert_eq!(
        (d.id.as_str(), d.url.as_str()),
        ("ws-b", "http://ws-b.invalid/")
    );
    let mut peers: Vec<_> = c
        .peers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.parent_id))
        .collect();
    peers.sort();
    assert_eq!(
        peers,
        vec![
            ("ws-b".into(), Some("ws-pm".into())),
            ("ws-pm".into(), None)
        ]
    );
    let pm_peers = parent.peers().await.unwrap();
    assert_eq!(
        pm_peers
            .iter()
            .filter(|p| p.parent_id.as_deref() == Some("ws-pm"))
            .count(),
        2,
        "coordinator sees its children"
    );
    let info = c.workspace("ws-a").await.unwrap();
    assert_eq!(info.parent_id.as_deref(), Some("ws-pm"));
    c.post_activity(
        &Activity::new(ActivityType::A2aSend, "asked b")
            .target("ws-b")
            .method("message/send")
            .status("ok")
            .duration(std::time::Duration::from_millis(12)),
    )
    .await
    .unwrap();
    let created = c
        .commit_memory(&NewMemory {
            content: "the sky is blue".into(),
            scope: MemoryScope::Team,
            namespace: None,
        })
        .await
        .unwrap();
    assert_eq!(created.scope, MemoryScope::Team);
    let found = c
        .search_memories("SKY", Some(MemoryScope::Team), Some(5))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].content, "the sky is blue");
    assert!(c
        .search_memories("rain", None, None)
        .await
        .unwrap()
        .is_empty());
    let secrets = c.fetch_secrets().await.unwrap();
    assert_eq!(secrets.get("OPENAI_API_KEY"), Some("sk-test"));
    assert_eq!(c.secrets().get("OPENAI_API_KEY"), Some("sk-test"));
    assert!(
        !format!("{secrets:?}").contains("sk-test"),
        "Debug never shows secret values"
    );
    assert!(std::env::var("OPENAI_API_KEY")
        .map(|v| v != "sk-test")
        .unwrap_or(true));
    c.notify("done", &[json!({"name": "report.md"})])
        .await
        .unwrap();
    let sent = c
        .send_a2a("ws-b", &molecule_platform::message_send("hi"))
        .await
        .unwrap();
    assert!(
        matches!(sent, molecule_platform::A2aOutcome::Delivered(ref v) if v["result"]["echo"]["method"] == "message/send")
    );

    let calls: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.header("x-workspace-id") == Some("ws-a"))
        .collect();
    assert!(calls.len() >= 13, "{} calls", calls.len());
    for call in calls.iter().skip(1) {
        assert_eq!(
            call.bearer(),
            Some(token.as_str()),
            "{} {} without the token",
            call.method,
            call.path
        );
        assert!(
            call.status < 300,
            "{} {} → {}",
            call.method,
            call.path,
            call.status
        );
    }

    // Shapes.
    let hb = &fake.calls_to("POST", "/registry/heartbeat")[0].body;
    assert_eq!(
        hb,
        &json!({"workspace_id": "ws-a", "error_rate": 0.25, "sample_error": "boom", "active_tasks": 2, "current_task": "summarise", "uptime_seconds": 7, "runtime_state": "wedged", "runtime_metadata": {"capabilities": ["a2a"], "idle_timeout_seconds": 60}})
    );
    let uc = &fake.calls_to("POST", "/registry/update-card")[0].body;
    assert_eq!(uc["workspace_id"], "ws-a");
    assert_eq!(uc["agent_card"]["url"], "https://tunnel.example/a2a");
    assert_eq!(
        fake.workspace("ws-a").unwrap()["url"],
        "https://tunnel.example/a2a"
    );
    let act = &fake.activities("ws-a")[0];
    let keys: Vec<&str> = act
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "activity_type",
        "source_id",
        "target_id",
        "method",
        "summary",
        "status",
        "error_detail",
        "duration_ms",
        "metadata",
    ] {
        assert!(keys.contains(&k), "activity misses {k}: {act}");
    }
    assert_eq!(
        (
            act["activity_type"].as_str(),
            act["source_id"].as_str(),
            act["duration_ms"].as_u64()
        ),
        (Some("a2a_send"), Some("ws-a"), Some(12))
    );
    let mem = &fake.calls_to("POST", "/workspaces/ws-a/memories")[0];
    assert_eq!(
        mem.body,
        json!({"content": "the sky is blue", "scope": "TEAM"})
    );
    assert_eq!(mem.status, 201);
    let q = fake.calls_to("GET", "/workspaces/ws-a/memories")[0]
        .query
        .clone();
    assert_eq!(q.as_deref(), Some("q=SKY&scope=TEAM&limit=5"));
    assert_eq!(
        fake.notifications("ws-a")[0],
        json!({"message": "done", "attachments": [{"name": "report.md"}]})
    );
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_message_that_says_what_to_fix() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    common::registered(&fake, "ws-a", dir.path()).await;
    let other = tempfile::tempdir().unwrap();
    let c = common::builder(&fake, "ws-a", other.path())
        .env_token(Some("not-the-token".into()))
        .build()
        .unwrap();
    let e = c.peers().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let msg = e.to_string();
    assert!(
        msg.contains(".auth_token") && msg.contains("MOLECULE_WORKSPACE_TOKEN"),
        "{msg}"
    );
    assert!(!msg.contains(&fake.token_of("ws-a").unwrap()));
}

#[tokio::test]
async fn external_workspace_is_created_registered_and_pulls_secrets() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"name": "remote", "runtime": "external", "external": true, "url": "https://remote.example/a2a", "parent_id": "ws-pm"});
    let id = molecule_platform::create_workspace(&fake.url(), fake.admin_token(), &body)
        .await
        .unwrap();
    let create = &fake.calls_to("POST", "/workspaces")[0];
    assert_eq!(create.bearer(), Some(fake.admin_token()));
    assert_eq!(create.body, body);
    let c = common::builder(&fake, &id, dir.path()).build().unwrap();
    let resp = c
        .register_external(
            fake.admin_token(),
            &common::registration(&id, "https://remote.example/a2a"),
        )
        .await
        .unwrap();
    let token = resp.auth_token.clone().unwrap();
    let on_disk = std::fs::read_to_string(dir.path().join(".auth_token")).unwrap();
    assert_eq!(on_disk.trim(), token);
    fake.set_secrets(
        &id,
        BTreeMap::from([("ANTHROPIC_API_KEY".into(), "sk-ant".into())]),
    );
    assert_eq!(
        c.fetch_secrets().await.unwrap().get("ANTHROPIC_API_KEY"),
        Some("sk-ant")
    );
    assert_eq!(
        c.workspace(&id).await.unwrap().parent_id.as_deref(),
        Some("ws-pm")
    );
    // A restarted process finds the token on disk and never needs the admin token again.
    let again = common::builder(&fake, &id, dir.path()).build().unwrap();
    let r = again
        .register_external(
            "wrong-admin",
            &common::registration(&id, "https://remote.example/a2a"),
        )
        .await
        .unwrap();
    assert!(r.auth_token.is_none());
    assert_eq!(
        fake.calls_to("POST", "/registry/register")
            .pop()
            .unwrap()
            .bearer(),
        Some(token.as_str())
    );
    let bad = molecule_platform::create_workspace(&fake.url(), "nope", &body)
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(401));
}
