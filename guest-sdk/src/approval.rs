//! Human approval, from the adapter's side (feature `adapter`).
//!
//! An adapter asks a human with [`request`] (the host's built-in tool `request_approval`):
//! the call does not return — the host ends this execution, the task waits INPUT_REQUIRED
//! with the question, holding no instance — and the adapter runs again, from the task's
//! history, once the human answers. The host also holds calls of the tools an operator lists
//! in config.yaml's `approval.tools` the same way, runs an approved one once before the
//! adapter runs again, and reports its result in the decision.
//!
//! The decision reaches the adapter twice: as the request metadata key `molecule.approval`
//! (read it with [`RequestContext::approval`]; the host removes a client's own value) and as a
//! data part `{"kind": "approval", "approval": {...}}` appended to the new message (so a model
//! reading the conversation sees it too). Its shape:
//!
//! ```json
//! {"id": "3f2a9c0d1e4b", "kind": "request", "decision": "approved", "text": "approve",
//!  "action": "deploy to prod", "reason": "release 1.4"}
//! {"id": "0b7c…", "kind": "tool", "decision": "denied", "text": "deny 0b7c…",
//!  "tool": "write_file", "arguments": "{\"path\": …}", "error": "denied: …"}
//! ```

use serde::Deserialize;
use serde_json::{json, Value};

use crate::adapter::RequestContext;
use crate::types::ToolError;

/// The request metadata key the decision is under.
pub const METADATA_KEY: &str = "molecule.approval";

/// What the human decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Go ahead (`approve`, `yes`).
    Approved,
    /// Do not (`deny`, `no`).
    Denied,
    /// Words instead of a yes or no: read [`Approval::text`].
    Answered,
}

/// A human's answer to an approval request or a held tool call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Approval {
    /// The approval's id (12 hex digits).
    pub id: String,
    /// `request` (asked through [`request`]) or `tool` (a call held by the host).
    pub kind: String,
    /// The decision.
    pub decision: Decision,
    /// The human's message text (at most 2000 characters).
    #[serde(default)]
    pub text: String,
    /// `kind: request`: the action asked about.
    #[serde(default)]
    pub action: Option<String>,
    /// `kind: request`: its reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// `kind: tool`: the held tool.
    #[serde(default)]
    pub tool: Option<String>,
    /// `kind: tool`: its arguments as shown to the human (escaped, cut to 2000 characters).
    #[serde(default)]
    pub arguments: Option<String>,
    /// `kind: tool`, approved: the call's output (it ran once, before this execution).
    #[serde(default)]
    pub result: Option<String>,
    /// `kind: tool`: why there is no result (denied, or the call failed).
    #[serde(default)]
    pub error: Option<String>,
}

impl RequestContext {
    /// The human's decision this execution resumes with, if the task waited for one.
    pub fn approval(&self) -> Option<Approval> {
        from_metadata(&self.metadata_value())
    }
}

/// Asks a human to approve `action` (because of `reason`). In a workspace this call does not
/// return: the task waits for the answer and the adapter runs again with it
/// ([`RequestContext::approval`]). An error means the host refused the request (bad input).
pub fn request(action: &str, reason: &str) -> Result<(), ToolError> {
    let input = json!({"action": action, "reason": reason});
    crate::tools::call_raw("request_approval", &input.to_string()).map(|_| ())
}

/// The decision in a metadata JSON value (for tests and hosts other than the WIT one).
pub fn from_metadata(metadata: &Value) -> Option<Approval> {
    serde_json::from_value(metadata.get(METADATA_KEY)?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_decision_from_metadata() {
        let metadata = json!({METADATA_KEY: {"id": "abc", "kind": "tool", "decision": "denied",
            "text": "deny abc", "tool": "write_file", "error": "denied: no"}});
        let approval = from_metadata(&metadata).expect("a decision");
        assert_eq!(approval.decision, Decision::Denied);
        assert_eq!(approval.tool.as_deref(), Some("write_file"));
        assert_eq!(approval.result, None);
        assert!(from_metadata(&json!({})).is_none());
        assert!(from_metadata(&json!({METADATA_KEY: {"decision": "maybe"}})).is_none());
    }
}
