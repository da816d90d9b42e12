//! Push delivery fairness (push/fair.rs): the tasks of one webhook that never answers fill
//! at most half of the delivery queue, so another task's notifications still go out;
//! and a webhook that keeps failing has its circuit opened after 5 failed attempts in a row,
//! after which its notifications are dropped without further requests.

mod common;
mod push_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use push_common::{hook, options, send_with_hook, server, silent_hook};

#[tokio::test]
async fn a_silent_webhook_does_not_starve_other_tasks() {
    let s = server(molecule_a2a::PushOptions {
        max_queue: 16,
        timeout: Duration::from_secs(60),
        ..options()
    })
    .await;
    // Six tasks whose webhook never answers: 4 notifications each, 24 in all, more than the
    // whole queue. Only half of it (8) may wait for that webhook; the rest are dropped.
    let silent = silent_hook().await;
    for _ in 0..6 {
        send_with_hook(&s.url, "hello", &silent, "TASK_STATE_COMPLETED").await;
    }
    assert_eq!(s.metrics().dropped, 16, "{:?}", s.metrics());
    // Another task with a working webhook still gets every update.
    let victim = hook(StatusCode::OK).await;
    send_with_hook(&s.url, "hello", &victim.url, "TASK_STATE_COMPLETED").await;
    victim.wait_for(4).await;
    let m = s.wait_metrics(|m| m.delivered >= 4).await;
    assert_eq!(m.delivered, 4, "{m:?}");
}

#[tokio::test]
async fn a_failing_webhook_is_short_circuited_after_five_failures_in_a_row() {
    let s = server(molecule_a2a::PushOptions {
        max_attempts: 3,
        backoff: Duration::from_millis(1),
        ..options()
    })
    .await;
    let failing = hook(StatusCode::SERVICE_UNAVAILABLE).await;
    // 4 notifications × 3 attempts would be 12 requests; the circuit opens at the 5th
    // failure in a row (2nd notification), the rest go without a request.
    send_with_hook(&s.url, "hello", &failing.url, "TASK_STATE_COMPLETED").await;
    let m = s.wait_metrics(|m| m.failed + m.short_circuited >= 4).await;
    assert_eq!(failing.posts.load(Ordering::SeqCst), 5, "{m:?}");
    assert_eq!((m.failed, m.short_circuited), (1, 3), "{m:?}");
    // A second task to the same webhook: no request while the circuit is open.
    send_with_hook(&s.url, "hello", &failing.url, "TASK_STATE_COMPLETED").await;
    let m = s.wait_metrics(|m| m.short_circuited >= 7).await;
    assert_eq!(failing.posts.load(Ordering::SeqCst), 5, "{m:?}");
    assert_eq!(m.delivered, 0);
}
