//! The session against an in-memory WebSocket (`tokio::io::duplex`, a small buffer, so the
//! test knows when the socket and the out queue are full): a `cancel` is answered by `error`
//! `cancelled`, nothing of the cancelled request follows that answer (not even frames it had
//! already queued), and the id then serves a new request cleanly. A flood of bad frames logs
//! at most `MAX_SESSION_WARNINGS` warnings. An id reused the moment its `end` is read is
//! answered.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use molecule_platform::relay_frame::{decode_body, Frame, CANCELLED};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::session::{serve, MAX_SESSION_WARNINGS, OUT_QUEUE};
use super::{RelayOptions, RelayStats};

type Platform = WebSocketStream<tokio::io::DuplexStream>;

fn request(id: &str, path: &str) -> Message {
    let frame = Frame::Request {
        id: id.into(),
        method: "GET".into(),
        path: path.into(),
        headers: Default::default(),
        text: None,
        b64: None,
    };
    Message::Text(frame.to_text().into())
}

/// The next frame the workspace sent (20 s at most: a missing frame fails the test).
async fn next_frame(platform: &mut Platform) -> Frame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), platform.next())
            .await
            .expect("a frame within 20 s")
            .expect("the socket is open")
            .expect("a WebSocket message");
        if let Message::Text(text) = msg {
            return Frame::parse(text.as_str()).expect("a valid frame");
        }
    }
}

