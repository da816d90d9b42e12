//! Tests for `register.rs`: `PARENT_ID` survives a platform that is down at the first
//! registration or forgets the workspace, and a parent the platform changes later is kept
//! (the real client against the fake platform, retries shrunk to milliseconds).

use std::time::Duration;

use molecule_platform::fake::FakePlatform;
use molecule_platform::{AgentCard, PlatformClient, RegisterRequest};

use super::{register_under_parent, settle_parent};

/// A client of provisioned `ws-a` and a request for it.
fn client_of(platform: &FakePlatform, token: String) -> (PlatformClient, RegisterRequest) {
    let client = PlatformClient::builder(platform.url(), "ws-a")
        .env_token(Some(token))
        .fast_retries()
        .build()
        .expect("client");
    let request = RegisterRequest {
        id: "ws-a".into(),
        url: "http://127.0.0.1:9/".into(),
        agent_card: AgentCard::default(),
        parent_id: None,
    };
    (client, request)
}

/// Boot while the platform is down, then the platform comes back and the heartbeat loop
/// re-registers (`reregister`), then the pending parent settles. Returns the saved body's
/// parent.
async fn down_at_boot(platform: &FakePlatform, token: String) -> Option<String> {
    let (client, mut request) = client_of(platform, token);
    platform.set_down(true);
    let pending = register_under_parent(&client, &mut request, None, Some("ws-pm")).await;
    assert!(pending, "an unreadable record leaves the parent pending");
    assert!(!client.has_registered());
    platform.set_down(false);
    client.reregister().await.expect("re-registration");
    let settle = settle_parent(&client, Some("ws-pm"), Duration::from_millis(5));
    tokio::time::timeout(Duration::from_secs(20), settle)
        .await
        .expect("the parent settles once the platform answers");
    client.last_registration().and_then(|r| r.parent_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_id_is_kept_when_the_platform_is_down_at_the_first_registration() {
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-a", "A", None);
    let saved = down_at_boot(&platform, token).await;
    assert_eq!(saved.as_deref(), Some("ws-pm"));
    assert_eq!(
        platform.workspace("ws-a").expect("record")["parent_id"],
        "ws-pm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_parent_still_wins_after_the_platform_was_down() {
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-a", "A", Some("ws-real"));
    let saved = down_at_boot(&platform, token).await;
    assert_eq!(saved.as_deref(), Some("ws-real"));
    assert_eq!(
        platform.workspace("ws-a").expect("record")["parent_id"],
        "ws-real"
    );
}

/// The last registration body the platform received.
fn last_sent(platform: &FakePlatform) -> serde_json::Value {
    let calls = platform.calls_to("POST", "/registry/register");
    calls.last().expect("a registration").body.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reregistration_after_the_platform_forgot_everything_sends_parent_id() {
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-a", "A", Some("ws-pm"));
    let (client, mut request) = client_of(&platform, token);
    let pending = register_under_parent(&client, &mut request, None, Some("ws-pm")).await;
    assert!(!pending);
    assert_eq!(
        client
            .last_registration()
            .and_then(|r| r.parent_id)
            .as_deref(),
        Some("ws-pm"),
        "the saved body carries the effective parent"
    );
    platform.forget_everything();
    client.reregister().await.expect("re-registration");
    assert_eq!(last_sent(&platform)["parent_id"], "ws-pm");
    assert_eq!(
        platform.workspace("ws-a").expect("record")["parent_id"],
        "ws-pm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_the_platform_changed_later_is_not_overwritten() {
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-a", "A", None);
    let (client, mut request) = client_of(&platform, token);
    register_under_parent(&client, &mut request, None, Some("ws-pm")).await;
    assert_eq!(last_sent(&platform)["parent_id"], "ws-pm");
    platform.set_parent("ws-a", Some("ws-moved"));
    platform.forget("ws-a");
    client.reregister().await.expect("re-registration");
    assert_eq!(last_sent(&platform)["parent_id"], "ws-moved");
    assert_eq!(
        platform.workspace("ws-a").expect("record")["parent_id"],
        "ws-moved"
    );
}
