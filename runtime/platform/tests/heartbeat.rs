//! The heartbeat loop: schedule and pokes, outage survival, re-registration when forgotten,
//! the inbound-secret watch, and jitter over a run.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_platform::fake::FakePlatform;
use molecule_platform::{HeartbeatLoop, HeartbeatSource, HeartbeatStatus};
use serde_json::json;

struct Tasks(AtomicU32);
impl HeartbeatSource for Tasks {
    fn status(&self) -> HeartbeatStatus {
        let n = self.0.load(Ordering::SeqCst);
        HeartbeatStatus {
            active_tasks: n,
            current_task: (n > 0).then(|| "working".to_string()),
            ..HeartbeatStatus::default()
        }
    }
}

async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn beats_on_schedule_and_at_once_when_poked() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let tasks = Arc::new(Tasks(AtomicU32::new(0)));
    let hb = HeartbeatLoop::new(c, tasks.clone(), Duration::from_secs(3600)).spawn();
    let beats = || fake.calls_to("POST", "/registry/heartbeat");
    wait_until("first beat", Duration::from_secs(2), || beats().len() == 1).await;
    let first = &beats()[0].body;
    assert_eq!(first["workspace_id"], "ws-a");
    assert_eq!(first["active_tasks"], 0);
    assert!(first.get("runtime_state").is_none());
    // Task start: the poke sends at once, long before the hour is up.
    tasks.0.store(1, Ordering::SeqCst);
    hb.poke();
    wait_until("poked beat", Duration::from_secs(2), || beats().len() == 2).await;
    assert_eq!(beats()[1].body["active_tasks"], 1);
    assert_eq!(beats()[1].body["current_task"], "working");
    tasks.0.store(0, Ordering::SeqCst);
    hb.poker().poke();
    wait_until("task end beat", Duration::from_secs(2), || {
        beats().len() == 3
    })
    .await;
    // The platform records a beat when it arrives; the loop counts it sent once the answer
    // is back, a moment later (this test once read the count in between).
    wait_until("three beats acknowledged", Duration::from_secs(2), || {
        hb.stats().sent == 3
    })
    .await;
    assert_eq!(
        beats().len(),
        3,
        "no beat more than the schedule and the pokes"
    );
}

#[tokio::test]
async fn wedged_runtime_and_metadata_are_reported() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let src = Arc::new(|| HeartbeatStatus {
        error_rate: 0.5,
        sample_error: Some("model timeout".into()),
        wedged: true,
        runtime_metadata: Some(json!({"capabilities": ["a2a"], "idle_timeout_seconds": 600})),
        ..HeartbeatStatus::default()
    });
    let _hb = HeartbeatLoop::new(c, src, Duration::from_secs(3600)).spawn();
    wait_until("beat", Duration::from_secs(2), || {
        !fake.calls_to("POST", "/registry/heartbeat").is_empty()
    })
    .await;
    let b = &fake.calls_to("POST", "/registry/heartbeat")[0].body;
    assert_eq!(b["runtime_state"], "wedged");
    assert_eq!(b["error_rate"], 0.5);
    assert_eq!(b["sample_error"], "model timeout");
    assert_eq!(b["runtime_metadata"]["idle_timeout_seconds"], 600);
}

#[tokio::test]
async fn survives_an_outage_and_resumes_on_schedule() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let interval = Duration::from_millis(50);
    let hb = HeartbeatLoop::new(c, Arc::new(Tasks(AtomicU32::new(0))), interval).spawn();
    wait_until("two beats", Duration::from_secs(2), || hb.stats().sent >= 2).await;
    fake.set_down(true);
    let down_at = Instant::now();
    wait_until("failures during outage", Duration::from_secs(2), || {
        hb.stats().failed >= 3
    })
    .await;
    let sent_before = hb.stats().sent;
    fake.set_down(false);
    let up_at = Instant::now();
    wait_until("beats resume", Duration::from_secs(2), || {
        hb.stats().sent >= sent_before + 3
    })
    .await;
    // Nothing reached the platform while it was down; beats kept their schedule meanwhile.
    let accepted: Vec<Instant> = fake
        .calls_to("POST", "/registry/heartbeat")
        .iter()
        .filter(|c| c.status == 200)
        .map(|c| c.at)
        .collect();
    assert!(accepted.iter().all(|t| *t < down_at || *t >= up_at));
    let times = hb.stats().send_times;
    let during: Vec<_> = times
        .iter()
        .filter(|t| **t >= down_at && **t < up_at)
        .collect();
    assert!(during.len() >= 3, "attempts continued during the outage");
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= interval / 2,
            "no burst after the outage: {:?}",
            w[1] - w[0]
        );
    }
}

