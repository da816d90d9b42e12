//! Starting and finishing a task. Finishing emits the answer as a `response` artifact (unless it
//! was already streamed into one) and moves the task to `completed` with an agent message
//! holding the answer: the status message is what A2A task history keeps, so it is what the
//! next task of the same context sees as this turn's reply.

use super::{best_effort, AgentError, AgentHost};
use crate::adapter::RequestContext;
use crate::types::{Artifact, Message, Part, Role, TaskState};

/// Name of the artifact holding a task's answer.
pub const RESPONSE_ARTIFACT: &str = "response";

/// Marks the start of a task: sets the heartbeat's current task to `runtime: <request text>`
/// (first 80 characters).
pub fn begin(host: &dyn AgentHost, runtime: &str, context: &RequestContext) {
    let text = context.message.text();
    let short: String = text.chars().take(80).collect();
    host.set_current_task(&format!("{runtime}: {short}"));
}

/// Finishes the task with `text`: a `response` artifact unless `streamed_artifact` says the
/// text was already streamed, then `completed` with an agent message holding `text`.
pub fn finish(
    host: &dyn AgentHost,
    context: &RequestContext,
    text: &str,
    streamed_artifact: Option<&str>,
) -> Result<(), AgentError> {
    finish_with_parts(host, context, text, streamed_artifact, Vec::new())
}

/// Like [`finish`], with `extra` parts (e.g. adapter state as data parts) appended to the
/// completion message after the text.
pub fn finish_with_parts(
    host: &dyn AgentHost,
    context: &RequestContext,
    text: &str,
    streamed_artifact: Option<&str>,
    extra: Vec<Part>,
) -> Result<(), AgentError> {
    if streamed_artifact.is_none() && !text.is_empty() {
        let artifact = Artifact::text(Some(RESPONSE_ARTIFACT), text);
        best_effort(host, "events.add-artifact", host.add_artifact(&artifact))?;
    }
    let mut parts = vec![Part::text(text)];
    parts.extend(extra);
    let message = Message {
        context_id: Some(context.context_id.clone()),
        task_id: Some(context.task_id.clone()),
        ..Message::with_parts(Role::Agent, parts)
    };
    best_effort(
        host,
        "events.update-status",
        host.update_status(TaskState::Completed, Some(&message)),
    )?;
    host.set_current_task("");
    Ok(())
}

/// A request context for tests: task `task-1`, context `ctx-1`, a user message with `text`
/// and the given history.
pub fn test_context(text: &str, history: Vec<Message>) -> RequestContext {
    RequestContext {
        task_id: "task-1".into(),
        context_id: "ctx-1".into(),
        message: Message::user_text(text),
        history,
        metadata: "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{FakeHost, HostEvent};
    use crate::types::HostError;

    #[test]
    fn finish_emits_artifact_then_completed_message() {
        let host = FakeHost::new();
        let ctx = test_context("q", vec![]);
        finish(&host, &ctx, "answer", None).unwrap();
        assert_eq!(
            host.artifact_text(&host.artifacts()[0].artifact_id),
            "answer"
        );
        let (state, message) = host.last_status().unwrap();
        assert_eq!(state, TaskState::Completed);
        let message = message.unwrap();
        assert_eq!(message.text(), "answer");
        assert_eq!(message.context_id.as_deref(), Some("ctx-1"));

        let host = FakeHost::new();
        finish(&host, &ctx, "answer", Some("streamed")).unwrap();
        assert!(host.artifacts().is_empty());
    }

    #[test]
    fn event_failures_are_best_effort_but_cancel_is_not() {
        let ctx = test_context("q", vec![]);
        let host = FakeHost::new().events_error(HostError::Failed("queue full".into()));
        finish(&host, &ctx, "a", None).unwrap();
        assert!(host.logs()[0].1.contains("queue full"));
        let host = FakeHost::new().events_error(HostError::Cancelled);
        assert_eq!(finish(&host, &ctx, "a", None), Err(AgentError::Cancelled));
        assert!(matches!(host.events()[0], HostEvent::Artifact(_)));
    }

    #[test]
    fn a_spent_task_budget_stops_the_task_without_logging() {
        let ctx = test_context("q", vec![]);
        let spent = "budget spent: events per task is limited to 5 (raise sandbox.task.max_events)";
        let host = FakeHost::new().events_error(HostError::Failed(spent.into()));
        let Err(AgentError::Host(text)) = finish(&host, &ctx, "a", None) else {
            panic!("a spent budget must stop the task");
        };
        assert!(text.contains("sandbox.task.max_events"), "{text}");
        assert_eq!(host.events().len(), 1, "no event after the refused one");
        assert!(host.logs().is_empty(), "the host reports it, once");
    }
}
