//! Continuing a task that waited for a human: the follow-up message is read as an answer to
//! the pending approval stored in the task; an answer that settles it replaces the task's
//! `{pending, question}` with `{resolved: DECISION}` (the decision below, before a held call's
//! `result`/`error`; written before anything runs, so a replay finds nothing to approve), runs
//! an approved held tool call once, and gives the adapter the decision:
//!
//! ```json
//! {"id": "3f2a9c0d1e4b", "kind": "request" | "tool", "decision": "approved" | "denied" | "answered",
//!  "text": "the human's words", "action": "...", "reason": "...",        // kind request
//!  "tool": "write_file", "arguments": "{...}", "result": "..." | "error": "..."}  // kind tool
//! ```
//!
//! A denied (or answered) held call does not run; its `error` says it was denied.

use std::collections::HashMap;
use std::future::Future;

use molecule_a2a::{EventSink, RequestContext};
use serde_json::{json, Value};

use super::answer::{parse_answer, Unsettled, Verdict};
use super::{Asked, Pending, METADATA_KEY};
use crate::bindings::imports::molecule::runtime::types as wit;
use crate::bindings::ToolError;
use crate::workspace::convert;

/// What the executor does with a task's new message.
#[derive(Debug)]
pub enum Resumed {
    /// Run the adapter; with `Some`, the decision it is given (see the module docs).
    Run(Option<Value>),
    /// The answer did not settle the approval: ask again (the lead says why), run nothing.
    AskAgain(Pending, String),
    /// The settled approval could not be cleared from the stored task (the reason says
    /// why): nothing ran, and the task fails, so a replay cannot run a held call twice.
    Failed(String),
}

/// Reads `ctx`'s message as the answer to the task's pending approval, if one waits.
/// `run_held(tool, input)` runs an approved held call (without asking again).
pub async fn resume<F, Fut>(ctx: &RequestContext, events: &EventSink, run_held: F) -> Resumed
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = Result<String, ToolError>>,
{
    let Some(pending) = Pending::from_task(&ctx.task).filter(|_| ctx.is_continuation) else {
        return Resumed::Run(None);
    };
    let answer = parse_answer(&ctx.message);
    if let Err(why) = answer.resolve(&pending) {
        let lead = why.explain(&pending);
        if let Unsettled::OtherId(_) = why {
            tracing::warn!(approval = %pending.id, "an answer named another approval id");
        }
        return Resumed::AskAgain(pending, lead);
    }
    let mut decision = pending.shown_json();
    decision["decision"] = json!(answer.verdict.name());
    decision["text"] = json!(answer.text);
    // Settled: gone from the stored task before anything runs.
    let cleared = json!({"resolved": decision.clone()});
    if let Err(e) = events.metadata_stored(METADATA_KEY, cleared).await {
        tracing::error!(approval = %pending.id, error = %crate::redact::escape(&e),
            "could not store the settled approval; nothing runs");
        return Resumed::Failed(format!(
            "the answer to approval {} could not be stored ({e}); nothing was run",
            pending.id
        ));
    }
    if let Asked::Tool { tool, input } = pending.asked {
        match answer.verdict {
            Verdict::Approved => match run_held(tool, input).await {
                Ok(result) => decision["result"] = json!(result),
                Err(e) => decision["error"] = json!(format!("{e:?}")),
            },
            _ => {
                decision["error"] = json!(format!(
                    "denied: a human did not approve this call of `{}`; it did not run",
                    decision["tool"].as_str().unwrap_or_default()
                ))
            }
        }
    }
    tracing::info!(approval = %pending.id, decision = answer.verdict.name(), "approval settled");
    Resumed::Run(Some(decision))
}

/// What the adapter is given: the new message — its approval-shaped client data parts
/// withheld, or, with a decision, dropped and replaced by the host's decision part
/// `{"kind": "approval", "approval": DECISION}` with the host's mark in the message metadata
/// (`client_parts.rs`) — and the request metadata with [`METADATA_KEY`] set to the decision,
/// and removed when there is none, so a client cannot hand the adapter a decision the host did
/// not make.
pub fn adapter_view(
    ctx: &RequestContext,
    decision: Option<&Value>,
) -> (wit::Message, HashMap<String, Value>) {
    let mut message = convert::message_to_wit(&ctx.message);
    let mut metadata = ctx.metadata.clone();
    metadata.remove(METADATA_KEY);
    match decision {
        Some(decision) => {
            metadata.insert(METADATA_KEY.to_owned(), decision.clone());
            super::client_parts::with_host_decision(&mut message, decision);
        }
        None => {
            if super::client_parts::withhold_client(&mut message) > 0 {
                tracing::warn!(task = %crate::redact::escape(&ctx.task_id),
                    "withheld approval-shaped client data from the adapter");
            }
        }
    }
    (message, metadata)
}
