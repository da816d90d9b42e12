//! One model turn: a completion (or a streamed completion whose text goes to an
//! `ArtifactStreamer`), retried on `host-error::unavailable` with bounded exponential backoff.
//! A stream is retried only while it has not produced text yet (text already shown to the
//! client cannot be taken back). A stream that ends without `done` is assembled from its
//! deltas and tool calls.

use super::{AgentError, AgentHost, ArtifactStreamer};
use crate::llm::{ChatMessage, ChatRequest, ChatResponse, StreamEvent, Usage};
use crate::log::Level;
use crate::types::HostError;

/// How often and how patiently to retry a model call the gateway answered `unavailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, at least 1 (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry, in milliseconds; doubled for each further retry.
    pub initial_backoff_ms: u64,
    /// Upper bound of one wait, in milliseconds.
    pub max_backoff_ms: u64,
}

impl RetryPolicy {
    /// No retries.
    pub const fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            initial_backoff_ms: 0,
            max_backoff_ms: 0,
        }
    }

    /// `attempts` tries with waits of `initial_backoff_ms`, doubling, capped at
    /// `max_backoff_ms`.
    pub const fn new(attempts: u32, initial_backoff_ms: u64, max_backoff_ms: u64) -> Self {
        RetryPolicy {
            attempts,
            initial_backoff_ms,
            max_backoff_ms,
        }
    }

    /// The wait before retry number `retry` (0-based).
    pub fn backoff_ms(&self, retry: u32) -> u64 {
        let factor = 1u64.checked_shl(retry.min(32)).unwrap_or(u64::MAX);
        self.initial_backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::none()
    }
}

/// Runs one model turn. With `streamer`, the request is streamed and its text pushed to the
/// streamer (separated from earlier turns' text by a blank line); otherwise it is completed.
/// `unavailable` is retried per `retry`; `cancelled` is [`AgentError::Cancelled`]; other
/// failures are [`AgentError::Host`].
pub fn model_turn(
    host: &dyn AgentHost,
    request: &ChatRequest,
    retry: RetryPolicy,
    mut streamer: Option<&mut ArtifactStreamer>,
) -> Result<ChatResponse, AgentError> {
    let attempts = retry.attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (result, streamed_text) = match streamer.as_deref_mut() {
            Some(s) => stream_once(host, request, s),
            None => (host.complete(request), false),
        };
        match result {
            Ok(response) => {
                // Tool calls follow: the turn's text is complete, send all of it now (a call
                // may pause the task for a human, ending this call before the next turn).
                if let Some(s) = streamer.as_deref_mut() {
                    if !response.message.tool_calls.is_empty() {
                        s.flush(host)?;
                    }
                }
                return Ok(response);
            }
            Err(HostError::Unavailable(text)) if attempt < attempts && !streamed_text => {
                let wait = retry.backoff_ms(attempt - 1);
                host.log(
                    Level::Warn,
                    &format!(
                        "model unavailable ({text}); retry {attempt}/{} in {wait} ms",
                        attempts - 1
                    ),
                );
                host.sleep(wait);
            }
            Err(err) => return Err(AgentError::host("model call", err)),
        }
    }
}

/// One streamed attempt: the response (or error) and whether any text reached the client.
fn stream_once(
    host: &dyn AgentHost,
    request: &ChatRequest,
    streamer: &mut ArtifactStreamer,
) -> (Result<ChatResponse, HostError>, bool) {
    let events = match host.stream(request) {
        Ok(events) => events,
        Err(err) => return (Err(err), false),
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for event in events {
        match event {
            Ok(StreamEvent::TextDelta(delta)) => {
                if text.is_empty() && streamer.has_text() && !delta.is_empty() {
                    if let Err(err) = streamer.push(host, "\n\n") {
                        return (Err(to_host(err)), true);
                    }
                }
                text.push_str(&delta);
                if let Err(err) = streamer.push(host, &delta) {
                    return (Err(to_host(err)), true);
                }
            }
            Ok(StreamEvent::ToolCall(call)) => calls.push(call),
            Ok(StreamEvent::Done(mut response)) => {
                if response.message.content.is_empty() {
                    response.message.content = text;
                }
                if response.message.tool_calls.is_empty() {
                    response.message.tool_calls = calls;
                }
                return (Ok(response), true);
            }
            Err(err) => {
                let shown = !text.is_empty();
                return (Err(err), shown);
            }
        }
    }
    // The stream ended without `done`: assemble what arrived.
    let stop_reason = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    let message = ChatMessage {
        tool_calls: calls,
        ..ChatMessage::assistant(text)
    };
    let response = ChatResponse {
        message,
        stop_reason: stop_reason.to_string(),
        usage: Usage {
            input_tokens: 0,
            output_tokens: 0,
        },
    };
    (Ok(response), true)
}

fn to_host(err: AgentError) -> HostError {
    match err {
        AgentError::Cancelled => HostError::Cancelled,
        AgentError::Host(text) | AgentError::Invalid(text) => HostError::Failed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{FakeHost, HostEvent};

    fn req() -> ChatRequest {
        ChatRequest::new(vec![ChatMessage::user("hi")])
    }

    #[test]
    fn retries_unavailable_with_bounded_backoff() {
        let host = FakeHost::new()
            .reply_error(HostError::Unavailable("down".into()))
            .reply_error(HostError::Unavailable("down".into()))
            .reply_text("ok");
        let policy = RetryPolicy::new(4, 100, 150);
        let response = model_turn(&host, &req(), policy, None).unwrap();
        assert_eq!(response.message.content, "ok");
        assert_eq!(
            host.events(),
            vec![HostEvent::Sleep(100), HostEvent::Sleep(150)]
        );
    }

    #[test]
    fn gives_up_after_attempts_and_never_retries_failed() {
        let host = FakeHost::new()
            .reply_error(HostError::Unavailable("down".into()))
            .reply_error(HostError::Unavailable("still down".into()));
        let err = model_turn(&host, &req(), RetryPolicy::new(2, 1, 1), None).unwrap_err();
        assert_eq!(
            err,
            AgentError::Host("model call: unavailable: still down".into())
        );

        let host = FakeHost::new().reply_error(HostError::Failed("bad".into()));
        assert!(model_turn(&host, &req(), RetryPolicy::new(3, 1, 1), None).is_err());
        assert_eq!(host.remaining_replies(), 0);

        let host = FakeHost::new().reply_error(HostError::Cancelled);
        let err = model_turn(&host, &req(), RetryPolicy::new(3, 1, 1), None).unwrap_err();
        assert_eq!(err, AgentError::Cancelled);
    }

    #[test]
    fn streams_text_between_turns_with_separator() {
        let host = FakeHost::new()
            .reply_text("first part")
            .reply_text("second");
        let mut s = ArtifactStreamer::with_id("r", None);
        model_turn(&host, &req(), RetryPolicy::none(), Some(&mut s)).unwrap();
        let r = model_turn(&host, &req(), RetryPolicy::none(), Some(&mut s)).unwrap();
        s.finish(&host).unwrap();
        assert_eq!(r.message.content, "second");
        assert_eq!(host.artifact_text("r"), "first part\n\nsecond");
    }

    #[test]
    fn backoff_saturates() {
        let p = RetryPolicy::new(100, 500, 8_000);
        assert_eq!(p.backoff_ms(0), 500);
        assert_eq!(p.backoff_ms(3), 4_000);
        assert_eq!(p.backoff_ms(99), 8_000);
    }
}
