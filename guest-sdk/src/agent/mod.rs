//! The agent-loop library adapters are built from (feature `adapter`).
//!
//! Everything here is written against the small `AgentHost` trait instead of the raw imports:
//! `WasmHost` forwards to the host imports inside a component, `FakeHost` is an in-memory,
//! scripted host for native unit tests. Building blocks:
//!
//! * `config.rs`       — `AgentConfig` (the setup JSON) and `RuntimeConfig` typed getters;
//!   `SetupCell` to carry the config from `setup` to `execute`.
//! * `conversation.rs` — chat messages from system prompt + A2A history + the new message.
//! * `stream.rs`       — `ArtifactStreamer`: streamed text as artifact chunks.
//! * `turn.rs`         — one model turn (complete or stream) with bounded retries.
//! * `tools.rs`        — executing tool calls (host tools + in-adapter `LocalTools`).
//! * `react.rs`        — the ReAct tool loop with a turn limit.
//! * `output.rs`       — finishing a task (final artifact + completed status message).
//!
//! The agent-loop library: the building blocks of an adapter, testable natively.
//!
//! Write the loop against [`AgentHost`]; inside a component pass [`WasmHost`], in unit tests a
//! scripted [`FakeHost`]:
//!
//! ```
//! use molecule_guest_sdk::agent::{
//!     build_conversation, run_tool_loop, FakeHost, LoopOptions, NoLocalTools,
//! };
//! use molecule_guest_sdk::types::Message;
//!
//! let host = FakeHost::new().reply_text("4");
//! let messages = build_conversation("Be terse.", &[], &Message::user_text("2+2?"));
//! let outcome =
//!     run_tool_loop(&host, messages, &LoopOptions::default(), &mut NoLocalTools).unwrap();
//! assert_eq!(outcome.text, "4");
//! ```

mod config;
mod conversation;
mod fake;
mod output;
mod react;
mod stream;
mod tools;
mod turn;
mod wasm;

pub use config::{AgentConfig, RuntimeConfig, SetupCell};
pub use conversation::{
    build_conversation, host_decisions, is_internal_data, message_to_text, transcript,
    with_decisions, DECISIONS_HEADING, DECISION_POINTER, INTERNAL_KIND_PREFIX,
};
pub use fake::{FakeHost, HostEvent};
pub use output::{begin, finish, finish_with_parts, test_context, RESPONSE_ARTIFACT};
pub use react::{offered_tools, run_tool_loop, LoopOptions, LoopOutcome, StopReason};
pub use stream::ArtifactStreamer;
pub use tools::{
    execute_tool_calls, filter_tools, tool_error_text, LocalTools, NoLocalTools, ToolOutput,
};
pub use turn::{model_turn, RetryPolicy};
pub use wasm::WasmHost;

use crate::llm::{ChatRequest, ChatResponse, StreamEvent};
use crate::log::Level;
use crate::memory::Scope;
use crate::types::{Artifact, HostError, Message, TaskState, ToolError, ToolSpec};

/// The events of a streamed completion, in order, ending after `done`.
pub type ChatEvents<'a> = Box<dyn Iterator<Item = Result<StreamEvent, HostError>> + 'a>;

/// What an agent loop needs from its host: the model, tools, task events, memory and logs.
///
/// Methods take `&self` so that a stream of events and the artifact emitter can be used at
/// the same time; implementations with state use interior mutability.
pub trait AgentHost {
    /// Runs a completion and waits for the whole answer.
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, HostError>;

    /// Starts a streamed completion.
    fn stream(&self, request: &ChatRequest) -> Result<ChatEvents<'_>, HostError>;

    /// Every tool the adapter may call (skill tools and host built-ins).
    fn list_tools(&self) -> Vec<ToolSpec>;

    /// Calls tool `name` with JSON text `input`; returns its JSON text output.
    fn call_tool(&self, name: &str, input: &str) -> Result<String, ToolError>;

