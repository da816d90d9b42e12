//! Safe, ergonomic wrappers over the host imports of molecule:runtime@0.1.0.
//!
//! Every world (skill and adapter) imports the same interfaces, so these wrappers are shared.
//! They re-export the generated types under readable paths (`memory::Scope`, `llm::ChatMessage`,
//! ...), take `&str` / `impl AsRef<str>` where the bindings want borrowed data, speak
//! `serde_json::Value` where the WIT says `json`, and add small constructors to the generated
//! records. The generated types live in this crate, so inherent impls and trait impls on them
//! are allowed here.

use crate::bindings::molecule::runtime as raw;

/// Types shared by every interface: tool descriptions, typed errors and the A2A message model.
pub mod types;

/// A fresh random identifier (32 hex digits) for messages and artifacts.
///
/// Uses the host's WASI random source through std's `RandomState`, so it needs no dependency.
pub fn new_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let word = || RandomState::new().build_hasher().finish();
    format!("{:016x}{:016x}", word(), word())
}

/// Structured logging into the host's log, tagged with the calling component.
///
/// Prefer this over `println!`: the host routes stdout/stderr to its log too, but without a
/// level.
pub mod log {
    pub use super::raw::log::Level;

    /// Writes one record at `level`. Long messages are truncated by the host.
    pub fn write(level: Level, message: impl AsRef<str>) {
        super::raw::log::write(level, message.as_ref());
    }

    /// Writes a `trace` record.
    pub fn trace(message: impl AsRef<str>) {
        write(Level::Trace, message);
    }

    /// Writes a `debug` record.
    pub fn debug(message: impl AsRef<str>) {
        write(Level::Debug, message);
    }

    /// Writes an `info` record.
    pub fn info(message: impl AsRef<str>) {
        write(Level::Info, message);
    }

    /// Writes a `warn` record.
    pub fn warn(message: impl AsRef<str>) {
        write(Level::Warn, message);
    }

    /// Writes an `error` record.
    pub fn error(message: impl AsRef<str>) {
        write(Level::Error, message);
    }
}

/// Configuration values the operator granted to this component, and nothing else.
pub mod config {
    use super::types::HostError;

    /// The granted value of `key`: `Ok(None)` when the key is granted but unset,
    /// `Err(HostError::Denied)` when it was not granted to this component.
    pub fn get(key: &str) -> Result<Option<String>, HostError> {
        super::raw::config::get(key)
    }

    /// Like [`get`], but an unset key is `Err(HostError::InvalidInput)` naming the key.
    pub fn require(key: &str) -> Result<String, HostError> {
        get(key)?.ok_or_else(|| HostError::InvalidInput(format!("config key `{key}` is not set")))
    }

    /// Names of every key granted to this component.
    pub fn keys() -> Vec<String> {
        super::raw::config::keys()
    }
}

/// Long-term memory shared per scope.
pub mod memory {
    pub use super::raw::memory::{MemoryEntry, Scope};
    use super::types::HostError;

    /// Stores `content` under `scope` and returns its id once it is durable.
    pub fn commit(content: &str, scope: Scope) -> Result<String, HostError> {
        super::raw::memory::commit(content, scope)
    }

    /// Finds up to `limit` memories relevant to `query`, best first. `scope: None` searches
    /// every scope this workspace can read.
    pub fn search(
        query: &str,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError> {
        super::raw::memory::search(query, scope, limit)
    }

    impl Scope {
        /// The WIT name of the scope: `local`, `team` or `global`.
        pub fn as_str(self) -> &'static str {
            match self {
                Scope::Local => "local",
                Scope::Team => "team",
                Scope::Global => "global",
            }
        }
    }

    impl std::str::FromStr for Scope {
        type Err = String;

