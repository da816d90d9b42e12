//! The shared WIT types with the helpers authors use on them (text of a part or message,
//! constructors for messages and artifacts, JSON views of schemas and metadata).

pub use super::raw::types::{
    Artifact, FilePart, HostError, Json, Message, Part, Role, TaskState, ToolError, ToolSpec,
};
use serde_json::Value;

impl From<HostError> for ToolError {
    /// Maps a failed host call to the tool error a tool should return: `denied` stays
    /// `denied` and `invalid-input` stays `invalid-input` (both with the host's text);
    /// `unavailable`, `failed` and `cancelled` become `failed` with the host's text.
    fn from(err: HostError) -> Self {
        match err {
            HostError::Denied(text) => ToolError::Denied(text),
            HostError::InvalidInput(text) => ToolError::InvalidInput(text),
            HostError::Unavailable(text) => ToolError::Failed(format!("unavailable: {text}")),
            HostError::Failed(text) => ToolError::Failed(text),
            HostError::Cancelled => ToolError::Failed("cancelled".to_string()),
        }
    }
}

impl ToolError {
    /// The human-readable text carried by any variant.
    pub fn text(&self) -> &str {
        match self {
            ToolError::InvalidInput(t)
            | ToolError::Failed(t)
            | ToolError::Denied(t)
            | ToolError::NotFound(t) => t,
        }
    }
}

impl HostError {
    /// The human-readable text carried by the variant (`"cancelled"` for `cancelled`).
    pub fn text(&self) -> &str {
        match self {
            HostError::Denied(t)
            | HostError::InvalidInput(t)
            | HostError::Unavailable(t)
            | HostError::Failed(t) => t,
            HostError::Cancelled => "cancelled",
        }
    }
}

impl ToolSpec {
    /// The input schema parsed as JSON (`Value::Null` if the text is not JSON).
    pub fn input_schema_value(&self) -> Value {
        serde_json::from_str(&self.input_schema).unwrap_or(Value::Null)
    }
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text(text.into())
    }

    /// A structured-data part holding `value` serialized as JSON.
    pub fn data(value: &Value) -> Self {
        Part::Data(value.to_string())
    }

    /// The text of a `text` part, `None` for other parts.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Part::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl Message {
    /// A message authored by this agent with one text part and a fresh random id.
    pub fn agent_text(text: impl Into<String>) -> Self {
        Self::with_parts(Role::Agent, vec![Part::Text(text.into())])
    }

    /// A message authored by the user/client with one text part and a fresh random id.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::with_parts(Role::User, vec![Part::Text(text.into())])
    }

    /// A message with the given role and parts, a fresh random id and no context.
    pub fn with_parts(role: Role, parts: Vec<Part>) -> Self {
        Message {
            message_id: super::new_id(),
            role,
            parts,
            context_id: None,
            task_id: None,
            metadata: None,
        }
    }

    /// All text parts joined with newlines (data and file parts are skipped).
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(Part::as_text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Artifact {
    /// A complete (single-chunk) artifact holding `text`, with a fresh random id.
    pub fn text(name: Option<&str>, text: impl Into<String>) -> Self {
        Artifact {
            artifact_id: super::new_id(),
            name: name.map(str::to_string),
            parts: vec![Part::Text(text.into())],
            append: false,
            last_chunk: true,
        }
    }
}

impl TaskState {
    /// True for the states a task never leaves (completed, canceled, failed, rejected).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Canceled | TaskState::Failed | TaskState::Rejected
        )
    }
}