fn body_text(frame: &Frame) -> Option<String> {
    let Frame::Body { text, b64, .. } = frame else {
        return None;
    };
    let bytes = decode_body(text.as_deref(), b64.as_deref()).expect("a body");
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `/flood` streams 1 KiB pieces of `o` for ever, counting them; `/second` answers "second".
fn router(produced: Arc<AtomicUsize>) -> Router {
    let flood = move || {
        let produced = produced.clone();
        async move {
            let pieces = futures_util::stream::repeat_with(move || {
                produced.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(Bytes::from_static(&[b'o'; 1024]))
            });
            Body::from_stream(pieces)
        }
    };
    Router::new()
        .route("/flood", get(flood))
        .route("/second", get(|| async { "second" }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_a_cancelled_request_follows_its_cancel_answer() {
    let produced = Arc::new(AtomicUsize::new(0));
    let router = router(produced.clone());
    let (a, b) = tokio::io::duplex(16 << 10);
    let workspace = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let mut platform = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    let session = tokio::spawn(async move {
        let stats = RelayStats::default();
        serve(workspace, &router, &RelayOptions::default(), &stats).await
    });
    platform.send(request("r1", "/flood")).await.unwrap();
    // Read nothing until the out queue is full: the socket holds ~17 pieces, so 200 produced
    // means at least ~180 frames of r1 wait in the queue.
    let full = OUT_QUEUE.min(200);
    for _ in 0..2000 {
        if produced.load(Ordering::SeqCst) >= full {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        produced.load(Ordering::SeqCst) >= full,
        "the flood did not fill the queue"
    );
    platform
        .send(Message::Text(
            Frame::Cancel { id: "r1".into() }.to_text().into(),
        ))
        .await
        .unwrap();
    // Frames of r1 sent before the cancel was read come first; then the answer to the cancel.
    let mut before = 0;
    loop {
        match next_frame(&mut platform).await {
            Frame::Error { id, message } if id == "r1" => {
                assert_eq!(message, CANCELLED);
                break;
            }
            Frame::Head { .. } => {}
            frame => {
                assert_eq!(body_text(&frame).as_deref(), Some(&"o".repeat(1024)[..]));
                before += 1;
            }
        }
    }
    assert!(before < 2000, "the flood never stopped: {before} frames");
    // The id is free again: its new answer comes alone, no queued piece of the old one.
    platform.send(request("r1", "/second")).await.unwrap();
    let head = next_frame(&mut platform).await;
    let shown: String = format!("{head:?}").chars().take(120).collect();
    assert!(
        matches!(&head, Frame::Head { id, status: 200, .. } if id == "r1"),
        "not the new request's head: {shown}"
    );
    let body = next_frame(&mut platform).await;
    assert_eq!(body_text(&body).as_deref(), Some("second"), "{body:?}");
    assert_eq!(
        next_frame(&mut platform).await,
        Frame::End { id: "r1".into() }
    );
    drop(platform);
    let why = tokio::time::timeout(Duration::from_secs(20), session).await;
    assert!(why.is_ok(), "the session ends with its socket");
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread (the default test runtime), so the thread-local subscriber sees the session.
#[tokio::test]
async fn a_flood_of_bad_frames_logs_a_bounded_number_of_warnings() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (a, b) = tokio::io::duplex(64 << 10);
    let workspace = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let mut platform = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    let router = router(Arc::new(AtomicUsize::new(0)));
    let session = tokio::spawn(async move {
        let stats = RelayStats::default();
        serve(workspace, &router, &RelayOptions::default(), &stats).await
    });
    const BAD: usize = 500;
    for n in 0..BAD {
        let bad = format!(r#"{{"type":"nope","id":"b{n}"}}"#);
        platform.feed(Message::Text(bad.into())).await.unwrap();
    }
    platform.send(request("ok", "/second")).await.unwrap();
    assert!(matches!(
        next_frame(&mut platform).await,
        Frame::Head { .. }
    ));
    drop(platform);
    let why = tokio::time::timeout(Duration::from_secs(20), session)
        .await
        .expect("the session ends with its socket")
        .unwrap();
    let unlogged = BAD as u64 - MAX_SESSION_WARNINGS;
    assert!(
        why.contains(&format!("({unlogged} bad frames not logged)")),
        "{why}"
    );
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let dropped = log.matches("dropping a frame").count() as u64;
    assert_eq!(dropped, MAX_SESSION_WARNINGS, "{log}");
    assert_eq!(log.matches("counted, not logged").count(), 1, "{log}");
}

/// Sends request "x" (reusing the id) and the probe `p{n}` right behind it.
async fn send_x_and_probe(platform: &mut Platform, n: usize) {
    platform.send(request("x", "/second")).await.unwrap();
    let probe = format!("p{n}");
    platform.send(request(&probe, "/second")).await.unwrap();
}

/// The contract frees an id once its `end` arrived: a request reusing "x" sent the moment
/// x's `end` is read is answered every time (it was once dropped when the session read it
/// before joining the old dispatch's task). A probe request sent behind each one shows,
/// without any timing, that the session has read it: by the probe's `end` that "x" was
/// either dispatched or counted as refused (nothing else is refused here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_reusing_an_id_right_after_its_end_is_answered() {
    let router = router(Arc::new(AtomicUsize::new(0)));
    let (a, b) = tokio::io::duplex(64 << 10);
    let workspace = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let mut platform = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    let stats = Arc::new(RelayStats::default());
    let session_stats = stats.clone();
    let session = tokio::spawn(async move {
        serve(workspace, &router, &RelayOptions::default(), &session_stats).await
    });
    const ROUNDS: usize = 1000;
    let (mut answered, mut dropped) = (0, 0);
    // The round whose "x" is outstanding.
    let mut round = 0;
    send_x_and_probe(&mut platform, round).await;
    while answered + dropped < ROUNDS {
        let finished = match next_frame(&mut platform).await {
            Frame::End { id } if id == "x" => {
                answered += 1;
                true
            }
            Frame::End { id } if id == format!("p{round}") => {
                let gone = stats.refused() > dropped;
                dropped += usize::from(gone);
                gone
            }
            _ => false,
        };
        if finished && answered + dropped < ROUNDS {
            round += 1;
            send_x_and_probe(&mut platform, round).await;
        }
    }
    assert_eq!((answered, dropped), (ROUNDS, 0), "answered, dropped");
    drop(platform);
    let why = tokio::time::timeout(Duration::from_secs(20), session).await;
    assert!(why.is_ok(), "the session ends with its socket");
}
