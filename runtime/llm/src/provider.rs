//! The [`Provider`] trait every model backend implements, and helpers shared by providers
//! (JSON parsing of tool arguments, stop-reason normalisation, stream channels).

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::types::{ChatRequest, ChatResponse, ChatStream, LlmError, StreamEvent};

/// A model backend. Implementations hold their credentials and base URL; they never read the
/// process environment.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Short provider name used in errors and logs, e.g. `anthropic`.
    fn name(&self) -> &str;

    /// Runs a completion with `model` (already resolved: no provider prefix, no alias) and
    /// waits for the whole answer. `request.model` is ignored.
    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// Starts a streamed completion. Errors before the first byte of the answer (credentials,
    /// 4xx, retries exhausted) are returned here; later ones arrive on the stream.
    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError>;
}

/// Capacity of the channel behind a [`ChatStream`].
pub(crate) const STREAM_CHANNEL: usize = 64;

/// A new stream channel.
pub(crate) fn stream_channel() -> (mpsc::Sender<Result<StreamEvent, LlmError>>, ChatStream) {
    mpsc::channel(STREAM_CHANNEL)
}

/// Parses serialised tool-call arguments into a JSON object (`""` counts as `{}`).
pub(crate) fn parse_arguments(
    arguments: &str,
    where_: impl FnOnce() -> String,
) -> Result<serde_json::Value, LlmError> {
    if arguments.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(LlmError::InvalidInput(format!(
            "{}: tool call arguments must be a JSON object",
            where_()
        ))),
        Err(e) => Err(LlmError::InvalidInput(format!(
            "{}: tool call arguments are not JSON: {e}",
            where_()
        ))),
    }
}

/// Parses a tool's input schema; an empty schema means "any object".
pub(crate) fn parse_schema(name: &str, schema: &str) -> Result<serde_json::Value, LlmError> {
    if schema.trim().is_empty() {
        return Ok(serde_json::json!({"type": "object"}));
    }
    serde_json::from_str(schema).map_err(|e| {
        LlmError::InvalidInput(format!("tool `{name}`: input schema is not JSON: {e}"))
    })
}

/// Normalises accumulated JSON argument text from a provider (empty → `{}`), checking that it
/// parses.
pub(crate) fn finish_arguments(provider: &str, name: &str, raw: &str) -> Result<String, LlmError> {
    if raw.trim().is_empty() {
        return Ok("{}".to_string());
    }
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) => Ok(v.to_string()),
        Err(e) => Err(LlmError::failed(
            provider,
            format!("tool call `{name}`: model produced arguments that are not JSON: {e}"),
        )),
    }
}

/// Reads a `u32` token count from a JSON value, tolerating absence.
pub(crate) fn tokens(v: &serde_json::Value) -> u32 {
    v.as_u64()
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// Retry and timeout settings of a network provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpOptions {
    /// Retries of transient errors.
    pub retry: crate::types::RetryPolicy,
    /// Time limits.
    pub timeouts: crate::types::Timeouts,
}
