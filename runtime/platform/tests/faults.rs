//! Platform faults the client recovers from by itself: a platform restarted with empty state
//! (401 "register first") gets a new registration, with backoff while it keeps refusing; pokes
//! coalesce into about one beat per `min_gap`; activity dropped under a queue limit is counted
//! and summarised by one warning naming the right cause; `update-card` never blocks and
//! delivers the newest card once the platform answers.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use molecule_platform::fake::{FakePlatform, Fault};
use molecule_platform::{
    ActivityConfig, ActivityReporter, ActivityType, Backoff, CardUpdates, HeartbeatLoop,
    HeartbeatSource, HeartbeatStatus,
};

struct Idle(AtomicU32);
impl HeartbeatSource for Idle {
    fn status(&self) -> HeartbeatStatus {
        HeartbeatStatus {
            active_tasks: self.0.load(Ordering::SeqCst),
            ..HeartbeatStatus::default()
        }
    }
}

fn idle() -> Arc<Idle> {
    Arc::new(Idle(AtomicU32::new(0)))
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn platform_restarted_empty_answering_401_gets_a_new_registration() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = common::registered(&fake, "ws-a", dir.path()).await;
    let old_token = fake.token_of("ws-a").unwrap();
    let hb = HeartbeatLoop::new(c.clone(), idle(), Duration::from_millis(30)).spawn();
    let activity = ActivityReporter::spawn(c.clone(), ActivityConfig::default());
    wait_until("a beat", || hb.stats().sent >= 1).await;

    fake.forget_everything();
    activity.report(
        ActivityType::AgentLog,
        "sent while the platform had forgotten us",
    );
    wait_until("re-registration", || hb.stats().reregistered == 1).await;
    wait_until("beats after it", || {
        fake.calls_to("POST", "/registry/heartbeat")
            .last()
            .is_some_and(|c| c.status == 200)
    })
    .await;
    let refused = fake
        .calls_to("POST", "/registry/heartbeat")
        .iter()
        .filter(|c| c.status == 401)
        .count();
    assert!(refused >= 1, "the empty platform answered 401 first");
    let new_token = fake.token_of("ws-a").expect("a new token was minted");
    assert_ne!(new_token, old_token);
    let saved = std::fs::read_to_string(dir.path().join(".auth_token")).unwrap();
    assert_eq!(saved.trim(), new_token, "the new token is saved");
    // The report refused with 401 was kept and delivered after the re-registration.
    assert!(activity.flush(Duration::from_secs(5)).await);
    assert_eq!(fake.activities("ws-a").len(), 1);
    assert_eq!(activity.stats().rejected, 0);
}

#[tokio::test]
async fn reregistration_backs_off_while_the_platform_keeps_refusing() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let backoff = Backoff::REGISTER.scaled(Duration::from_millis(100));
    let hb = HeartbeatLoop::new(c, idle(), Duration::from_millis(10))
        .min_gap(Duration::from_millis(1))
        .register_backoff(backoff)
        .spawn();
    wait_until("a beat", || hb.stats().sent >= 1).await;
    fake.set_fault(Fault::Status(401));
    let refusing = Instant::now();
    while refusing.elapsed() < Duration::from_millis(1500) {
        hb.poke();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let registers = fake.calls_to("POST", "/registry/register").len() - 1;
    let beats = fake
        .calls_to("POST", "/registry/heartbeat")
        .iter()
        .filter(|c| c.status == 401)
        .count();
    // Waits of 100, 200, 400, 800 ms: at most 5 attempts in 1.5 s, however many beats.
    assert!(
        (1..=5).contains(&registers),
        "{registers} registrations during {beats} refused beats"
    );
    assert!(
        beats > registers * 5,
        "{beats} beats, {registers} registrations"
    );
    eprintln!("{registers} registrations during {beats} refused beats");
    let sent = hb.stats().sent;
    fake.set_fault(Fault::None);
    wait_until("beats accepted again", || hb.stats().sent > sent).await;
}

