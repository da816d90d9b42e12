//! The outbound relay against a hostile or broken platform, driven by hand: a TCP listener on
//! 127.0.0.1 that accepts the workspace's socket and then misbehaves. A platform that never
//! answers the WebSocket upgrade is given up on after the connect timeout and dialled again
//! (the workspace serving locally meanwhile); a platform that stops reading frames loses the
//! session (send timeout) and gets a fresh one; a request id reused while in flight is
//! dropped, so the first request's frames stay its own; a flood of requests over the
//! in-flight cap is answered (503) with the workspace's own answer queue bounded (it stops
//! reading while they pile up). Short injected timeouts, outcomes
//! asserted (no timing asserts).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use molecule_platform::relay_frame::{decode_body, Frame};
use molecule_platform::{Backoff, PlatformClient};
use molecule_runtime::outbound::{OutboundRelay, RelayOptions};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Longest wait for anything the relay should do by itself.
const WITHIN: Duration = Duration::from_secs(20);

/// A platform at 127.0.0.1 whose side of the relay the test plays.
async fn platform() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Relay options with short timeouts and a fast, unjittered reconnect.
fn quick() -> RelayOptions {
    RelayOptions {
        backoff: Backoff {
            attempts: u32::MAX,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            jitter: false,
        },
        connect_timeout: Duration::from_millis(300),
        send_timeout: Duration::from_millis(300),
        ..RelayOptions::default()
    }
}

fn spawn_relay(url: &str, id: &str, router: Router, options: RelayOptions) -> OutboundRelay {
    let client = PlatformClient::builder(url, id)
        .env_token(Some("token".into()))
        .build()
        .unwrap();
    OutboundRelay::spawn(client, router, options).unwrap()
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    molecule_tests::wait_until(what, WITHIN, Duration::from_millis(10), done).await;
}

/// The next TCP connection the relay opens (within [`WITHIN`]).
async fn dialled(listener: &TcpListener, what: &str) -> TcpStream {
    let accepted = tokio::time::timeout(WITHIN, listener.accept()).await;
    accepted.unwrap_or_else(|_| panic!("{what}")).unwrap().0
}

/// The next WebSocket the relay opens, upgrade answered.
async fn accepted(listener: &TcpListener, what: &str) -> WebSocketStream<TcpStream> {
    let tcp = dialled(listener, what).await;
    tokio_tungstenite::accept_async(tcp).await.unwrap()
}

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

/// The next frame the workspace sent (within [`WITHIN`]).
async fn next_frame(ws: &mut WebSocketStream<TcpStream>) -> Frame {
    loop {
        let msg = tokio::time::timeout(WITHIN, ws.next()).await;
        let msg = msg
            .expect("a frame in time")
            .expect("open")
            .expect("a message");
        if let Message::Text(text) = msg {
            return Frame::parse(text.as_str()).expect("a valid frame");
        }
    }
}

