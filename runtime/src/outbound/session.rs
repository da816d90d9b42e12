//! One connected relay socket: reads frames, starts a dispatch per `request` (at most
//! `max_in_flight` at once; more answer 503), aborts one on `cancel` (answered by an `error`
//! frame `cancelled`, the id's last frame), writes the answers the dispatches produce, and
//! pings every `ping_every` (two unanswered pings end the session). A `request` whose id is
//! still in flight is dropped unanswered (any answer would mix with the first one's frames);
//! an id is free again as soon as its last frame (`end`/`error`) is taken to be sent.
//! A frame over `MAX_FRAME_BYTES` ends the session with close code 1009; an invalid frame is
//! logged (escaped) and dropped. A frame that cannot leave within `send_timeout` ends the
//! session. The session's dispatches end with it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::Router;
use futures_util::{SinkExt, StreamExt};
use molecule_platform::relay_frame::{Frame, FrameError, CANCELLED};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::dispatch::{dispatch, refuse, Outbox, Queued};
use super::{RelayOptions, RelayStats};
use crate::redact::escape;

/// The client socket.
pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Frames queued for the socket by the dispatches (backpressure beyond this).
pub(super) const OUT_QUEUE: usize = 256;

/// Most frames the session itself may have waiting to leave (503 refusals, cancel answers)
/// before it stops reading the socket until they drain: a platform that sends requests over
/// the in-flight cap, or cancels, faster than it reads the answers is slowed down instead of
/// growing the queue. One frame read adds at most 3, so the queue never holds more than
/// `MAX_OWN_QUEUED + 2` frames (a few hundred bytes each).
pub const MAX_OWN_QUEUED: usize = 1024;

/// Most warnings one session logs about the platform's frames (invalid, unexpected, a reused
/// id); the rest are counted and reported once when the session ends, so a platform cannot
/// flood the log.
pub const MAX_SESSION_WARNINGS: u64 = 16;

/// A dispatch in flight: its task and its liveness (cleared by a `cancel`).
struct Running {
    handle: AbortHandle,
    live: Arc<AtomicBool>,
}

/// The session's bookkeeping that frames from the platform change.
struct State {
    /// Dispatches in flight by request id.
    running: HashMap<String, Running>,
    /// The dispatches' tasks.
    tasks: JoinSet<String>,
    /// The dispatches' out queue (each gets a sender).
    out: mpsc::Sender<Queued>,
    /// Frames the session answers itself, sent before the dispatches' frames.
    own: VecDeque<Frame>,
    /// Warnings about the platform's frames so far (logged up to [`MAX_SESSION_WARNINGS`]).
    warnings: u64,
}

impl State {
    /// Frees the request id of `q`'s dispatch when `q` is that dispatch's last frame (`end`
    /// or `error`): the frame contract makes the id free once that frame arrived, so a
    /// `request` reusing it, read right after, must find it free even though the dispatch's
    /// task has not been joined yet. Only the entry of the same dispatch (its liveness flag)
    /// is removed, never a newer request's under the same id.
    fn free_if_last(&mut self, q: &Queued) {
        if !matches!(q.frame, Frame::End { .. } | Frame::Error { .. }) {
            return;
        }
        let id = q.frame.id();
        if self
            .running
            .get(id)
            .is_some_and(|r| Arc::ptr_eq(&r.live, &q.live))
        {
            self.running.remove(id);
        }
    }

    /// Whether the next warning about a platform frame may be logged (counts it).
    fn may_warn(&mut self) -> bool {
        self.warnings += 1;
        if self.warnings == MAX_SESSION_WARNINGS + 1 {
            tracing::warn!(
                "outbound relay: more than {MAX_SESSION_WARNINGS} bad frames from the platform; \
                 the rest of this session's are counted, not logged"
            );
        }
        self.warnings <= MAX_SESSION_WARNINGS
    }
}

