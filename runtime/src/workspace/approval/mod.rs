//! Human approval. Two ways a task comes to wait for a human:
//!
//! - the adapter calls the built-in tool `request_approval {action, reason}`;
//! - the adapter calls a tool listed in config.yaml's `approval.tools`: the host does not run
//!   it, whatever the prompt said (host-enforced).
//!
//! Either way the tool call never returns: the adapter's execution is ended (its instance
//! dropped), the [`Pending`] approval is stored in the task's metadata under [`METADATA_KEY`]
//! (so it survives a restart with the task store), the task moves to INPUT_REQUIRED with the
//! question as an agent message (text plus a data part `{"approval": {...}}`), and the
//! platform is told (an activity and a notify, `suspend.rs`). Nothing runs while the task
//! waits. The answer is a follow-up A2A message on the same task (`answer.rs`); the adapter
//! then runs again from the task's history, and sees the decision as a data part
//! `{"kind": "approval", "approval": {...}}` appended to the new message and as the request
//! metadata key [`METADATA_KEY`] (`resume.rs`). A client cannot imitate that part: client
//! messages lose the host's mark at intake and their approval-shaped data parts are withheld
//! from the adapter (`client_parts.rs`). The wire shapes are documented in README.md
//! ("Human approval").

mod answer;
mod client_parts;
mod resume;
mod suspend;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::bindings::{ToolError, ToolSpec};

pub use answer::{parse_answer, Answer, Unsettled, Verdict};
pub use client_parts::{
    decision_shaped, host_marked, neutralise, strip_client_marks, withhold_client, WITHHELD_NOTE,
};
pub use resume::{adapter_view, resume, Resumed};
pub use suspend::{suspend_task, Tell};

/// The built-in tool that asks a human.
pub const REQUEST_APPROVAL: &str = "request_approval";
/// The key, in the task's metadata (the pending approval) and in the adapter's request
/// metadata (the decision), under which approval state travels.
pub const METADATA_KEY: &str = "molecule.approval";
/// Most characters of `action`, `reason` or a gated call's arguments shown in a question.
pub const SHOWN_CHARS: usize = 2000;
/// Most bytes of a gated call's arguments held for approval (they are stored in the task and
/// run later as given); a larger call is refused with `invalid-input`.
pub const MAX_HELD_INPUT: usize = 64 * 1024;

/// What waits for a human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Asked {
    /// The adapter asked through `request_approval`.
    Request {
        /// What the adapter wants to do.
        action: String,
        /// Why.
        reason: String,
    },
    /// A call of a tool listed in `approval.tools`, held by the host.
    Tool {
        /// The tool's name.
        tool: String,
        /// The call's JSON input, as the adapter gave it (at most [`MAX_HELD_INPUT`] bytes).
        input: String,
    },
}

/// One approval waiting for a human, bound to its id: an answer naming another id never
/// resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// A fresh random id (12 hex digits) for this one request or held call.
    pub id: String,
    /// What is asked.
    #[serde(flatten)]
    pub asked: Asked,
}

impl Pending {
    /// A pending approval of `asked` with a fresh id: the random last 12 hex digits of a
    /// new UUID v7 (48 random bits; the id binds an answer to its call, it is no secret).
    pub fn new(asked: Asked) -> Pending {
        let uuid = molecule_a2a::types::new_id();
        let id = uuid.rsplit('-').next().unwrap_or(&uuid).to_owned();
        Pending { id, asked }
    }

    /// The pending approval stored in a task's metadata, if any (a value that does not parse
    /// counts as none: nothing is approved by a damaged record).
    pub fn from_task(task: &molecule_a2a::types::Task) -> Option<Pending> {
        let stored = task.metadata.as_ref()?.get(METADATA_KEY)?;
        serde_json::from_value(stored.get("pending")?.clone()).ok()
    }