/// The frames of one answer, `head` to `end`, with the body joined: (status, body).
async fn answer(ws: &mut WebSocketStream<TcpStream>, id: &str) -> (u16, String) {
    let Frame::Head {
        id: got, status, ..
    } = next_frame(ws).await
    else {
        panic!("the answer starts with a head")
    };
    assert_eq!(got, id);
    let mut body = Vec::new();
    loop {
        match next_frame(ws).await {
            Frame::Body { id: got, text, b64 } => {
                assert_eq!(got, id, "a frame of another request in this answer");
                body.extend(decode_body(text.as_deref(), b64.as_deref()).unwrap());
            }
            Frame::End { id: got } => {
                assert_eq!(got, id);
                return (status, String::from_utf8(body).unwrap());
            }
            other => panic!("unexpected frame in the answer of {id}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_never_answers_the_upgrade_is_given_up_on_and_dialled_again() {
    let (listener, url) = platform().await;
    let router = Router::new().route("/ping", get(|| async { "pong" }));
    let local = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local_url = format!("http://{}/ping", local.local_addr().unwrap());
    let app = router.clone();
    tokio::spawn(async move { axum::serve(local, app).await });
    let relay = spawn_relay(&url, "ws-mute", router, quick());
    let mut held = Vec::new();
    for attempt in 1..=3 {
        let mut tcp = dialled(&listener, "the relay dials again after its connect timeout").await;
        let mut head = vec![0u8; 4096];
        let n = tcp.read(&mut head).await.unwrap();
        let head = String::from_utf8_lossy(&head[..n]);
        assert!(
            head.starts_with("GET /workspaces/ws-mute/connect"),
            "attempt {attempt}: {head}"
        );
        held.push(tcp); // never answered, never closed: the relay must give up by itself
                        // Meanwhile the workspace serves on its own port.
        let local = reqwest::get(&local_url).await.unwrap();
        assert_eq!(local.text().await.unwrap(), "pong", "attempt {attempt}");
    }
    assert_eq!(relay.stats().connects(), 0);
}

/// `/flood` streams 64 KiB pieces for ever; `/ping` answers "pong".
fn flood_router() -> Router {
    let flood = || async {
        let piece = Bytes::from(vec![b'x'; 64 << 10]);
        let pieces = futures_util::stream::repeat_with(move || Ok::<_, Infallible>(piece.clone()));
        Body::from_stream(pieces)
    };
    Router::new()
        .route("/flood", get(flood))
        .route("/ping", get(|| async { "pong" }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_stops_reading_loses_the_session_and_gets_a_new_one() {
    let (listener, url) = platform().await;
    let relay = spawn_relay(&url, "ws-deaf", flood_router(), quick());
    let mut first = accepted(&listener, "the first socket").await;
    first.send(request("r1", "/flood")).await.unwrap();
    // From here the platform reads nothing on `first`: the workspace's sends stall, and the
    // send timeout must end that session — the relay then opens a new socket.
    let mut second = accepted(&listener, "a new socket after the stalled one").await;
    second.send(request("r2", "/ping")).await.unwrap();
    assert_eq!(answer(&mut second, "r2").await, (200, "pong".into()));
    assert_eq!(relay.stats().connects(), 2);
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reused_while_in_flight_is_dropped_and_the_first_answer_stays_whole() {
    let (listener, url) = platform().await;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let held = gate.clone();
    let router = Router::new()
        .route(
            "/hold",
            get(move || {
                let held = held.clone();
                async move {
                    let _permit = held.acquire().await;
                    "first"
                }
            }),
        )
        .route("/second", get(|| async { "second" }));
    let relay = spawn_relay(&url, "ws-reuse", router, quick());
    let mut ws = accepted(&listener, "the socket").await;
    ws.send(request("r1", "/hold")).await.unwrap();
    wait_for("r1 in flight", || relay.stats().relayed() == 1).await;
    ws.send(request("r1", "/second")).await.unwrap();
    wait_for("the reuse refused", || relay.stats().refused() == 1).await;
    gate.add_permits(1);
    assert_eq!(answer(&mut ws, "r1").await, (200, "first".into()));
    assert_eq!(
        relay.stats().relayed(),
        1,
        "the reused id was never dispatched"
    );
    // Once its answer ended, the id is free again.
    ws.send(request("r1", "/second")).await.unwrap();
    assert_eq!(answer(&mut ws, "r1").await, (200, "second".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_over_the_cap_is_answered_under_a_bounded_queue() {
    let (listener, url) = platform().await;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let held = gate.clone();
    let router = Router::new().route(
        "/hold",
        get(move || {
            let held = held.clone();
            async move {
                let _permit = held.acquire().await;
                "held"
            }
        }),
    );
    let options = RelayOptions {
        max_in_flight: 1,
        ..quick()
    };
    let relay = spawn_relay(&url, "ws-flood", router, options);
    let mut ws = accepted(&listener, "the socket").await;
    ws.send(request("hold", "/hold")).await.unwrap();
    wait_for("the held request", || relay.stats().relayed() == 1).await;
    // Every one of these is over the cap: each costs the workspace three answer frames.
    const FLOOD: usize = 3000;
    for n in 0..FLOOD {
        ws.feed(request(&format!("f{n}"), "/hold")).await.unwrap();
    }
    ws.flush().await.unwrap();
    for n in 0..FLOOD {
        let (status, _) = answer(&mut ws, &format!("f{n}")).await;
        assert_eq!(status, 503, "f{n}");
    }
    let peak = relay.stats().own_queue_peak();
    assert!(
        peak <= molecule_runtime::outbound::MAX_OWN_QUEUED + 2,
        "the refusals piled up to {peak} frames"
    );
    gate.add_permits(1);
    assert_eq!(answer(&mut ws, "hold").await, (200, "held".into()));
}
