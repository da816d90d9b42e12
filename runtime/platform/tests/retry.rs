//! Retry and backoff: registration against a platform that fails then recovers, 4xx fail-fast,
//! and the A2A proxy's rules (transport errors retried, 202 queued, 503 + Retry-After).

mod common;

use std::time::{Duration, Instant};

use molecule_platform::fake::FakePlatform;
use molecule_platform::{message_send, A2aOutcome, Backoff, PlatformClient};

#[tokio::test]
async fn register_retries_5xx_with_growing_delays_then_succeeds() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.fail_next(5);
    let c = common::builder(&fake, "ws-a", dir.path())
        .register_backoff(Backoff::REGISTER.scaled(Duration::from_millis(5)))
        .build()
        .unwrap();
    let resp = c
        .register(&common::registration("ws-a", "http://a/"))
        .await
        .unwrap();
    assert!(resp.auth_token.is_some());
    let calls = fake.calls_to("POST", "/registry/register");
    let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![503, 503, 503, 503, 503, 200]);
    // Waits 5, 10, 20, 40, 80 ms (min(2^n, 30) scaled to 5 ms units → capped at 150 ms).
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (n, gap) in gaps.iter().enumerate() {
        let nominal = Duration::from_millis(5 << n);
        assert!(*gap >= nominal, "gap {n} = {gap:?} < {nominal:?}");
    }
    assert!(gaps[4] > gaps[0] * 4, "delays grow: {gaps:?}");
}

#[tokio::test]
async fn register_gives_up_after_eight_attempts() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.fail_next(100);
    let c = common::builder(&fake, "ws-a", dir.path()).build().unwrap();
    let e = c
        .register(&common::registration("ws-a", "http://a/"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(fake.calls_to("POST", "/registry/register").len(), 8);
}

#[tokio::test]
async fn register_fails_fast_on_4xx() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.fail_next_with(3, 400);
    let c = PlatformClient::builder(fake.url(), "ws-a")
        .configs_dir(dir.path())
        .build()
        .unwrap(); // production delays: a retry would take ≥ 1 s
    let t = Instant::now();
    let e = c
        .register(&common::registration("ws-a", "http://a/"))
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_millis(900));
    assert_eq!(e.status(), Some(400));
    assert_eq!(fake.calls_to("POST", "/registry/register").len(), 1);
}

#[tokio::test]
async fn register_retries_transport_errors_until_the_platform_comes_up() {
    let fake = FakePlatform::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.set_down(true);
    let c = common::builder(&fake, "ws-a", dir.path())
        .register_backoff(Backoff::REGISTER.scaled(Duration::from_millis(20)))
        .build()
        .unwrap();
    let up = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.set_down(false);
    };
    let reg = common::registration("ws-a", "http://a/");
    let (r, ()) = tokio::join!(c.register(&reg), up);
    assert!(r.unwrap().auth_token.is_some());
}

#[tokio::test]
async fn unreachable_platform_error_names_the_url_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let c = PlatformClient::builder("http://127.0.0.1:9", "ws-a")
        .configs_dir(dir.path())
        .fast_retries()
        .build()
        .unwrap();
    let e = c
        .register(&common::registration("ws-a", "http://a/"))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        e.is_transport() && msg.contains("127.0.0.1:9") && msg.contains("PLATFORM_URL"),
        "{msg}"
    );
}

#[tokio::test]
async fn a2a_queued_is_not_a_failure() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    common::registered(&fake, "ws-b", tempfile::tempdir().unwrap().path()).await;
    fake.queue_a2a("ws-b");
    let out = c.send_a2a("ws-b", &message_send("hello")).await.unwrap();
    assert!(
        matches!(out, A2aOutcome::Queued { ref queue_id } if queue_id.starts_with("q-")),
        "{out:?}"
    );
    let call = &fake.calls_to("POST", "/workspaces/ws-b/a2a")[0];
    assert_eq!(call.header("x-workspace-id"), Some("ws-a"));
    assert_eq!(call.bearer(), fake.token_of("ws-a").as_deref());
    assert_eq!(call.body["params"]["message"]["parts"][0]["text"], "hello");
}

#[tokio::test]
async fn a2a_busy_honours_retry_after_once_then_reports_busy() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    common::registered(&fake, "ws-b", tempfile::tempdir().unwrap().path()).await;
    // Busy once, then echo: the single wait is enough.
    fake.echo_a2a("ws-b");
    fake.busy_a2a("ws-b", 1, Some(Duration::from_millis(30)));
    let out = c.send_a2a("ws-b", &message_send("x")).await.unwrap();
    assert!(matches!(out, A2aOutcome::Delivered(_)), "{out:?}");
    let calls = fake.calls_to("POST", "/workspaces/ws-b/a2a");
    assert_eq!(calls.len(), 2);
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(30));
    // Busy twice: reported busy after one wait.
    fake.clear_calls();
    fake.busy_a2a("ws-b", 5, Some(Duration::from_millis(10)));
    let out = c.send_a2a("ws-b", &message_send("x")).await.unwrap();
    assert_eq!(
        out,
        A2aOutcome::Busy {
            retry_after: Some(Duration::from_millis(10))
        }
    );
    assert_eq!(fake.calls_to("POST", "/workspaces/ws-b/a2a").len(), 2);
    // 503 without Retry-After: busy at once, no retry (only transport errors are retried).
    fake.clear_calls();
    fake.busy_a2a("ws-b", 1, None);
    let out = c.send_a2a("ws-b", &message_send("x")).await.unwrap();
    assert_eq!(out, A2aOutcome::Busy { retry_after: None });
    assert_eq!(fake.calls_to("POST", "/workspaces/ws-b/a2a").len(), 1);
}

#[tokio::test]
async fn a2a_retries_transport_errors_only() {
    let fake = FakePlatform::start().await;
    let c = common::registered(&fake, "ws-a", tempfile::tempdir().unwrap().path()).await;
    common::registered(&fake, "ws-b", tempfile::tempdir().unwrap().path()).await;
    fake.echo_a2a("ws-b");
    // A 5xx answer is not retried.
    fake.fail_next_with(1, 500);
    let e = c.send_a2a("ws-b", &message_send("x")).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(fake.calls_to("POST", "/workspaces/ws-b/a2a").len(), 1);
    // Transport errors are retried (5 tries, jittered 1–16 units) until the platform is back.
    let slow = common::builder(&fake, "ws-a", tempfile::tempdir().unwrap().path())
        .env_token(fake.token_of("ws-a"))
        .a2a_backoff(Backoff::A2A_PROXY.scaled(Duration::from_millis(20)))
        .build()
        .unwrap();
    fake.set_down(true);
    let up = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        fake.set_down(false);
    };
    let msg = message_send("x");
    let (out, ()) = tokio::join!(slow.send_a2a("ws-b", &msg), up);
    assert!(matches!(out.unwrap(), A2aOutcome::Delivered(_)));
    // Down for good: 5 tries, then the transport error.
    fake.set_down(true);
    let t = Instant::now();
    let e = c.send_a2a("ws-b", &message_send("x")).await.unwrap_err();
    assert!(e.is_transport(), "{e}");
    // Four waits were taken, each at least max(base, nominal / 2) of the 1 ms-scaled schedule
    // (jitter keeps 50–100 % of 1, 2, 4, 8 ms): 1 + 1 + 2 + 4 ms. Sleeps never end early, so
    // this lower bound holds on any machine (the old 15 ms assumed no jitter).
    assert!(t.elapsed() >= Duration::from_millis(8));
}
