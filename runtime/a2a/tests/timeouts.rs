//! The server's connection limits against slow and idle clients on raw TCP: headers sent at
//! one byte per 100 ms are cut off at the header timeout; a body trickled the same way is
//! answered 408 and the connection closed at the body timeout; a connection that sends
//! nothing, before its first request or after a keep-alive reply, is closed at the idle
//! timeout; a client that keeps to the limits is served, keep-alive included; and past the
//! connection cap a new client is served only once another connection closes. Every wait
//! below is bounded (10 s) so a regression fails instead of hanging.

mod common;

use std::time::Duration;

use common::{spawn, Setup};
use molecule_a2a::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Deadlines short enough for a test; the trickle below would outlast each of them many
/// times over.
fn options(max_connections: usize, idle: Duration) -> ServeOptions {
    ServeOptions {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        idle_timeout: idle,
        max_connections,
        max_connections_per_client: max_connections,
    }
}

/// The longest any single wait may take before the test fails.
const BOUND: Duration = Duration::from_secs(10);

async fn server(options: ServeOptions) -> common::TestServer {
    spawn(Setup {
        serve_options: Some(options),
        ..Setup::default()
    })
    .await
}

fn addr(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Writes `bytes` one at a time, 100 ms apart, until a write fails or all are sent.
async fn trickle(mut conn: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>) {
    for b in bytes {
        if conn.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads until the server closes the connection (EOF or reset); returns what it sent.
async fn read_to_close(conn: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

const CARD_GET: &[u8] = b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let s = server(options(16, Duration::from_secs(30))).await;
    let conn = TcpStream::connect(addr(&s.url)).await.expect("connect");
    let (mut reader, writer) = conn.into_split();
    // A header block that never ends, 1 byte per 100 ms: over 60 s of sending.
    let endless: Vec<u8> = b"GET / HTTP/1.1\r\nX-Slow: "
        .iter()
        .chain(&[b'a'; 600])
        .copied()
        .collect();
    let sender = tokio::spawn(trickle(writer, endless));
    let got = timeout(BOUND, read_to_close(&mut reader))
        .await
        .expect("the server cut the client off");
    assert!(!sender.is_finished(), "closed only once the client stopped");
    assert_eq!(got, "", "no reply to a request whose headers never arrived");
    sender.abort();
}

#[tokio::test]
async fn a_slow_body_is_answered_408_and_closed() {
    let s = server(options(16, Duration::from_secs(30))).await;
    let mut conn = TcpStream::connect(addr(&s.url)).await.expect("connect");
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                A2A-Version: 1.0\r\nContent-Length: 600\r\n\r\n";
    conn.write_all(head.as_bytes()).await.expect("headers");
    let (mut reader, writer) = conn.into_split();
    let sender = tokio::spawn(trickle(writer, vec![b' '; 600]));
    let reply = timeout(BOUND, read_to_close(&mut reader))
        .await
        .expect("answered and closed");
    assert!(!sender.is_finished(), "closed only once the client stopped");
    sender.abort();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("did not arrive within"), "{reply}");
}

#[tokio::test]
async fn idle_connections_are_closed_before_and_between_requests() {
    let s = server(options(16, Duration::from_millis(500))).await;
    // Never sends anything.
    let mut silent = TcpStream::connect(addr(&s.url)).await.expect("connect");
    let got = timeout(BOUND, read_to_close(&mut silent))
        .await
        .expect("closed when idle");
    assert_eq!(got, "");
    // One request, answered, then silence on the kept-alive connection.
    let mut conn = TcpStream::connect(addr(&s.url)).await.expect("connect");
    conn.write_all(CARD_GET).await.expect("request");
    let got = timeout(BOUND, read_to_close(&mut conn))
        .await
        .expect("closed when idle");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

#[tokio::test]
async fn clients_within_the_limits_are_served_with_keep_alive() {
    let s = server(options(16, Duration::from_secs(30))).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    for _ in 0..3 {
        let resp = client
            .get(format!("{}/.well-known/agent-card.json", s.url))
            .send()
            .await
            .expect("card");
        assert_eq!(resp.status().as_u16(), 200);
    }
    let (status, v) = common::rpc(&s.url, Some("1.0"), "SendMessage", common::send_params()).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_for_a_free_slot() {
    let s = server(options(1, Duration::from_secs(30))).await;
    let mut first = TcpStream::connect(addr(&s.url))
        .await
        .expect("connect first");
    first.write_all(CARD_GET).await.expect("first request");
    let mut buf = [0u8; 4096];
    let n = timeout(BOUND, first.read(&mut buf))
        .await
        .expect("first answered")
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The first connection stays open (keep-alive): the second is not served meanwhile.
    let mut second = TcpStream::connect(addr(&s.url))
        .await
        .expect("connect second");
    second.write_all(CARD_GET).await.expect("second request");
    let early = timeout(Duration::from_millis(500), second.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap of one connection");
    drop(first);
    let n = timeout(BOUND, second.read(&mut buf))
        .await
        .expect("second answered")
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_connection_that_never_sends_is_closed_after_the_header_timeout() {
    // The idle timeout (30 s) outlasts BOUND: only the header deadline can close it in time.
    let s = server(options(16, Duration::from_secs(30))).await;
    let mut silent = TcpStream::connect(addr(&s.url)).await.expect("connect");
    let got = timeout(BOUND, read_to_close(&mut silent))
        .await
        .expect("closed by the header deadline, not the idle one");
    assert_eq!(got, "");
}

#[tokio::test]
async fn one_client_address_cannot_take_every_connection() {
    let s = server(ServeOptions {
        max_connections_per_client: 2,
        ..options(16, Duration::from_secs(30))
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(addr(&s.url)).await.expect("connect"));
    }
    // The third from the same address is closed at once, unanswered.
    let mut third = TcpStream::connect(addr(&s.url)).await.expect("connect");
    let _ = third.write_all(CARD_GET).await;
    let got = timeout(BOUND, read_to_close(&mut third))
        .await
        .expect("closed at once");
    assert_eq!(got, "");
    // The two within the cap are served.
    for conn in &mut held {
        conn.write_all(CARD_GET).await.expect("request");
        let mut buf = [0u8; 4096];
        let n = timeout(BOUND, conn.read(&mut buf))
            .await
            .expect("answered")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
}

#[tokio::test]
async fn a_response_never_read_closes_the_connection() {
    let s = spawn(Setup {
        body_limit: Some(16 << 20),
        serve_options: Some(options(16, Duration::from_secs(30))),
        ..Setup::default()
    })
    .await;
    // One request whose answer (the 6 MB text echoed several times) outgrows every socket
    // buffer: the server's write stalls mid-response while this client reads nothing.
    let text = "x".repeat(6 << 20);
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
        "params": {"message": common::user_message(&text)}})
    .to_string();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         A2A-Version: 1.0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut conn = TcpStream::connect(addr(&s.url)).await.expect("connect");
    conn.write_all(head.as_bytes()).await.expect("headers");
    conn.write_all(body.as_bytes()).await.expect("body");
    // Reads nothing for several write deadlines (500 ms each).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = timeout(BOUND, read_to_close(&mut conn))
        .await
        .expect("the server closed the stalled connection");
    assert!(
        got.starts_with("HTTP/1.1 200"),
        "{}",
        &got[..got.len().min(200)]
    );
    assert!(
        !got.trim_end().ends_with('}'),
        "the whole {} byte answer was sent: the write never stalled",
        got.len()
    );
}
