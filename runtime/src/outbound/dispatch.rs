//! One relayed request: the `request` frame becomes an HTTP request for the workspace's own
//! A2A router (`tower::ServiceExt::oneshot`, in process: the same handlers, auth and limits
//! as the TCP listener), and its response goes back as a `head` frame, `body` frames as the
//! body produces data (an SSE stream: one or more frames per event, split at
//! `MAX_CHUNK_BYTES`) and an `end` frame — or `error` when the body fails midway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use futures_util::StreamExt;
use molecule_platform::relay_frame::{
    body_frames, decode_body, pick_headers, Frame, RELAYED_REQUEST_HEADERS,
    RELAYED_RESPONSE_HEADERS,
};
use tokio::sync::mpsc;
use tower::ServiceExt;

use crate::redact::escape;

/// A frame a dispatch queued for the socket, with its dispatch's liveness: the session sends
/// it only while `live` holds (a `cancel` clears it, so nothing of a cancelled dispatch leaves
/// after the cancel is read, even a frame already queued).
pub(super) struct Queued {
    /// The frame.
    pub(super) frame: Frame,
    /// False once the request was cancelled.
    pub(super) live: Arc<AtomicBool>,
}

impl Queued {
    /// Whether the frame may still be sent.
    pub(super) fn live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }
}

/// One dispatch's way to the session's out queue: every frame tagged with its liveness.
#[derive(Clone)]
pub(super) struct Outbox {
    /// The session's out queue.
    pub(super) tx: mpsc::Sender<Queued>,
    /// This dispatch's liveness (shared with the session).
    pub(super) live: Arc<AtomicBool>,
}

impl Outbox {
    /// Queues `frame`; `Err` when the session is gone (the dispatch then stops).
    async fn send(&self, frame: Frame) -> Result<(), ()> {
        let live = self.live.clone();
        self.tx.send(Queued { frame, live }).await.map_err(|_| ())
    }
}

/// Serves `frame` (a `request`) on `router`, sending the answer's frames to `out`; returns
/// the request id (for the session's bookkeeping). Stops early when the session is gone.
pub(super) async fn dispatch(router: Router, frame: Frame, out: Outbox) -> String {
    let id = frame.id().to_owned();
    let req = match request(frame) {
        Ok(r) => r,
        Err(why) => {
            for f in refuse(&id, 400, &why) {
                let _ = out.send(f).await;
            }
            return id;
        }
    };
    let Ok(resp) = router.oneshot(req).await;
    let headers = pick_headers(
        resp.headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
        &RELAYED_RESPONSE_HEADERS,
    );
    let head = Frame::Head {
        id: id.clone(),
        status: resp.status().as_u16(),
        headers,
    };
    if out.send(head).await.is_err() {
        return id;
    }
    let mut body = resp.into_body().into_data_stream();
    while let Some(piece) = body.next().await {
        match piece {
            Ok(bytes) => {
                for f in body_frames(&id, &bytes) {
                    if out.send(f).await.is_err() {
                        return id;
                    }
                }
            }
            Err(e) => {
                let message = escape(&e.to_string());
                let _ = out
                    .send(Frame::Error {
                        id: id.clone(),
                        message,
                    })
                    .await;
                return id;
            }
        }
    }
    let _ = out.send(Frame::End { id: id.clone() }).await;
    id
}

/// The HTTP request a `request` frame describes (only the relayed headers are kept).
fn request(frame: Frame) -> Result<Request<Body>, String> {
    let Frame::Request {
        method,
        path,
        headers,
        text,
        b64,
        ..
    } = frame
    else {
        return Err("not a request frame".into());
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| "bad method".to_string())?;
    let body = decode_body(text.as_deref(), b64.as_deref()).map_err(|e| e.to_string())?;
    let mut builder = Request::builder().method(method).uri(path.as_str());
    for (k, v) in &headers {
        if RELAYED_REQUEST_HEADERS.contains(&k.as_str()) {
            builder = builder.header(k.as_str(), v.as_str());
        }
    }
    builder
        .body(Body::from(body))
        .map_err(|e| format!("bad request frame: {e}"))
}

/// The frames of a refusal the workspace answers itself: `head` with `status` (and
/// `Retry-After: 1` for 503), a JSON `{"error": why}` body, `end`.
pub(super) fn refuse(id: &str, status: u16, why: &str) -> Vec<Frame> {
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("content-type".to_owned(), "application/json".to_owned());
    if status == 503 {
        headers.insert("retry-after".to_owned(), "1".to_owned());
    }
    let body = serde_json::json!({ "error": why }).to_string();
    let mut frames = vec![Frame::Head {
        id: id.to_owned(),
        status,
        headers,
    }];
    frames.extend(body_frames(id, body.as_bytes()));
    frames.push(Frame::End { id: id.to_owned() });
    frames
}
