//! A2A 1.0 protocol types. The wire types come from the `a2a-lf` crate (library `a2a`, the
//! official Rust types: camelCase, protobuf enum names, field-presence `Part`); this module
//! re-exports them and adds the small helpers the server and executors need.

use chrono::{DateTime, SecondsFormat, Utc};

pub use a2a::{
    AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill, Artifact, Message,
    Part, PartContent, Role, SendMessageConfiguration, SendMessageRequest, StreamResponse, Task,
    TaskArtifactUpdateEvent, TaskState, TaskStatus, TaskStatusUpdateEvent,
};
// Push notifications (push/) and the card's security declaration (card.rs).
pub use a2a::{
    AuthenticationInfo, HttpAuthSecurityScheme, SecurityRequirement, SecurityScheme,
    TaskPushNotificationConfig,
};

/// The protocol version this server speaks natively.
pub(crate) const PROTOCOL_VERSION: &str = "1.0";
/// The legacy protocol version still accepted (missing `A2A-Version` header).
pub(crate) const LEGACY_PROTOCOL_VERSION: &str = "0.3";
/// Binding name of the JSON-RPC interface in `supportedInterfaces`.
pub(crate) const BINDING_JSONRPC: &str = "JSONRPC";
/// Binding name of the REST interface in `supportedInterfaces`.
pub(crate) const BINDING_HTTP_JSON: &str = "HTTP+JSON";

/// True for the interrupted states (`INPUT_REQUIRED`, `AUTH_REQUIRED`): the executor stopped
/// and waits for the client.
pub(crate) fn is_interrupted(state: &TaskState) -> bool {
    matches!(state, TaskState::InputRequired | TaskState::AuthRequired)
}

/// True when a task in this state will not change without new client input: terminal or
/// interrupted. Streams close and blocking `SendMessage` returns at such a state.
pub(crate) fn is_final(state: &TaskState) -> bool {
    state.is_terminal() || is_interrupted(state)
}

/// The protobuf enum name of a state, e.g. `TASK_STATE_COMPLETED`.
pub(crate) fn state_name(state: &TaskState) -> &'static str {
    match state {
        TaskState::Unspecified => "TASK_STATE_UNSPECIFIED",
        TaskState::Submitted => "TASK_STATE_SUBMITTED",
        TaskState::Working => "TASK_STATE_WORKING",
        TaskState::Completed => "TASK_STATE_COMPLETED",
        TaskState::Failed => "TASK_STATE_FAILED",
        TaskState::Canceled => "TASK_STATE_CANCELED",
        TaskState::InputRequired => "TASK_STATE_INPUT_REQUIRED",
        TaskState::Rejected => "TASK_STATE_REJECTED",
        TaskState::AuthRequired => "TASK_STATE_AUTH_REQUIRED",
    }
}

/// Parses a protobuf enum name (`TASK_STATE_WORKING`) into a state.
pub(crate) fn parse_state_name(name: &str) -> Option<TaskState> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// Current time in UTC.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// ISO-8601 UTC with `Z`, millisecond precision.
pub fn format_timestamp(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A new id for tasks, contexts, messages and artifacts: a UUID v7 (random, but ordered by
/// creation time, so the task store's id and context indexes grow at one end instead of
/// dirtying a random page per new task).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A text part.
pub fn text_part(text: impl Into<String>) -> Part {
    Part::text(text)
}

/// An agent message with one text part, bound to a task and context.
pub fn agent_text_message(text: impl Into<String>, task_id: &str, context_id: &str) -> Message {
    let mut m = Message::new(Role::Agent, vec![Part::text(text)]);
    m.message_id = new_id();
    m.task_id = Some(task_id.to_string());
    m.context_id = Some(context_id.to_string());
    m
}

/// The standard interfaces this server exposes at `base_url` (which must be the URL that
/// answers `POST /`): JSON-RPC 1.0, HTTP+JSON 1.0 and JSON-RPC 0.3, in preference order.
pub fn standard_interfaces(base_url: &str) -> Vec<AgentInterface> {
    let url = base_url.trim_end_matches('/').to_string();
    let mk = |binding: &str, version: &str| {
        let mut i = AgentInterface::new(url.clone(), binding);
        i.protocol_version = version.to_string();
        i
    };
    vec![
        mk(BINDING_JSONRPC, PROTOCOL_VERSION),
        mk(BINDING_HTTP_JSON, PROTOCOL_VERSION),
        mk(BINDING_JSONRPC, LEGACY_PROTOCOL_VERSION),
    ]
}

/// Keeps at most the `n` most recent messages of a task's history (`historyLength`
/// semantics: `None` = no limit, 0 = no history).
pub(crate) fn trim_history(task: &mut Task, history_length: Option<i32>) {
    let Some(n) = history_length else { return };
    let n = usize::try_from(n.max(0)).unwrap_or(0);
    if n == 0 {
        task.history = None;
        return;
    }
    if let Some(h) = task.history.as_mut() {
        if h.len() > n {
            let drop = h.len() - n;
            h.drain(..drop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_unique_and_sort_in_creation_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            TaskState::Completed,
            TaskState::InputRequired,
            TaskState::Working,
        ] {
            assert_eq!(parse_state_name(state_name(&s)), Some(s));
        }
        assert_eq!(parse_state_name("nope"), None);
    }

    #[test]
    fn part_json_has_no_kind() {
        let v = serde_json::to_value(Part::text("hi")).expect("serialize part");
        assert_eq!(v, serde_json::json!({"text": "hi"}));
    }
}
