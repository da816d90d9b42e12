//! Server-Sent Events framing: turns a task's event receiver into an SSE response whose every
//! `data:` line is one JSON value (a StreamResponse, bare for REST or wrapped in a JSON-RPC
//! response for `POST /`). The response ends when the task's stream closes.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::manager::EventReceiver;
use crate::types::StreamResponse;

/// Builds the SSE response; `frame` turns each event into the JSON sent as `data:`.
pub(crate) fn sse_response<F>(rx: EventReceiver, frame: F) -> Response
where
    F: Fn(&StreamResponse) -> Value + Send + Sync + 'static,
{
    let stream = UnboundedReceiverStream::new(rx).map(move |ev| {
        let data = frame(&ev).to_string();
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
