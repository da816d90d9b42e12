//! Activity reports: never blocking, queued and retried through an outage, oldest dropped
//! with a counter when the queue overflows, 4xx answers not retried.

mod common;

use std::time::{Duration, Instant};

use molecule_platform::fake::FakePlatform;
use molecule_platform::{Activity, ActivityConfig, ActivityReporter, ActivityType};

fn fast(capacity: usize) -> ActivityConfig {
    ActivityConfig {
        capacity,
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        ..ActivityConfig::default()
    }
}

#[tokio::test]
async fn reports_are_delivered_in_order_with_contract_fields() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let r = ActivityReporter::spawn(c, fast(100));
    r.report(ActivityType::TaskUpdate, "task t1 working");
    r.submit(Activity::new(ActivityType::MemoryWrite, "[LOCAL] the sky is blue").status("ok"));
    r.submit(Activity::new(ActivityType::Error, "tool failed").error("json-query: bad pointer"));
    assert!(r.flush(Duration::from_secs(2)).await);
    let got = fake.activities("ws-a");
    let types: Vec<&str> = got
        .iter()
        .map(|a| a["activity_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["task_update", "memory_write", "error"]);
    assert_eq!(got[1]["summary"], "[LOCAL] the sky is blue");
    assert_eq!(got[2]["error_detail"], "json-query: bad pointer");
    assert_eq!(r.stats().sent, 3);
}

#[tokio::test]
async fn outage_queues_drops_oldest_and_delivers_the_rest_after() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let r = ActivityReporter::spawn(c, fast(10));
    fake.set_down(true);
    let t = Instant::now();
    for i in 0..25 {
        r.report(ActivityType::AgentLog, format!("log {i}"));
    }
    assert!(
        t.elapsed() < Duration::from_millis(20),
        "report never blocks: {:?}",
        t.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    let s = r.stats();
    assert!(s.queued <= 10 && s.dropped >= 15, "{s:?}");
    assert_eq!(s.sent, 0);
    fake.set_down(false);
    assert!(r.flush(Duration::from_secs(3)).await, "{:?}", r.stats());
    let got: Vec<String> = fake
        .activities("ws-a")
        .iter()
        .map(|a| a["summary"].as_str().unwrap().to_string())
        .collect();
    assert!(got.len() <= 11, "{got:?}");
    assert_eq!(got.last().unwrap(), "log 24", "newest kept");
    assert!(
        !got.contains(&"log 0".to_string()) || got.len() == 11,
        "oldest dropped: {got:?}"
    );
    let s = r.stats();
    assert_eq!(s.sent + s.dropped, 25, "{s:?}");
}

#[tokio::test]
async fn refused_reports_are_not_retried() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    let r = ActivityReporter::spawn(c, fast(10));
    fake.fail_next_with(1, 422);
    r.report(ActivityType::AgentLog, "refused");
    r.report(ActivityType::AgentLog, "accepted");
    assert!(r.flush(Duration::from_secs(2)).await);
    let s = r.stats();
    assert_eq!((s.sent, s.rejected), (1, 1));
    assert_eq!(fake.calls_to("POST", "/workspaces/ws-a/activity").len(), 2);
}
