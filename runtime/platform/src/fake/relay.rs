//! The platform's side of the outbound relay ("workspaces behind NAT") in the fake platform:
//! `GET /workspaces/{id}/connect` accepts the workspace's WebSocket (bearer token of that
//! workspace required), and `POST /workspaces/{id}/a2a` to a connected workspace is sent
//! through it as a `request` frame, its answer streamed back frame by frame
//! (`molecule_platform::relay_frame` defines the frames). Tests can count a workspace's
//! connections, cut its socket and send raw frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::sync::{mpsc, Notify};

use super::auth::err;
use crate::relay_frame::{
    decode_body, pick_headers, Frame, MAX_FRAME_BYTES, MAX_REQUEST_BODY, RELAYED_REQUEST_HEADERS,
    RELAYED_RESPONSE_HEADERS,
};

/// Most requests in flight on one socket; more answer 503.
const MAX_PENDING: usize = 256;
/// How long the platform waits for a relayed request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(120);

type Pending = Arc<Mutex<HashMap<String, mpsc::Sender<Frame>>>>;

/// One workspace's live socket.
#[derive(Clone)]
struct Conn {
    serial: u64,
    out: mpsc::Sender<Message>,
    pending: Pending,
    kill: Arc<Notify>,
}

/// The live sockets by workspace id, and how many each workspace opened.
#[derive(Default)]
pub(crate) struct Relays {
    conns: Mutex<HashMap<String, Conn>>,
    opened: Mutex<HashMap<String, usize>>,
    counter: AtomicU64,
}

impl Relays {
    fn conn(&self, id: &str) -> Option<Conn> {
        self.conns.lock().expect("relays").get(id).cloned()
    }
    /// Sockets `id` opened so far.
    pub(crate) fn opened(&self, id: &str) -> usize {
        self.opened
            .lock()
            .expect("relays")
            .get(id)
            .copied()
            .unwrap_or(0)
    }
    /// Whether `id` has a live socket.
    pub(crate) fn connected(&self, id: &str) -> bool {
        self.conn(id).is_some()
    }
    /// Cuts `id`'s socket (no close frame: like a platform restart). False when none.
    pub(crate) fn cut(&self, id: &str) -> bool {
        let conn = self.conns.lock().expect("relays").remove(id);
        conn.map(|c| c.kill.notify_one()).is_some()
    }
    /// Sends raw text to `id`'s socket. False when none.
    pub(crate) fn send_raw(&self, id: &str, text: String) -> bool {
        self.conn(id)
            .is_some_and(|c| c.out.try_send(Message::Text(text.into())).is_ok())
    }
}

/// `GET /workspaces/{id}/connect`: the workspace's own bearer token and `X-Workspace-ID`
/// required (401/403 otherwise, before any upgrade); frames over `MAX_FRAME_BYTES` end the
/// socket.
pub(crate) async fn connect(
    axum::extract::State(sh): axum::extract::State<Arc<super::Shared>>,
    h: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    if let Err(r) = super::auth::authed_as(&sh, &h, &id) {
        return r;
    }
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve_socket(sh, id, socket))
}

