//! Startup steps 15–16: the initial prompt (marker written first, at most once) and the idle
//! loop (fires only when no task is active), both sent to ourselves through the platform proxy.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use molecule_platform::fake::FakePlatform;
use molecule_platform::{IdleLoop, InitialPrompt, InitialPromptOutcome, INITIAL_PROMPT_MARKER};

#[tokio::test]
async fn initial_prompt_is_sent_once_through_the_proxy_with_the_marker_written_first() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = common::registered(&fake, "ws-a", dir.path()).await;
    fake.echo_a2a("ws-a");
    let ip = InitialPrompt::new(dir.path(), "Introduce yourself to the team.");
    assert!(!ip.already_done());
    let marker = ip.marker().to_path_buf();
    let client = c.clone();
    let out = ip
        .run(|text| async move {
            assert!(
                marker.exists(),
                "marker must exist before the prompt is sent"
            );
            client.send_to_self(&text).await.map(|_| ())
        })
        .await
        .unwrap();
    assert_eq!(out, InitialPromptOutcome::Sent);
    let sent = fake.calls_to("POST", "/workspaces/ws-a/a2a");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["method"], "message/send");
    assert_eq!(
        sent[0].body["params"]["message"]["parts"][0]["text"],
        "Introduce yourself to the team."
    );
    // A restart does not repeat it.
    let again = InitialPrompt::new(dir.path(), "Introduce yourself to the team.");
    let out = again
        .run(|_| async { Err::<(), _>("must not be called") })
        .await
        .unwrap();
    assert_eq!(out, InitialPromptOutcome::AlreadyDone);
    assert_eq!(fake.calls_to("POST", "/workspaces/ws-a/a2a").len(), 1);
}

#[tokio::test]
async fn a_failed_initial_prompt_is_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let ip = InitialPrompt::new(dir.path(), "hello");
    let out = ip
        .run(|_| async { Err::<(), _>("platform down") })
        .await
        .unwrap();
    assert_eq!(
        out,
        InitialPromptOutcome::SendFailed("platform down".into())
    );
    assert!(dir.path().join(INITIAL_PROMPT_MARKER).exists());
    assert_eq!(
        ip.run(|_| async { Ok::<(), String>(()) }).await.unwrap(),
        InitialPromptOutcome::AlreadyDone
    );
}

#[tokio::test]
async fn idle_prompt_fires_only_while_no_task_is_active() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    fake.echo_a2a("ws-a");
    let busy = Arc::new(AtomicBool::new(true));
    let b = busy.clone();
    let idle = IdleLoop::new("Check your inbox.", Duration::from_millis(30)).spawn(
        move || !b.load(Ordering::SeqCst),
        move |text| {
            let c = c.clone();
            async move { c.send_to_self(&text).await.map(|_| ()) }
        },
    );
    tokio::time::sleep(Duration::from_millis(130)).await;
    assert_eq!(idle.fired(), 0, "a task is active: no idle prompt");
    assert!(idle.skipped() >= 2);
    assert!(fake.calls_to("POST", "/workspaces/ws-a/a2a").is_empty());
    busy.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(130)).await;
    let fired = idle.fired();
    assert!(fired >= 2, "fired {fired}");
    let sent = fake.calls_to("POST", "/workspaces/ws-a/a2a");
    assert_eq!(sent.len() as u64, fired);
    assert_eq!(
        sent[0].body["params"]["message"]["parts"][0]["text"],
        "Check your inbox."
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        fake.calls_to("POST", "/workspaces/ws-a/a2a").len() as u64,
        fired,
        "stops when dropped"
    );
}
