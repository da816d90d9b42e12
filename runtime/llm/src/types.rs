//! Provider-neutral chat types. They mirror the WIT `llm` interface (`wit/host.wit`) field by
//! field so the host maps them 1:1, plus [`LlmError`], the gateway's error type.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Author of a chat message (WIT `chat-role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions for the model.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

/// A tool call the model asked for (WIT `tool-call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Identifier that the matching tool result must echo.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments as a JSON object, serialised.
    pub arguments: String,
}

/// One message of a conversation (WIT `chat-message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author.
    pub role: ChatRole,
    /// Text content; may be empty when the message only carries tool calls.
    pub content: String,
    /// Tool calls (assistant messages only).
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// For `tool` messages, the id of the call this answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with text only.
    pub fn text(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::text(ChatRole::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::text(ChatRole::User, content)
    }

    /// An assistant message with optional tool calls.
    pub fn assistant(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::text(ChatRole::Assistant, content)
        }
    }

    /// A tool result answering the call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::text(ChatRole::Tool, content)
        }
    }
}

/// A tool the model may call (WIT `tool-spec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Tool name, `[a-z0-9_-]`, 1-64 characters.
    pub name: String,
    /// What the tool does, written for the model.
    pub description: String,
    /// JSON Schema of the tool's input object, serialised.
    pub input_schema: String,
}

/// A completion request (WIT `chat-request`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// `provider:model` (or a bare model / alias), or `None` for the gateway's default model.
    pub model: Option<String>,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Upper bound on generated tokens.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

/// Tokens used by one completion, or accumulated over several (WIT `usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Generated tokens.
    pub output_tokens: u32,
}

impl Usage {
    /// Adds `other` to `self`, saturating at `u32::MAX`.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

/// A finished completion (WIT `chat-response`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The model's message (role `Assistant`), possibly with tool calls.
    pub message: ChatMessage,
    /// Why generation stopped, normalised to Anthropic's vocabulary where one exists:
    /// `end_turn`, `tool_use`, `max_tokens`, `stop_sequence`; other values are passed through.
    pub stop_reason: String,
    /// Token usage.
    pub usage: Usage,
}

/// One increment of a streamed completion (WIT `stream-event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More text.
    TextDelta(String),
    /// A complete tool call (arguments fully assembled).
    ToolCall(ToolCall),
    /// The end of the stream, with the assembled response. Always the last event.
    Done(ChatResponse),
}

/// A streamed completion: events in order, ending with `Done` or an error. Dropping the
/// receiver cancels the upstream request.
pub type ChatStream = tokio::sync::mpsc::Receiver<Result<StreamEvent, LlmError>>;

/// Which WIT `host-error` case an [`LlmError`] maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `host-error::invalid-input`: the request (or model name) cannot be served as given.
    InvalidInput,
    /// `host-error::unavailable`: not reachable now or not configured; trying later may work.
    Unavailable,
    /// `host-error::failed`: the backend answered with an error.
    Failed,
}

/// Why a gateway call did not succeed. Messages name the provider and HTTP status, never a
/// credential (provider error bodies are redacted before they are kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The request cannot be sent as given (bad model name, tool arguments that are not JSON, …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The provider's credential is not configured.
    #[error("{provider}: no credentials configured; set {env_var}")]
    MissingCredentials {
        /// Provider name.
        provider: String,
        /// Environment variable the operator should set.
        env_var: String,
    },
    /// The gateway configuration is unusable (unknown provider, bad script file, …).
    #[error("configuration: {0}")]
    Config(String),
    /// The gateway is offline (smoke mode) and the model needs the network; no connection
    /// was opened.
    #[error("offline in smoke mode: model `{model}` (provider {provider}) would reach the network, and smoke runs never open a connection; a `scripted:` model runs offline")]
    Offline {
        /// Provider name.
        provider: String,
        /// The model, as `provider:model`.
        model: String,
    },
    /// The provider refused the request with a 4xx status other than 401/403/429; not retried.
    #[error("{provider}: HTTP {status}: {message}")]
    Rejected {
        /// Provider name.
        provider: String,
        /// HTTP status.
        status: u16,
        /// Provider's explanation, redacted and truncated.
        message: String,
    },
    /// Transient failure (429, 5xx, overload, timeout, connection error) that persisted after
    /// the retries allowed.
    #[error("{provider}: unavailable{}: {message}", status_suffix(*.status))]
    Unavailable {
        /// Provider name.
        provider: String,
        /// HTTP status, when one was received.
        status: Option<u16>,
        /// What went wrong, redacted and truncated.
        message: String,
    },
    /// The provider answered with an error that retrying will not fix (bad credentials,
    /// malformed response, …).
    #[error("{provider}: failed{}: {message}", status_suffix(*.status))]
    Failed {
        /// Provider name.
        provider: String,
        /// HTTP status, when one was received.
        status: Option<u16>,
        /// What went wrong, redacted and truncated.
        message: String,
    },
}

fn status_suffix(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

impl LlmError {
    /// The WIT `host-error` case this error maps to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LlmError::InvalidInput(_) | LlmError::Rejected { .. } => ErrorKind::InvalidInput,
            LlmError::MissingCredentials { .. } | LlmError::Unavailable { .. } => {
                ErrorKind::Unavailable
            }
            // Offline is final for the whole run: `failed`, so no adapter retries it.
            LlmError::Config(_) | LlmError::Failed { .. } | LlmError::Offline { .. } => {
                ErrorKind::Failed
            }
        }
    }

    /// True for errors a later retry may fix (only [`LlmError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, LlmError::Unavailable { .. })
    }

    /// HTTP status of the provider's answer, when the error came from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Rejected { status, .. } => Some(*status),
            LlmError::Unavailable { status, .. } | LlmError::Failed { status, .. } => *status,
            _ => None,
        }
    }

    pub(crate) fn failed(provider: &str, message: impl Into<String>) -> Self {
        LlmError::Failed {
            provider: provider.to_string(),
            status: None,
            message: message.into(),
        }
    }

    pub(crate) fn unavailable(provider: &str, message: impl Into<String>) -> Self {
        LlmError::Unavailable {
            provider: provider.to_string(),
            status: None,
            message: message.into(),
        }
    }
}

/// Retry policy for transient provider errors: exponential backoff with jitter, bounded by
/// attempts and by total time. `Retry-After` (seconds or HTTP date) and `retry-after-ms` are
/// honoured when they fit in the remaining time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 disables retries).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one computed backoff (a server's `Retry-After` may exceed it).
    pub max_backoff: Duration,
    /// Time budget from the first attempt; no retry starts after it.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(90),
        }
    }
}

/// Time limits of provider HTTP calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// One non-streaming request, from sending to the whole body.
    pub request: Duration,
    /// Longest silence between two chunks of a stream.
    pub stream_idle: Duration,
    /// One streaming request in total.
    pub stream_total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(180),
            stream_idle: Duration::from_secs(90),
            stream_total: Duration::from_secs(900),
        }
    }
}