        /// Parses `local`, `team` or `global`.
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            match s {
                "local" => Ok(Scope::Local),
                "team" => Ok(Scope::Team),
                "global" => Ok(Scope::Global),
                other => Err(format!(
                    "unknown scope `{other}`, expected `local`, `team` or `global`"
                )),
            }
        }
    }

    impl serde::Serialize for Scope {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.as_str())
        }
    }

    impl<'de> serde::Deserialize<'de> for Scope {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = String::deserialize(d)?;
            text.parse().map_err(serde::de::Error::custom)
        }
    }

    impl serde::Serialize for MemoryEntry {
        /// Serializes as `{"id", "content", "scope", "created_at", "score"}`.
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStruct;
            let mut st = s.serialize_struct("MemoryEntry", 5)?;
            st.serialize_field("id", &self.id)?;
            st.serialize_field("content", &self.content)?;
            st.serialize_field("scope", &self.scope)?;
            st.serialize_field("created_at", &self.created_at)?;
            st.serialize_field("score", &self.score)?;
            st.end()
        }
    }
}

/// Talking to other workspaces (peers) over A2A.
pub mod a2a {
    pub use super::raw::a2a::{DelegationStatus, Peer, SendResult};
    use super::types::{HostError, Message};

    /// Lists the peers this workspace may contact.
    pub fn list_peers() -> Result<Vec<Peer>, HostError> {
        super::raw::a2a::list_peers()
    }

    /// Sends `message` to `peer_id` and waits for its answer.
    pub fn send(peer_id: &str, message: &Message) -> Result<SendResult, HostError> {
        super::raw::a2a::send(peer_id, message)
    }

    /// Sends a plain-text message to `peer_id` and waits for its answer.
    pub fn send_text(peer_id: &str, text: &str) -> Result<SendResult, HostError> {
        send(peer_id, &Message::user_text(text))
    }

    /// Hands `task` to `peer_id` without waiting; returns a delegation id.
    pub fn delegate(peer_id: &str, task: &str) -> Result<String, HostError> {
        super::raw::a2a::delegate(peer_id, task)
    }

    /// Reports the state of an earlier delegation.
    pub fn delegation_status(id: &str) -> Result<DelegationStatus, HostError> {
        super::raw::a2a::check_delegation(id)
    }
}

/// Liveness signals the host forwards to the platform.
pub mod heartbeat {
    /// Sets the human-readable summary of what the component is doing now.
    pub fn set_current_task(summary: &str) {
        super::raw::heartbeat::set_current_task(summary);
    }

    /// Declares the runtime wedged: it can no longer make progress. The host reports it.
    pub fn report_wedged(reason: &str) {
        super::raw::heartbeat::report_wedged(reason);
    }
}

/// The model gateway: chat completions with tool calls. Credentials stay in the host.
pub mod llm {
    pub use super::raw::llm::{
        ChatMessage, ChatRequest, ChatResponse, ChatRole, ChatStream, StreamEvent, ToolCall, Usage,
    };
    use super::types::{HostError, ToolSpec};
    use serde_json::Value;

    /// Runs a completion and waits for the whole answer.
    pub fn complete(request: &ChatRequest) -> Result<ChatResponse, HostError> {
        super::raw::llm::complete(request)
    }

    /// Starts a streamed completion; iterate the returned [`ChatStream`] for its events.
    pub fn stream(request: &ChatRequest) -> Result<ChatStream, HostError> {
        super::raw::llm::stream(request)
    }

    /// One-shot helper: sends a single user `prompt` to the workspace's model and returns the
    /// text of the answer.
    pub fn ask(prompt: &str) -> Result<String, HostError> {
        Ok(
            complete(&ChatRequest::new(vec![ChatMessage::user(prompt)]))?
                .message
                .content,
        )
    }

    impl Iterator for ChatStream {
        type Item = Result<StreamEvent, HostError>;

        /// The next event; `None` after `done` was returned. An error is yielded once and
        /// then also ends the iteration on the host's side.
        fn next(&mut self) -> Option<Self::Item> {
            ChatStream::next(self).transpose()
        }
    }

    impl ChatMessage {
        fn plain(role: ChatRole, content: impl Into<String>) -> Self {
            ChatMessage {
                role,
                content: content.into(),
                tool_calls: Vec::new(),
                tool_call_id: None,
            }
        }

        /// A system (instructions) message.
        pub fn system(content: impl Into<String>) -> Self {
            Self::plain(ChatRole::System, content)
        }

        /// A user message.
        pub fn user(content: impl Into<String>) -> Self {
            Self::plain(ChatRole::User, content)
        }

