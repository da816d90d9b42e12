//! Sending A2A JSON-RPC messages to a peer (or to ourselves) through the platform proxy,
//! `POST /workspaces/{peer}/a2a`: up to 5 tries with jittered backoff 1–16 s, transport errors
//! only are retried; 202 `{queued:true, queue_id}` is [`A2aOutcome::Queued`] (not a failure);
//! 503 with `Retry-After` is honoured once, then reported as [`A2aOutcome::Busy`].

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::calls::seg;
use crate::client::PlatformClient;
use crate::error::{snippet, PlatformError};

/// What happened to a message sent through the proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum A2aOutcome {
    /// The peer answered; this is its JSON-RPC response.
    Delivered(Value),
    /// The peer is busy and the platform queued the message.
    Queued {
        /// The platform's queue id.
        queue_id: String,
    },
    /// The peer stayed busy (503) after one wait of `Retry-After`.
    Busy {
        /// The last `Retry-After` the platform gave.
        retry_after: Option<Duration>,
    },
}

impl PlatformClient {
    /// Sends `message` (a JSON-RPC request) to workspace `peer_id` through the platform proxy.
    /// Self-delegation rules belong to the caller: sending to our own id is allowed (the
    /// initial and idle prompts do it).
    pub async fn send_a2a(
        &self,
        peer_id: &str,
        message: &Value,
    ) -> Result<A2aOutcome, PlatformError> {
        let path = format!("/workspaces/{}/a2a", seg(peer_id));
        let backoff = self.inner.a2a_backoff;
        let attempts = backoff.attempts.max(1);
        let mut attempt = 0;
        let mut waited_for_busy = false;
        loop {
            let ans = match self
                .raw("a2a proxy", Method::POST, &path, Some(message), None)
                .await
            {
                Ok(ans) => ans,
                Err(e) if e.is_transport() && attempt + 1 < attempts => {
                    let wait = backoff.delay(attempt);
                    tracing::warn!(peer = peer_id, attempt = attempt + 1, of = attempts, ?wait, error = %e, "A2A send failed, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match ans.status {
                202 => {
                    let v: Value = serde_json::from_str(&ans.body).unwrap_or(Value::Null);
                    let queue_id = v
                        .get("queue_id")
                        .map(|q| {
                            q.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| q.to_string())
                        })
                        .unwrap_or_default();
                    return Ok(A2aOutcome::Queued { queue_id });
                }
                503 => match ans.retry_after {
                    Some(wait) if !waited_for_busy => {
                        waited_for_busy = true;
                        let wait = wait.min(self.inner.retry_after_cap);
                        tracing::info!(
                            peer = peer_id,
                            ?wait,
                            "peer busy, waiting Retry-After once"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    retry_after => return Ok(A2aOutcome::Busy { retry_after }),
                },
                s if (200..300).contains(&s) => {
                    let v = if ans.body.trim().is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&ans.body).map_err(|e| PlatformError::Decode {
                            call: "a2a proxy",
                            detail: format!("{e} in {}", snippet(&ans.body)),
                        })?
                    };
                    return Ok(A2aOutcome::Delivered(v));
                }
                status => {
                    return Err(PlatformError::Status {
                        call: "a2a proxy",
                        status,
                        body: snippet(&ans.body),
                    })
                }
            }
        }
    }

    /// Sends `text` as a user message to our own workspace through the proxy (initial and idle
    /// prompts). Returns the outcome; `Busy` and `Queued` are not errors.
    pub async fn send_to_self(&self, text: &str) -> Result<A2aOutcome, PlatformError> {
        let id = self.workspace_id().to_string();
        self.send_a2a(&id, &message_send(text)).await
    }
}

/// A JSON-RPC `message/send` request (A2A 0.3 wire form, which both the Python runtime and our
/// A2A server accept) carrying one text part.
pub fn message_send(text: &str) -> Value {
    let id = format!(
        "{:016x}{:016x}",
        (crate::backoff::unit_random() * u64::MAX as f64) as u64,
        (crate::backoff::unit_random() * u64::MAX as f64) as u64
    );
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": id,
                "role": "user",
                "parts": [{"kind": "text", "text": text}]
            }
        }
    })
}
