//! Calling a skill's tool: the skill that owns the tool in the current snapshot, in a fresh
//! sandboxed instance (with the task's uploads preopened when the skill is granted them),
//! with its receipt, metrics and a loud log line when the skill crashed or hit a limit.

use std::path::Path;

use tracing::Instrument;

use super::{tool_index, SkillRegistry};
use crate::bindings::ToolError;
use crate::sandbox::CallError;

impl SkillRegistry {
    /// Calls tool `name` with JSON `input` on the skill that owns it.
    pub async fn call(&self, name: &str, input: &str) -> Result<String, CallError> {
        self.call_with_receipt(name, input).await.0
    }

    /// [`Self::call`], also returning the call's receipt (all zero when no such tool exists).
    pub async fn call_with_receipt(
        &self,
        name: &str,
        input: &str,
    ) -> (Result<String, CallError>, crate::receipt::Receipt) {
        self.call_in_context_with_receipt(name, input, None).await
    }

    /// Like [`Self::call`], for a task whose context uploads are in `uploads` (a folder):
    /// a skill granted `uploads` sees that folder read-only at `/uploads`; any other skill
    /// does not see it at all.
    pub async fn call_in_context(
        &self,
        name: &str,
        input: &str,
        uploads: Option<&Path>,
    ) -> Result<String, CallError> {
        self.call_in_context_with_receipt(name, input, uploads)
            .await
            .0
    }

    /// [`Self::call_in_context`], also returning the call's receipt.
    async fn call_in_context_with_receipt(
        &self,
        name: &str,
        input: &str,
        uploads: Option<&Path>,
    ) -> (Result<String, CallError>, crate::receipt::Receipt) {
        let snapshot = self.snapshot();
        let Some(skill) = snapshot
            .tools
            .get(name)
            .and_then(|id| snapshot.skills.get(id))
        else {
            let text = tool_index::not_found(name, &snapshot.tools);
            return (
                Err(CallError::Tool(ToolError::NotFound(text))),
                crate::receipt::Receipt::default(),
            );
        };
        let skill = skill.clone();
        drop(snapshot);
        let granted = uploads.filter(|_| skill.component.grants.sees_uploads());
        let with_uploads = granted.map(|dir| crate::uploads::mounted(&skill.component, dir));
        let component = with_uploads.as_ref().unwrap_or(&skill.component);
        let span = crate::receipt::tool_call_span(name, &skill.dir.id);
        let started = std::time::Instant::now();
        // This call's receipt, and the call it is nested in (an adapter's), if any.
        let (receipts, parent) = (crate::receipt::Receipts::new(), crate::receipt::current());
        let result = self
            .sandbox
            .with_receipts(receipts.clone())
            .call_tool(component, name, input)
            .instrument(span.clone())
            .await;
        let receipt = receipts.total();
        receipt.record(&span);
        crate::metrics_receipts::observe(crate::metrics_receipts::Kind::Tool, &receipt);
        if let Some(parent) = parent {
            parent.add_nested(&receipt);
        }
        if let Err(err @ (CallError::Trap { .. } | CallError::Limit(_))) = &result {
            // A crash or a limit is the skill's fault, not the caller's: say so loudly. The
            // caller (an adapter's tool call) gets the error as a failed tool call.
            // The text may carry what the guest printed: escaped to one line for the log.
            let error = crate::redact::escape(&err.to_string());
            tracing::warn!(skill = %skill.dir.id, tool = %name, error = %error, "tool call crashed");
        }
        let outcome = crate::sandbox::CallError::outcome_of(&result);
        crate::metrics::global().tool_call(name, outcome, started.elapsed());
        (result, receipt)
    }
}
