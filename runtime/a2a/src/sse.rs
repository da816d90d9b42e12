//! Server-Sent Events framing: turns a task's event receiver into an SSE response whose every
//! `data:` line is one JSON value (a StreamResponse, bare for REST or wrapped in a JSON-RPC
//! response for `POST /`). Each event goes out once the state it carries is stored; a store
//! failure is sent as one error frame that ends the stream. The response ends when the task's
//! stream closes.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;

use crate::error::A2aError;
use crate::manager::{committed_events, EventReceiver};
use crate::types::StreamResponse;

/// Builds the SSE response; `frame` turns each event, or the error that ends the stream, into
/// the text sent as `data:`.
pub(crate) fn sse_response<F>(rx: EventReceiver, frame: F) -> Response
where
    F: Fn(Result<&StreamResponse, &A2aError>) -> String + Send + Sync + 'static,
{
    let stream = committed_events(rx).map(move |ev| {
        let data = frame(ev.as_ref());
        Ok::<Event, Infallible>(Event::default().data(data))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A StreamResponse as 1.0 JSON.
pub(crate) fn v1_json(ev: &StreamResponse) -> Value {
    serde_json::to_value(ev).unwrap_or(Value::Null)
}

/// The REST stream frame: the 1.0 JSON of an event, or the REST error body.
pub(crate) fn rest_frame(ev: Result<&StreamResponse, &A2aError>) -> String {
    match ev {
        Ok(ev) => v1_json(ev).to_string(),
        Err(e) => e.to_rest_body().to_string(),
    }
}