/// Serves `socket` (a [`Socket`], or any WebSocket in a test) until it ends; returns why.
pub(super) async fn serve<S>(
    socket: S,
    router: &Router,
    options: &RelayOptions,
    stats: &RelayStats,
) -> String
where
    S: futures_util::Sink<Message, Error = WsError>
        + futures_util::Stream<Item = Result<Message, WsError>>
        + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let (out, mut queued) = mpsc::channel::<Queued>(OUT_QUEUE);
    let mut state = State {
        running: HashMap::new(),
        tasks: JoinSet::new(),
        out,
        own: VecDeque::new(),
        warnings: 0,
    };
    let mut ping = tokio::time::interval(options.ping_every);
    ping.tick().await; // the first tick is immediate
    let mut unanswered = 0u32;
    let why: String = async {
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if unanswered >= 2 {
                    return "two pings went unanswered".into();
                }
                unanswered += 1;
                if let Err(e) = send(&mut sink, Message::Ping(Default::default()), options).await {
                    return e;
                }
            }
            () = std::future::ready(()), if !state.own.is_empty() => {
                let Some(frame) = state.own.pop_front() else { continue };
                if let Err(e) = send(&mut sink, Message::Text(frame.to_text().into()), options).await {
                    return e;
                }
            }
            Some(q) = queued.recv() => {
                if !q.live() {
                    continue; // its request was cancelled: nothing of it leaves any more
                }
                state.free_if_last(&q);
                if let Err(e) = send(&mut sink, Message::Text(q.frame.to_text().into()), options).await {
                    return e;
                }
            }
            Some(done) = state.tasks.join_next_with_id() => {
                // Usually gone already (freed with its last frame); this catches a dispatch
                // that ended without one. Removed by task id, not request id: a request id
                // reused after its `end` must not lose its new entry to the old task.
                let task = match &done {
                    Ok((task, _)) => *task,
                    Err(e) => e.id(),
                };
                state.running.retain(|_, r| r.handle.id() != task);
            }
            // Backpressure: no reading while the session's own answers pile up.
            msg = stream.next(), if state.own.len() < MAX_OWN_QUEUED => match msg {
                Some(Ok(Message::Text(text))) => {
                    on_text(text.as_str(), router, options, stats, &mut state);
                    stats.own_peak.fetch_max(state.own.len(), Ordering::Relaxed);
                }
                Some(Ok(Message::Pong(_))) => unanswered = 0,
                Some(Ok(Message::Ping(_))) => {
                    // tungstenite queued the pong; flush it now.
                    match tokio::time::timeout(options.send_timeout, sink.flush()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return e.to_string(),
                        Err(_) => return "the platform stopped reading (flush timed out)".into(),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return format!("platform closed the socket ({frame:?})");
                }
                Some(Ok(_)) => if state.may_warn() {
                    tracing::warn!("outbound relay: ignoring a binary frame");
                },
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                    let close = CloseFrame {
                        code: CloseCode::Size,
                        reason: format!("frame over {max_size} bytes").into(),
                    };
                    let _ = tokio::time::timeout(
                        options.send_timeout,
                        sink.send(Message::Close(Some(close))),
                    )
                    .await;
                    return format!("refused a frame of {size} bytes (limit {max_size})");
                }
                Some(Err(e)) => return e.to_string(),
                None => return "the socket closed".into(),
            },
        }
    }
    }
    .await;
    match state.warnings.checked_sub(MAX_SESSION_WARNINGS) {
        Some(unlogged) if unlogged > 0 => format!("{why} ({unlogged} bad frames not logged)"),
        _ => why,
    }
}

/// Sends `msg`, giving up after `send_timeout`: a platform that stops reading ends the
/// session (and the relay reconnects) instead of stalling it forever.
async fn send<S>(sink: &mut S, msg: Message, options: &RelayOptions) -> Result<(), String>
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    match tokio::time::timeout(options.send_timeout, sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the platform stopped reading (a send took over {:?})",
            options.send_timeout
        )),
    }
}

/// Handles one text frame from the platform.
fn on_text(
    text: &str,
    router: &Router,
    options: &RelayOptions,
    stats: &RelayStats,
    state: &mut State,
) {
    let frame = match Frame::parse(text) {
        Ok(f) => f,
        Err(e @ (FrameError::TooLarge(_) | FrameError::Invalid(_))) => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            if state.may_warn() {
                tracing::warn!(error = %escape(&e.to_string()), "outbound relay: dropping a frame");
            }
            return;
        }
    };
    match frame {
        Frame::Request { ref id, .. } if state.running.contains_key(id) => {
            // No answer: its frames would carry the same id as the first request's.
            stats.refused.fetch_add(1, Ordering::Relaxed);
            if state.may_warn() {
                tracing::warn!(id = %escape(id), "outbound relay: request id already in flight; dropped");
            }
        }
        Frame::Request { ref id, .. } if state.running.len() >= options.max_in_flight => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            // Never wait here: this loop is what drains the queues.
            state
                .own
                .extend(refuse(id, 503, "too many relayed requests in flight"));
        }
        Frame::Request { .. } => {
            stats.relayed.fetch_add(1, Ordering::Relaxed);
            let id = frame.id().to_owned();
            let live = Arc::new(AtomicBool::new(true));
            let outbox = Outbox {
                tx: state.out.clone(),
                live: live.clone(),
            };
            let handle = state.tasks.spawn(dispatch(router.clone(), frame, outbox));
            state.running.insert(id, Running { handle, live });
        }
        Frame::Cancel { id } => {
            if let Some(r) = state.running.remove(&id) {
                r.live.store(false, Ordering::Release);
                r.handle.abort();
            }
            // Always answered, so the platform knows when the id is free again.
            let message = CANCELLED.to_owned();
            state.own.push_back(Frame::Error { id, message });
        }
        other => {
            if state.may_warn() {
                tracing::warn!(
                    id = %escape(other.id()),
                    "outbound relay: ignoring a frame the platform does not send"
                );
            }
        }
    }
}