#[tokio::test]
async fn platform_errors_do_not_stop_the_loop() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    fake.fail_next(3);
    let hb = HeartbeatLoop::new(
        c,
        Arc::new(Tasks(AtomicU32::new(0))),
        Duration::from_millis(20),
    )
    .spawn();
    wait_until("recovery", Duration::from_secs(2), || hb.stats().sent >= 2).await;
    assert_eq!(hb.stats().failed, 3);
}

#[tokio::test]
async fn registers_again_when_the_platform_forgot_the_workspace() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = common::registered(&fake, "ws-a", dir.path()).await;
    let token = fake.token_of("ws-a").unwrap();
    let mut card = common::registration("ws-a", "https://new-url.example/").agent_card;
    card.name = "renamed".into();
    c.update_card(&card).await.unwrap();
    let hb = HeartbeatLoop::new(
        c.clone(),
        Arc::new(Tasks(AtomicU32::new(0))),
        Duration::from_millis(30),
    )
    .spawn();
    wait_until("beat", Duration::from_secs(2), || hb.stats().sent >= 1).await;
    fake.forget("ws-a");
    wait_until("re-register", Duration::from_secs(2), || {
        hb.stats().reregistered == 1
    })
    .await;
    wait_until("beats after re-register", Duration::from_secs(2), || {
        hb.stats().sent >= 3
    })
    .await;
    let regs = fake.calls_to("POST", "/registry/register");
    assert_eq!(regs.len(), 2);
    let rereg = &regs[1];
    assert_eq!(
        rereg.bearer(),
        Some(token.as_str()),
        "re-register authenticates"
    );
    assert_eq!(
        rereg.body["url"], "https://new-url.example/",
        "uses the latest card"
    );
    assert_eq!(rereg.body["agent_card"]["name"], "renamed");
    assert_eq!(
        fake.token_of("ws-a").as_deref(),
        Some(token.as_str()),
        "no new token"
    );
    assert!(fake
        .calls_to("POST", "/registry/heartbeat")
        .iter()
        .any(|c| c.status == 404));
}

#[tokio::test]
async fn inbound_secret_is_published_and_follows_rotation() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let hb = HeartbeatLoop::new(
        c,
        Arc::new(Tasks(AtomicU32::new(0))),
        Duration::from_millis(20),
    )
    .spawn();
    let mut rx = hb.inbound_secret();
    assert_eq!(*rx.borrow_and_update(), fake.inbound_secret_of("ws-a"));
    let new = fake.rotate_inbound_secret("ws-a").unwrap();
    tokio::time::timeout(Duration::from_secs(2), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rx.borrow().as_deref(), Some(new.as_str()));
}

/// Jitter over a run: 20 beats at a 200 ms interval; deviation of each send from its slot on
/// the grid started by the first beat. Printed for the record (`--nocapture`).
#[tokio::test]
async fn jitter_over_twenty_beats() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let interval = Duration::from_millis(200);
    let hb = HeartbeatLoop::new(c, Arc::new(Tasks(AtomicU32::new(0))), interval).spawn();
    wait_until("20 beats", Duration::from_secs(10), || {
        hb.stats().sent >= 20
    })
    .await;
    let report = |label: &str, times: &[Instant]| {
        let t0 = times[0];
        let mut dev: Vec<Duration> = times
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let ideal = t0 + interval * k as u32;
                if *t > ideal {
                    *t - ideal
                } else {
                    ideal - *t
                }
            })
            .collect();
        dev.sort();
        let (p50, max) = (dev[dev.len() / 2], *dev.last().unwrap());
        println!(
            "heartbeat jitter ({label}, {} beats @ {interval:?}): p50 {p50:?}, max {max:?}",
            times.len()
        );
        assert!(
            max < Duration::from_millis(100),
            "{label}: max deviation {max:?}"
        );
    };
    let sent: Vec<Instant> = hb.stats().send_times.into_iter().take(20).collect();
    report("loop send times", &sent);
    let received: Vec<Instant> = fake
        .calls_to("POST", "/registry/heartbeat")
        .iter()
        .take(20)
        .map(|c| c.at)
        .collect();
    report("platform receive times", &received);
}