    /// The question for the human, as plain text (escaped, capped, secrets masked).
    pub fn question(&self) -> String {
        match &self.asked {
            Asked::Request { action, reason } => format!(
                "Approval needed: {}\nReason: {}\nReply `approve` or `deny` (or answer in words).",
                shown(action),
                shown(reason)
            ),
            Asked::Tool { tool, input } => format!(
                "Approve the call of tool `{}` with arguments {}?\nReply `approve {id}` or \
                 `deny {id}`.",
                shown(tool),
                shown(input),
                id = self.id
            ),
        }
    }

    /// The structured form of the question (the data part of the question message and the
    /// task metadata): `{id, kind, action, reason}` or `{id, kind, tool, arguments}`, every
    /// text capped and escaped as in [`Pending::question`].
    pub fn shown_json(&self) -> Value {
        match &self.asked {
            Asked::Request { action, reason } => json!({"id": self.id, "kind": "request",
                "action": shown(action), "reason": shown(reason)}),
            Asked::Tool { tool, input } => json!({"id": self.id, "kind": "tool",
                "tool": shown(tool), "arguments": shown(input)}),
        }
    }
}

/// `text` with secrets masked, control characters escaped, cut to [`SHOWN_CHARS`].
fn shown(text: &str) -> String {
    let text = crate::redact::escape(&crate::redact::redact(text));
    if text.chars().count() <= SHOWN_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(SHOWN_CHARS).collect();
    cut.push('…');
    cut
}

/// One task's way to stop for a human: the tool call that needs one records its
/// [`Pending`] here and never returns; the executor, waiting on [`Suspension::wait`], then
/// drops the adapter's call.
#[derive(Default)]
pub struct Suspension {
    pending: Mutex<Option<Pending>>,
    notify: Notify,
}

impl Suspension {
    /// Records `pending` (the first one wins) and wakes the executor; never returns, so the
    /// guest waiting on this host call stops here until its call is dropped.
    pub async fn suspend(&self, pending: Pending) -> Result<String, ToolError> {
        {
            let mut slot = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(pending);
        }
        self.notify.notify_one();
        std::future::pending().await
    }

    /// Resolves once a tool call asked for a human; returns what was asked.
    pub async fn wait(&self) -> Pending {
        loop {
            if let Some(p) = self.taken() {
                return p;
            }
            self.notify.notified().await;
        }
    }

    fn taken(&self) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The tools whose calls need approval (config.yaml's `approval.tools`), and the task's
/// [`Suspension`].
#[derive(Clone, Default)]
pub struct Gate {
    tools: Arc<Vec<String>>,
}

impl Gate {
    /// A gate holding calls of `tools`.
    pub fn new(tools: Vec<String>) -> Gate {
        Gate {
            tools: Arc::new(tools),
        }
    }

    /// Whether a call of `tool` waits for a human: `tool` or any name sharing its
    /// implementation ([`canonical`]: listing `search_memory` also gates `recall_memory`,
    /// listing any delegation tool gates all three) is in `approval.tools`.
    pub fn requires(&self, tool: &str) -> bool {
        let wanted = canonical(tool);
        self.tools.iter().any(|t| canonical(t) == wanted)
    }

    /// Whether no tool is gated.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Boot's check of config.yaml's `approval.tools` (`file`) against the tools the
    /// workspace has (`known`: the built-ins and the loaded skills' tools). A listed name that
    /// is none of them is an error naming the file and the key: it is most likely a typo, and
    /// then the tool meant would run without a human. (A gated tool that goes away later, on
    /// a hot reload, stays gated by name.)
    pub fn check(&self, file: &std::path::Path, known: &[&str]) -> Result<(), String> {
        let unknown: Vec<String> = self
            .tools
            .iter()
            .enumerate()
            .filter(|(_, t)| !known.contains(&t.as_str()))
            .map(|(i, t)| format!("approval.tools[{i}]: `{}`", crate::redact::escape(t)))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}: {} is not a tool of this workspace (a built-in or a loaded skill's tool); fix \
             the name (a skill that failed to load has no tools) or remove it",
            file.display(),
            unknown.join(", ")
        ))
    }
}

