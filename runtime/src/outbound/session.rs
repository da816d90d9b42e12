//! One connected relay socket: reads frames, starts a dispatch per `request` (at most
//! `max_in_flight` at once; more answer 503), aborts one on `cancel`, writes the answers the
//! dispatches produce, and pings every `ping_every` (two unanswered pings end the session).
//! A frame over `MAX_FRAME_BYTES` ends the session with close code 1009; an invalid frame is
//! logged (escaped) and dropped. The session's dispatches end with it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::Router;
use futures_util::{SinkExt, StreamExt};
use molecule_platform::relay_frame::{Frame, FrameError};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::dispatch::{dispatch, refuse};
use super::{RelayOptions, RelayStats};
use crate::redact::escape;

/// The client socket.
pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Frames queued for the socket by the dispatches (backpressure beyond this).
const OUT_QUEUE: usize = 256;

/// Serves `socket` until it ends; returns why.
pub(super) async fn serve(
    socket: Socket,
    router: &Router,
    options: &RelayOptions,
    stats: &RelayStats,
) -> String {
    let (mut sink, mut stream) = socket.split();
    let (out, mut queued) = mpsc::channel::<Frame>(OUT_QUEUE);
    let mut running: HashMap<String, AbortHandle> = HashMap::new();
    let mut tasks: JoinSet<String> = JoinSet::new();
    let mut ping = tokio::time::interval(options.ping_every);
    ping.tick().await; // the first tick is immediate
    let mut unanswered = 0u32;
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
            Some(frame) = queued.recv() => {
                if let Err(e) = send(&mut sink, Message::Text(frame.to_text().into()), options).await {
                    return e;
                }
            }
            Some(done) = tasks.join_next_with_id() => {
                // Removed by task id, not request id: a request id reused after a cancel
                // must not lose its entry when the old task's result comes in.
                let task = match &done {
                    Ok((task, _)) => *task,
                    Err(e) => e.id(),
                };
                running.retain(|_, h| h.id() != task);
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    on_text(text.as_str(), router, options, stats, &out, &mut running, &mut tasks);
                }
                Some(Ok(Message::Pong(_))) => unanswered = 0,
                Some(Ok(Message::Ping(_))) => {
                    // tungstenite queued the pong; flush it now.
                    match tokio::time::timeout(options.ping_every, sink.flush()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return e.to_string(),
                        Err(_) => return "the platform stopped reading (flush timed out)".into(),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return format!("platform closed the socket ({frame:?})");
                }
                Some(Ok(_)) => tracing::warn!("outbound relay: ignoring a binary frame"),
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                    let close = CloseFrame {
                        code: CloseCode::Size,
                        reason: format!("frame over {max_size} bytes").into(),
                    };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return format!("refused a frame of {size} bytes (limit {max_size})");
                }
                Some(Err(e)) => return e.to_string(),
                None => return "the socket closed".into(),
            },
        }
    }
}

/// Sends `msg`, giving up after one ping interval: a platform that stops reading ends the
/// session (and the relay reconnects) instead of stalling it forever.
async fn send<S>(sink: &mut S, msg: Message, options: &RelayOptions) -> Result<(), String>
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    match tokio::time::timeout(options.ping_every, sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the platform stopped reading (a send took over {:?})",
            options.ping_every
        )),
    }
}

/// Handles one text frame from the platform.
fn on_text(
    text: &str,
    router: &Router,
    options: &RelayOptions,
    stats: &RelayStats,
    out: &mpsc::Sender<Frame>,
    running: &mut HashMap<String, AbortHandle>,
    tasks: &mut JoinSet<String>,
) {
    let frame = match Frame::parse(text) {
        Ok(f) => f,
        Err(e @ (FrameError::TooLarge(_) | FrameError::Invalid(_))) => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %escape(&e.to_string()), "outbound relay: dropping a frame");
            return;
        }
    };
    match frame {
        Frame::Request { ref id, .. } if running.contains_key(id) => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(id = %escape(id), "outbound relay: request id already in flight");
        }
        Frame::Request { ref id, .. } if running.len() >= options.max_in_flight => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            // Never wait here: this loop is what drains the queue.
            for f in refuse(id, 503, "too many relayed requests in flight") {
                let _ = out.try_send(f);
            }
        }
        Frame::Request { .. } => {
            stats.relayed.fetch_add(1, Ordering::Relaxed);
            let id = frame.id().to_owned();
            let handle = tasks.spawn(dispatch(router.clone(), frame, out.clone()));
            running.insert(id, handle);
        }
        Frame::Cancel { id } => {
            if let Some(h) = running.remove(&id) {
                h.abort();
            }
        }
        other => tracing::warn!(
            id = %escape(other.id()),
            "outbound relay: ignoring a frame the platform does not send"
        ),
    }
}