        /// An assistant message without tool calls.
        pub fn assistant(content: impl Into<String>) -> Self {
            Self::plain(ChatRole::Assistant, content)
        }

        /// The result of tool call `call_id`, to send back to the model.
        pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
            ChatMessage {
                tool_call_id: Some(call_id.into()),
                ..Self::plain(ChatRole::Tool, content)
            }
        }
    }

    impl ChatRequest {
        /// A request for the workspace's configured model with default parameters and no
        /// tools.
        pub fn new(messages: Vec<ChatMessage>) -> Self {
            ChatRequest {
                model: None,
                messages,
                tools: Vec::new(),
                max_tokens: None,
                temperature: None,
            }
        }

        /// Selects a model as `provider:model`.
        pub fn model(mut self, model: impl Into<String>) -> Self {
            self.model = Some(model.into());
            self
        }

        /// Offers these tools to the model.
        pub fn tools(mut self, tools: Vec<ToolSpec>) -> Self {
            self.tools = tools;
            self
        }

        /// Caps generated tokens.
        pub fn max_tokens(mut self, max_tokens: u32) -> Self {
            self.max_tokens = Some(max_tokens);
            self
        }

        /// Sets the sampling temperature.
        pub fn temperature(mut self, temperature: f32) -> Self {
            self.temperature = Some(temperature);
            self
        }
    }

    impl ToolCall {
        /// The call's arguments parsed as JSON (`Value::Null` if the text is not JSON).
        pub fn arguments_value(&self) -> Value {
            serde_json::from_str(&self.arguments).unwrap_or(Value::Null)
        }
    }
}

/// The workspace's tools: skill tools plus built-ins such as memory and delegation.
pub mod tools {
    use super::types::{ToolError, ToolSpec};
    use serde_json::Value;

    /// Every tool this component may call.
    pub fn list() -> Vec<ToolSpec> {
        super::raw::tools::list()
    }

    /// Calls tool `name` with `input` and returns its JSON output, parsed. Each call runs in
    /// its own sandbox with the limits and grants of the skill that owns the tool.
    pub fn call(name: &str, input: &Value) -> Result<Value, ToolError> {
        let out = call_raw(name, &input.to_string())?;
        serde_json::from_str(&out).map_err(|e| {
            ToolError::Failed(format!(
                "tool `{name}` returned output that is not JSON: {e}"
            ))
        })
    }

    /// Calls tool `name` with JSON text `input` and returns its JSON text output unparsed.
    pub fn call_raw(name: &str, input: &str) -> Result<String, ToolError> {
        super::raw::tools::call(name, input)
    }
}

/// Progress of the task the component is executing, forwarded to A2A clients in order.
pub mod events {
    use super::types::{Artifact, HostError, Message, TaskState};

    /// Moves the task to `state`, with an optional message explaining it.
    pub fn status(state: TaskState, message: Option<&Message>) -> Result<(), HostError> {
        super::raw::events::update_status(state, message)
    }

    /// Adds or extends an artifact.
    pub fn artifact(artifact: &Artifact) -> Result<(), HostError> {
        super::raw::events::add_artifact(artifact)
    }

    /// Sends a message to the client without changing the task state.
    pub fn message(message: &Message) -> Result<(), HostError> {
        super::raw::events::send_message(message)
    }

    /// Answers with `message` as the whole answer: a client gets this Message and no task
    /// (A2A "message as the first event"). Call it before any other event and return `Ok`;
    /// after other events (or the host's short grace) it completes the task with `message`.
    /// Later events fail with `cancelled`.
    pub fn reply(message: &Message) -> Result<(), HostError> {
        super::raw::events::reply(message)
    }

    /// [`reply`] with a plain-text agent message.
    pub fn reply_text(text: impl Into<String>) -> Result<(), HostError> {
        reply(&Message::agent_text(text))
    }

    /// Sends a plain-text agent message to the client.
    pub fn say(text: impl Into<String>) -> Result<(), HostError> {
        message(&Message::agent_text(text))
    }

    /// Emits a complete text artifact named `name`.
    pub fn text_artifact(name: Option<&str>, text: impl Into<String>) -> Result<(), HostError> {
        artifact(&Artifact::text(name, text))
    }
}