    /// Moves the task to `state`, with an optional message.
    fn update_status(&self, state: TaskState, message: Option<&Message>) -> Result<(), HostError>;

    /// Adds or extends an artifact.
    fn add_artifact(&self, artifact: &Artifact) -> Result<(), HostError>;

    /// Sends a message to the client without changing the task state.
    fn send_message(&self, message: &Message) -> Result<(), HostError>;

    /// Answers with `message` as the whole answer (WIT `events.reply`): called before any
    /// other event, the client gets this A2A Message instead of a task; later, it completes
    /// the task with `message`. Events after it fail with `cancelled`.
    fn reply(&self, message: &Message) -> Result<(), HostError>;

    /// Stores `content` in long-term memory under `scope`; returns its id.
    fn commit_memory(&self, content: &str, scope: Scope) -> Result<String, HostError>;

    /// Sets the heartbeat's "current task" summary.
    fn set_current_task(&self, summary: &str);

    /// Writes a log record.
    fn log(&self, level: Level, message: &str);

    /// Waits `millis` milliseconds (retry backoff). The fake only records it.
    fn sleep(&self, millis: u64);
}

/// Why an agent loop stopped without an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentError {
    /// A host call answered `cancelled`: the task was cancelled, return promptly.
    Cancelled,
    /// A host call failed in a way the loop cannot recover from; the text says which.
    Host(String),
    /// The configuration or request is unusable; the text says why.
    Invalid(String),
}

impl AgentError {
    /// Wraps a host error from `what` (e.g. `"llm.complete"`); `cancelled` stays
    /// [`AgentError::Cancelled`].
    pub fn host(what: &str, err: HostError) -> Self {
        match err {
            HostError::Cancelled => AgentError::Cancelled,
            other => AgentError::Host(format!("{what}: {}", describe_host_error(&other))),
        }
    }
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentError::Cancelled => f.write_str("cancelled"),
            AgentError::Host(text) | AgentError::Invalid(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for AgentError {}

impl From<AgentError> for String {
    fn from(err: AgentError) -> Self {
        err.to_string()
    }
}

/// `kind: text` for a host error, e.g. `unavailable: gateway down`.
pub fn describe_host_error(err: &HostError) -> String {
    let kind = match err {
        HostError::Denied(_) => "denied",
        HostError::InvalidInput(_) => "invalid input",
        HostError::Unavailable(_) => "unavailable",
        HostError::Failed(_) => "failed",
        HostError::Cancelled => return "cancelled".to_string(),
    };
    format!("{kind}: {}", err.text())
}

/// How the host's text of a spent budget begins (`budget spent: events per task is limited
/// to 5 (raise sandbox.task.max_events)`).
pub const BUDGET_SPENT: &str = "budget spent:";

/// True when `err` is the host refusing because a budget of the task or call is spent.
pub fn is_budget_spent(err: &HostError) -> bool {
    matches!(err, HostError::Failed(text) if text.starts_with(BUDGET_SPENT))
}

/// Runs a best-effort event call (status, artifact, message): `cancelled` is returned as
/// [`AgentError::Cancelled`]; a spent task budget (events or artifact bytes, see
/// [`is_budget_spent`]) as [`AgentError::Host`], because the host refuses every later event
/// of the task and ends it FAILED with that error, so going on is wasted work (and the host
/// logs it once: nothing is logged here); any other failure is logged and ignored.
pub fn best_effort(
    host: &dyn AgentHost,
    what: &str,
    result: Result<(), HostError>,
) -> Result<(), AgentError> {
    match result {
        Ok(()) => Ok(()),
        Err(HostError::Cancelled) => Err(AgentError::Cancelled),
        Err(err) if is_budget_spent(&err) => Err(AgentError::host(what, err)),
        Err(err) => {
            host.log(
                Level::Warn,
                &format!("{what} failed: {}", describe_host_error(&err)),
            );
            Ok(())
        }
    }
}