/// Built-in tool names that share one implementation, each group under its canonical name
/// (the first): a gate on any name of a group holds calls of every name in it, so an alias
/// cannot run what the gate holds.
pub const ALIASES: [&[&str]; 2] = [
    &["search_memory", "recall_memory"],
    &["delegate_task", "delegate_task_async", "check_task_status"],
];

/// The canonical name of `tool` (the first name of its [`ALIASES`] group), or `tool` itself.
pub fn canonical(tool: &str) -> &str {
    ALIASES
        .iter()
        .find(|group| group.contains(&tool))
        .map_or(tool, |group| group[0])
}

/// The error result of an MCP `tools/call` of a gated `tool`: MCP has no task that could
/// wait for a human, so the call is refused, naming config.yaml's `approval.tools`.
pub fn refused_over_mcp(tool: &str) -> String {
    format!(
        "`{}` needs a human's approval (config.yaml `approval.tools`); an MCP call cannot wait \
         for one, so it is refused: call it from an A2A task instead",
        crate::redact::escape(tool)
    )
}

/// The note added to the MCP description of a gated tool.
pub const MCP_GATED_NOTE: &str = " [Needs a human's approval (config.yaml `approval.tools`): \
    refused over MCP; call it from an A2A task.]";

/// What a `tools.call` of `name` turns into under `gate`: `None` runs it as usual; `Some`
/// is the suspension of the task (a `request_approval`, or a gated call), or the refusal of
/// input that cannot be held.
pub async fn intercept(
    gate: &Gate,
    suspension: &Suspension,
    name: &str,
    input: &str,
) -> Option<Result<String, ToolError>> {
    let asked = if name == REQUEST_APPROVAL {
        match request_input(input) {
            Ok(asked) => asked,
            Err(e) => return Some(Err(e)),
        }
    } else if gate.requires(name) {
        if input.len() > MAX_HELD_INPUT {
            return Some(Err(ToolError::InvalidInput(format!(
                "`{name}` needs a human's approval, and its input ({} bytes) is over the {} \
                 bytes that can be held for one; send less",
                input.len(),
                MAX_HELD_INPUT
            ))));
        }
        Asked::Tool {
            tool: name.to_owned(),
            input: input.to_owned(),
        }
    } else {
        return None;
    };
    Some(suspension.suspend(Pending::new(asked)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestInput {
    action: String,
    #[serde(default)]
    reason: String,
}

fn request_input(input: &str) -> Result<Asked, ToolError> {
    let parsed: RequestInput = serde_json::from_str(input)
        .map_err(|e| ToolError::InvalidInput(format!("{REQUEST_APPROVAL}: {e}")))?;
    if parsed.action.trim().is_empty() {
        return Err(ToolError::InvalidInput(format!(
            "{REQUEST_APPROVAL}: `action` is empty; say what needs approval"
        )));
    }
    let cap = |s: String| s.chars().take(MAX_HELD_INPUT).collect::<String>();
    Ok(Asked::Request {
        action: cap(parsed.action),
        reason: cap(parsed.reason),
    })
}

/// The spec of `request_approval` as listed to adapters.
pub fn request_approval_spec() -> ToolSpec {
    ToolSpec {
        name: REQUEST_APPROVAL.into(),
        description: "Asks a human to approve an action before you take it. The task pauses \
            (this call does not return); you run again with the human's answer in the new \
            message: a data part {\"kind\": \"approval\", \"approval\": {\"decision\": \
            \"approved\" | \"denied\" | \"answered\", \"text\", ...}}."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "action": {"type": "string", "description": "What you want to do."},
                "reason": {"type": "string", "description": "Why it needs doing."}
            },
            "required": ["action"],
            "additionalProperties": false
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests;
