//! The [`Provider`] trait every model backend implements, and helpers shared by providers:
//! taking the neutral request apart for the request bodies (system prompt, conversation parts
//! merged into turns, tool-call arguments, tool declarations), JSON parsing of streamed tool
//! arguments and stream channels.

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::types::{
    ChatMessage, ChatRequest, ChatResponse, ChatRole, ChatStream, LlmError, StreamEvent, ToolCall,
    ToolSpec,
};

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
fn parse_arguments(arguments: &str, where_: impl FnOnce() -> String) -> Result<Value, LlmError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
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
fn parse_schema(name: &str, schema: &str) -> Result<Value, LlmError> {
    if schema.trim().is_empty() {
        return Ok(json!({"type": "object"}));
    }
    serde_json::from_str(schema).map_err(|e| {
        LlmError::InvalidInput(format!("tool `{name}`: input schema is not JSON: {e}"))
    })
}

/// The arguments of tool call `call` in message `index`, parsed into a JSON object.
pub(crate) fn call_arguments(index: usize, call: &ToolCall) -> Result<Value, LlmError> {
    parse_arguments(&call.arguments, || {
        format!("message {index}, tool call `{}`", call.name)
    })
}

/// The id of the call that tool message `message` (at `index`) answers; required.
pub(crate) fn tool_call_id(index: usize, message: &ChatMessage) -> Result<&str, LlmError> {
    message.tool_call_id.as_deref().ok_or_else(|| {
        LlmError::InvalidInput(format!(
            "message {index}: tool message without tool_call_id"
        ))
    })
}

/// The tool declarations of a request body: `shape` turns each tool and its parsed input
/// schema into the provider's JSON.
pub(crate) fn tool_declarations(
    tools: &[ToolSpec],
    mut shape: impl FnMut(&ToolSpec, Value) -> Value,
) -> Result<Vec<Value>, LlmError> {
    tools
        .iter()
        .map(|t| Ok(shape(t, parse_schema(&t.name, &t.input_schema)?)))
        .collect()
}

/// The system prompt of a conversation for providers that take it apart from the messages:
/// the non-empty system messages joined by a blank line, `None` if there are none.
pub(crate) fn system_prompt(messages: &[ChatMessage]) -> Option<String> {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == ChatRole::System && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    (!system.is_empty()).then(|| system.join("\n\n"))
}

/// One piece of the non-system messages of a conversation, as block-based bodies
/// (Anthropic's content blocks, Gemini's parts) are built from them.
pub(crate) enum Part<'a> {
    /// The text of a user message, possibly empty.
    UserText(&'a str),
    /// The text of an assistant message that has one.
    AssistantText(&'a str),
    /// A tool call of an assistant message, with its arguments parsed.
    ToolCall(&'a ToolCall, Value),
    /// A tool message: `content` is the result of the call `id`.
    ToolResult {
        /// The id of the call answered.
        id: &'a str,
        /// The result text.
        content: &'a str,
    },
}

/// Calls `f` with the index and each [`Part`] of every non-system message, in order; the
/// first error (tool-call arguments that are not a JSON object, a tool message without
/// `tool_call_id`, or `f`'s own) stops the walk.
pub(crate) fn for_each_part<'a>(
    messages: &'a [ChatMessage],
    mut f: impl FnMut(usize, Part<'a>) -> Result<(), LlmError>,
) -> Result<(), LlmError> {
    for (i, m) in messages.iter().enumerate() {
        match m.role {
            ChatRole::System => {}
            ChatRole::User => f(i, Part::UserText(&m.content))?,
            ChatRole::Assistant => {
                if !m.content.is_empty() {
                    f(i, Part::AssistantText(&m.content))?;
                }
                for c in &m.tool_calls {
                    f(i, Part::ToolCall(c, call_arguments(i, c)?))?;
                }
            }
            ChatRole::Tool => {
                let id = tool_call_id(i, m)?;
                f(
                    i,
                    Part::ToolResult {
                        id,
                        content: &m.content,
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// The turns of a block-based body: consecutive blocks of the same role are merged into one
/// turn, as the APIs that want alternating roles require.
#[derive(Default)]
pub(crate) struct Turns(Vec<(&'static str, Vec<Value>)>);

impl Turns {
    /// Appends `block` to the last turn if it has `role`, else starts a turn.
    pub(crate) fn push(&mut self, role: &'static str, block: Value) {
        match self.0.last_mut() {
            Some((r, blocks)) if *r == role => blocks.push(block),
            _ => self.0.push((role, vec![block])),
        }
    }

    /// The turns as JSON: `{"role": <role>, <blocks_key>: [<blocks>…]}` each.
    pub(crate) fn into_json(self, blocks_key: &str) -> Vec<Value> {
        self.0
            .into_iter()
            .map(|(role, blocks)| {
                let mut turn = json!({"role": role});
                turn[blocks_key] = Value::Array(blocks);
                turn
            })
            .collect()
    }
}

/// Normalises accumulated JSON argument text from a provider (empty → `{}`), checking that it
/// parses.
pub(crate) fn finish_arguments(provider: &str, name: &str, raw: &str) -> Result<String, LlmError> {
    if raw.trim().is_empty() {
        return Ok("{}".to_string());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => Ok(v.to_string()),
        Err(e) => Err(LlmError::failed(
            provider,
            format!("tool call `{name}`: model produced arguments that are not JSON: {e}"),
        )),
    }
}

/// Reads a `u32` token count from a JSON value, tolerating absence.
pub(crate) fn tokens(v: &Value) -> u32 {
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