/// Serves one accepted socket of workspace `id` until it closes or is cut.
pub(crate) async fn serve_socket(relays: Arc<super::Shared>, id: String, mut socket: WebSocket) {
    let relays = &relays.relays;
    let (out, mut rx) = mpsc::channel::<Message>(256);
    let conn = Conn {
        serial: relays.counter.fetch_add(1, Ordering::SeqCst),
        out,
        pending: Pending::default(),
        kill: Arc::new(Notify::new()),
    };
    *relays
        .opened
        .lock()
        .expect("relays")
        .entry(id.clone())
        .or_default() += 1;
    if let Some(old) = relays
        .conns
        .lock()
        .expect("relays")
        .insert(id.clone(), conn.clone())
    {
        old.kill.notify_one();
    }
    loop {
        tokio::select! {
            _ = conn.kill.notified() => break,
            msg = rx.recv() => match msg {
                Some(m) => if socket.send(m).await.is_err() { break },
                None => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => deliver(&conn, t.as_str()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {} // pings are answered by the socket; binary is not used
            },
        }
    }
    let mut conns = relays.conns.lock().expect("relays");
    if conns.get(&id).is_some_and(|c| c.serial == conn.serial) {
        conns.remove(&id);
    }
    // Dropping the senders ends every response still streaming from this socket.
    conn.pending.lock().expect("relays").clear();
}

/// Hands a workspace frame to the request it answers (frames for unknown ids are dropped)
/// without waiting: a request whose caller stopped reading (its channel of 64 frames full) is
/// ended alone — its entry dropped (its response breaks off), a `cancel` sent to the
/// workspace, a warning logged — so it cannot stall the other requests on the socket.
fn deliver(conn: &Conn, text: &str) {
    let Ok(frame) = Frame::parse(text) else {
        tracing::warn!("fake platform: dropping an invalid relay frame");
        return;
    };
    let mut pending = conn.pending.lock().expect("relays");
    let Some(tx) = pending.get(frame.id()) else {
        return;
    };
    if let Err(mpsc::error::TrySendError::Full(frame)) = tx.try_send(frame) {
        let id = frame.id().to_owned();
        pending.remove(&id);
        tracing::warn!(id = %id, "fake platform: a relayed request's caller fell behind; ending that request");
        let cancel = Frame::Cancel { id };
        let _ = conn.out.try_send(Message::Text(cancel.to_text().into()));
    }
}

/// Removes the pending entry and tells the workspace when the caller went away first.
struct PendingGuard {
    id: String,
    conn: Conn,
    done: bool,
}

impl PendingGuard {
    /// The response ended (or broke off from the workspace's side): no cancel to send.
    fn finish(&mut self) {
        self.done = true;
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.conn.pending.lock().expect("relays").remove(&self.id);
        if !self.done {
            let cancel = Frame::Cancel {
                id: self.id.clone(),
            };
            let _ = self
                .conn
                .out
                .try_send(Message::Text(cancel.to_text().into()));
        }
    }
}

/// Relays an A2A request from `caller` (a workspace; `None` for the operator's admin token:
/// no `X-Workspace-ID` is sent) to `peer` through its socket, presenting the peer's inbound
/// `secret`; `None` when `peer` has no socket (the caller then proxies over HTTP).
pub(crate) async fn forward(
    sh: &super::Shared,
    peer: &str,
    caller: Option<&str>,
    secret: &str,
    h: &HeaderMap,
    body: Bytes,
) -> Option<Response> {
    let conn = sh.relays.conn(peer)?;
    if body.len() > MAX_REQUEST_BODY {
        return Some(err(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("relayed request bodies are limited to {MAX_REQUEST_BODY} bytes"),
        ));
    }
    let mut headers = pick_headers(
        h.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
        &RELAYED_REQUEST_HEADERS,
    );
    headers.insert("authorization".into(), format!("Bearer {secret}"));
    // A picked `x-workspace-id` is the sender's claim: only an authenticated caller is named.
    headers.remove("x-workspace-id");
    if let Some(caller) = caller {
        headers.insert("x-workspace-id".into(), caller.to_owned());
    }
    headers
        .entry("content-type".into())
        .or_insert_with(|| "application/json".into());
    let id = format!("r{}", sh.relays.counter.fetch_add(1, Ordering::SeqCst));
    let (tx, rx) = mpsc::channel::<Frame>(64);
    {
        let mut pending = conn.pending.lock().expect("relays");
        if pending.len() >= MAX_PENDING {
            return Some(err(StatusCode::SERVICE_UNAVAILABLE, "relay busy"));
        }
        pending.insert(id.clone(), tx);
    }
    let guard = PendingGuard {
        id: id.clone(),
        conn: conn.clone(),
        done: false,
    };
    let (text, b64) = crate::relay_frame::encode_body(&body);
    let frame = Frame::Request {
        id,
        method: "POST".into(),
        path: "/".into(),
        headers,
        text,
        b64,
    };
    if conn
        .out
        .send(Message::Text(frame.to_text().into()))
        .await
        .is_err()
    {
        return Some(err(StatusCode::BAD_GATEWAY, "workspace socket closed"));
    }
    Some(answer(guard, rx).await)
}

/// Waits for the head, then streams the body frames as the response body.
async fn answer(guard: PendingGuard, mut rx: mpsc::Receiver<Frame>) -> Response {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, rx.recv()).await {
        Ok(Some(Frame::Head {
            status, headers, ..
        })) => (status, headers),
        Ok(_) => return err(StatusCode::BAD_GATEWAY, "workspace socket closed"),
        Err(_) => return err(StatusCode::GATEWAY_TIMEOUT, "workspace did not answer"),
    };
    let mut resp = Response::new(Body::from_stream(body_stream(guard, rx)));
    *resp.status_mut() = StatusCode::from_u16(head.0).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in head.1 {
        if !RELAYED_RESPONSE_HEADERS.contains(&k.as_str()) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

fn body_stream(
    guard: PendingGuard,
    rx: mpsc::Receiver<Frame>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold((guard, rx), |(mut guard, mut rx)| async move {
        if guard.done {
            return None;
        }
        let broke = |why: &str| std::io::Error::new(std::io::ErrorKind::BrokenPipe, why.to_owned());
        let item = match rx.recv().await {
            Some(Frame::Body { text, b64, .. }) => decode_body(text.as_deref(), b64.as_deref())
                .map(Bytes::from)
                .map_err(|e| broke(&e.to_string())),
            Some(Frame::End { .. }) => {
                guard.finish();
                return None;
            }
            Some(Frame::Error { .. }) => {
                guard.finish();
                Err(broke("workspace ended the response with an error"))
            }
            Some(_) => {
                guard.finish();
                Err(broke("unexpected relay frame"))
            }
            None => {
                guard.finish();
                Err(broke("workspace socket closed, or the caller fell behind"))
            }
        };
        Some((item, (guard, rx)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> (Conn, mpsc::Receiver<Message>) {
        let (out, rx) = mpsc::channel(4);
        let conn = Conn {
            serial: 0,
            out,
            pending: Pending::default(),
            kill: Arc::new(Notify::new()),
        };
        (conn, rx)
    }

    fn body(id: &str) -> String {
        let (text, b64) = crate::relay_frame::encode_body(b"x");
        Frame::Body {
            id: id.into(),
            text,
            b64,
        }
        .to_text()
    }

    #[test]
    fn a_caller_that_stops_reading_ends_only_its_own_request() {
        let (conn, mut out) = conn();
        let (slow_tx, _slow_rx) = mpsc::channel::<Frame>(1);
        let (fast_tx, mut fast_rx) = mpsc::channel::<Frame>(4);
        conn.pending.lock().unwrap().insert("slow".into(), slow_tx);
        conn.pending.lock().unwrap().insert("fast".into(), fast_tx);
        deliver(&conn, &body("slow"));
        deliver(&conn, &body("slow")); // full: returns at once, ends "slow"
        deliver(&conn, &body("fast"));
        assert!(!conn.pending.lock().unwrap().contains_key("slow"));
        assert!(matches!(fast_rx.try_recv(), Ok(Frame::Body { .. })));
        let Ok(Message::Text(cancel)) = out.try_recv() else {
            panic!("a cancel for the slow request")
        };
        assert!(matches!(Frame::parse(cancel.as_str()), Ok(Frame::Cancel { id }) if id == "slow"));
    }
}