#[tokio::test]
async fn pokes_coalesce_into_about_one_beat_per_gap() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let gap = Duration::from_millis(200);
    let hb = HeartbeatLoop::new(c, idle(), Duration::from_secs(3600))
        .min_gap(gap)
        .spawn();
    wait_until("the first beat", || hb.stats().sent == 1).await;
    let started = Instant::now();
    let mut pokes = 0;
    while started.elapsed() < Duration::from_secs(1) {
        hb.poke();
        pokes += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let spent = started.elapsed();
    tokio::time::sleep(gap * 2).await;
    let beats = hb.stats().sent - 1;
    let most = (spent.as_millis() / gap.as_millis()) as u64 + 2;
    assert!(
        (1..=most).contains(&beats),
        "{pokes} pokes in {spent:?} gave {beats} beats (at most {most})"
    );
    let times = hb.stats().send_times;
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= gap - Duration::from_millis(5),
            "{:?}",
            w[1] - w[0]
        );
    }
}

/// Collects formatted log lines of the current thread (the test's runtime is single-threaded).
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);
impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Lines {
    fn matching(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

fn capture() -> (Lines, tracing::subscriber::DefaultGuard) {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (lines, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn drops_under_a_queue_limit_are_counted_with_one_warning_naming_the_cause() {
    let (logs, _guard) = capture();
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    // A healthy platform, just slower than the reports come.
    fake.set_fault(Fault::Delay(Duration::from_millis(150)));
    let config = ActivityConfig {
        capacity: 10,
        batch: 4,
        concurrency: 2,
        ..ActivityConfig::default()
    };
    let r = ActivityReporter::spawn(c, config);
    for i in 0..100 {
        r.report(ActivityType::TaskUpdate, format!("task {i}"));
    }
    wait_until("the first warning", || {
        !logs.matching("activity queue full").is_empty()
    })
    .await;
    for i in 100..200 {
        r.report(ActivityType::TaskUpdate, format!("task {i}"));
    }
    assert!(r.flush(Duration::from_secs(10)).await, "{:?}", r.stats());
    let s = r.stats();
    assert_eq!(s.submitted, 200);
    assert!(s.dropped >= 150, "{s:?}");
    assert_eq!(s.sent + s.dropped, 200, "{s:?}");
    assert_eq!(fake.activities("ws-a").len() as u64, s.sent);
    let warnings = logs.matching("activity queue full");
    assert_eq!(warnings.len(), 1, "one warning per period: {warnings:#?}");
    assert!(
        warnings[0].contains("faster than the platform accepted"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains("unreachable"), "{}", warnings[0]);
    assert!(
        logs.matching("activity reports failed").is_empty(),
        "no failure happened"
    );
}

#[tokio::test]
async fn drops_during_an_outage_name_the_failure() {
    let (logs, _guard) = capture();
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    fake.set_fault(Fault::Status(500));
    let config = ActivityConfig {
        capacity: 5,
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        ..ActivityConfig::default()
    };
    let r = ActivityReporter::spawn(c, config);
    for i in 0..30 {
        r.report(ActivityType::AgentLog, format!("log {i}"));
    }
    wait_until("the warning", || {
        !logs.matching("activity queue full").is_empty()
    })
    .await;
    let warning = &logs.matching("activity queue full")[0];
    assert!(
        warning.contains("while the platform was failing") && warning.contains("500"),
        "{warning}"
    );
    assert_eq!(
        logs.matching("activity reports failed").len(),
        1,
        "one per outage"
    );
    fake.set_fault(Fault::None);
    assert!(r.flush(Duration::from_secs(5)).await);
    let s = r.stats();
    assert_eq!((s.sent, s.dropped), (5, 25), "{s:?}");
}

#[tokio::test]
async fn card_updates_never_block_and_the_newest_card_arrives_after_a_hang() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    fake.set_fault(Fault::Hang);
    let updates = CardUpdates::spawn(c, Backoff::REGISTER.scaled(Duration::from_millis(10)));
    let mut card = common::registration("ws-a", "http://ws-a.invalid/").agent_card;
    for v in 1..=5 {
        card.version = format!("{v}.0.0");
        updates.send(card.clone()); // returns at once though the platform hangs
    }
    wait_until("a hung update-card", || fake.hanging_calls() == 1).await;
    fake.set_fault(Fault::None);
    wait_until("the newest card", || {
        fake.workspace("ws-a").unwrap()["agent_card"]["version"] == "5.0.0"
    })
    .await;
    let sent = fake.calls_to("POST", "/registry/update-card").len();
    assert!(sent <= 2, "changes coalesce: {sent} calls for 5 changes");
}
