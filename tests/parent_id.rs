//! `PARENT_ID` against the fake Molecule platform: honoured as the workspace's parent where
//! the platform does not say otherwise — sent in the registration when the platform's record
//! names no parent (the parent then sees the workspace as its child, which makes it a
//! coordinator), not sent when the platform's `GET /workspaces/{id}` names another (the
//! platform's wins, and is what the registration carries), sent again when the platform
//! restarted and forgot the workspace, sent when an external workspace is created, and refused
//! at boot when malformed.

use std::time::Duration;

use molecule_platform::fake::FakePlatform;
use molecule_tests::{boot_config_env, repo_root, try_boot_config_env};
use serde_json::Value;

fn echo_yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: {name}\nruntime: {}\nmodel: scripted:demo\n",
        adapter.display()
    )
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(50));
    molecule_tests::wait_until(what, within, every, done).await;
}

/// The first registration body the platform received.
async fn first_registration(platform: &FakePlatform) -> Value {
    wait_for("registration", || {
        !platform.calls_to("POST", "/registry/register").is_empty()
    })
    .await;
    platform.calls_to("POST", "/registry/register")[0]
        .body
        .clone()
}

/// `GET /registry/{id}/peers` as workspace `id`.
async fn peers_of(platform: &FakePlatform, id: &str, token: &str) -> Vec<Value> {
    let peers: Value = reqwest::Client::new()
        .get(format!("{}/registry/{id}/peers", platform.url()))
        .header("X-Workspace-ID", id)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    peers.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_id_is_registered_when_the_platform_names_no_parent() {
    let platform = FakePlatform::start().await;
    let pm_token = platform.provision("ws-pm", "PM", None);
    let token = platform.provision("ws-child", "Child", None);
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-child"),
        ("MOLECULE_WORKSPACE_TOKEN", token.as_str()),
        ("PARENT_ID", "ws-pm"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("Child"), &env, true).await;
    let register = first_registration(&platform).await;
    assert_eq!(register["parent_id"], "ws-pm", "{register}");
    // The platform was asked first, and named no parent.
    assert!(!platform.calls_to("GET", "/workspaces/ws-child").is_empty());
    let record = platform.workspace("ws-child").unwrap();
    assert_eq!(record["parent_id"], "ws-pm");
    // The parent now sees its child: it is a coordinator.
    let peers = peers_of(&platform, "ws-pm", &pm_token).await;
    let child = peers.iter().find(|p| p["id"] == "ws-child");
    assert_eq!(
        child.map(|p| &p["parent_id"]),
        Some(&Value::from("ws-pm")),
        "{peers:?}"
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platforms_parent_wins_over_parent_id() {
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-child", "Child", Some("ws-real"));
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-child"),
        ("MOLECULE_WORKSPACE_TOKEN", token.as_str()),
        ("PARENT_ID", "ws-other"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("Child"), &env, true).await;
    let register = first_registration(&platform).await;
    assert_eq!(register["parent_id"], "ws-real", "{register}");
    let record = platform.workspace("ws-child").unwrap();
    assert_eq!(record["parent_id"], "ws-real");
    ws.shutdown().await.unwrap();
}

/// The platform's record names the same parent as `PARENT_ID`, then the platform restarts
/// with empty state: the re-registration (the heartbeat loop's) still carries the parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_id_survives_a_platform_that_forgot_everything() {
    let platform = FakePlatform::start().await;
    let token = platform.provision("ws-child", "Child", Some("ws-pm"));
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-child"),
        ("MOLECULE_WORKSPACE_TOKEN", token.as_str()),
        ("PARENT_ID", "ws-pm"),
    ];
    let yaml = format!(
        "{}observability: {{heartbeat_interval_seconds: 5}}\n",
        echo_yaml("Child")
    );
    let ws = boot_config_env(dir.path(), &yaml, &env, true).await;
    let register = first_registration(&platform).await;
    assert_eq!(register["parent_id"], "ws-pm", "{register}");
    platform.forget_everything();
    platform.clear_calls();
    wait_for("a re-registration", || {
        platform.workspace("ws-child").is_some()
    })
    .await;
    let again = &platform.calls_to("POST", "/registry/register")[0].body;
    assert_eq!(again["parent_id"], "ws-pm", "{again}");
    assert_eq!(
        platform.workspace("ws-child").unwrap()["parent_id"],
        "ws-pm"
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_workspace_is_created_under_parent_id() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let admin = platform.admin_token().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("MOLECULE_ADMIN_TOKEN", admin.as_str()),
        ("MOLECULE_WORKSPACE_URL", "https://tunnel.example.test"),
        ("PARENT_ID", "ws-pm"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("Outside"), &env, true).await;
    let created = &platform.calls_to("POST", "/workspaces")[0];
    assert_eq!(created.body["parent_id"], "ws-pm", "{}", created.body);
    let id = std::fs::read_to_string(dir.path().join(".molecule/.workspace_id")).unwrap();
    assert_eq!(platform.workspace(id.trim()).unwrap()["parent_id"], "ws-pm");
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_parent_id_stops_boot_naming_it() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    for (parent, why) in [("ws pm", "not a workspace id"), ("ws-a", "own")] {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("PLATFORM_URL", url.as_str()),
            ("WORKSPACE_ID", "ws-a"),
            ("PARENT_ID", parent),
        ];
        let err = match try_boot_config_env(dir.path(), &echo_yaml("A"), &env).await {
            Ok(_) => panic!("PARENT_ID `{parent}` was accepted"),
            Err(err) => format!("{err:#}"),
        };
        assert!(err.contains("PARENT_ID") && err.contains(why), "{err}");
    }
    assert!(platform.calls_to("POST", "/registry/register").is_empty());
}

/// Boots `ws-new` (no token yet, so the platform's record is unreadable before registering)
/// with `PARENT_ID=ws-pm`; returns the registration bodies once `count` arrived.
async fn boot_without_token(platform: &FakePlatform, count: usize) -> Vec<Value> {
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-new"),
        ("PARENT_ID", "ws-pm"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("New"), &env, true).await;
    wait_for("registrations", || {
        platform.calls_to("POST", "/registry/register").len() >= count
    })
    .await;
    // The parent is resolved before the heartbeat loop starts: once a beat is in, no
    // registration for the parent is still to come.
    wait_for("a heartbeat", || {
        !platform.calls_to("POST", "/registry/heartbeat").is_empty()
    })
    .await;
    ws.shutdown().await.unwrap();
    let calls = platform.calls_to("POST", "/registry/register");
    calls.into_iter().map(|c| c.body).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_record_is_read_after_registering() {
    let platform = FakePlatform::start().await;
    let bodies = boot_without_token(&platform, 2).await;
    assert!(bodies[0].get("parent_id").is_none(), "{bodies:?}");
    assert_eq!(bodies[1]["parent_id"], "ws-pm", "{bodies:?}");
    assert_eq!(platform.workspace("ws-new").unwrap()["parent_id"], "ws-pm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_platforms_parent_still_wins() {
    let platform = FakePlatform::start().await;
    platform.set_parent("ws-new", Some("ws-real"));
    let bodies = boot_without_token(&platform, 1).await;
    assert!(
        bodies.iter().all(|b| b.get("parent_id").is_none()),
        "{bodies:?}"
    );
    assert_eq!(
        platform.workspace("ws-new").unwrap()["parent_id"],
        "ws-real"
    );
}
