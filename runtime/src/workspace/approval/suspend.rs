//! Putting a task to rest until a human answers: the pending approval into the task's
//! metadata as `{pending, question}` (the [`Pending`] as held, and its shown form; stored with
//! the task, so it survives a restart), the question as the agent
//! message of an INPUT_REQUIRED status (A2A 1.0 `TaskStatusUpdateEvent` with `status.message`),
//! and the platform told: an activity `task_update` with status `input_required` (contract:
//! `POST /workspaces/{id}/activity`) and a notify with the question (`POST
//! /workspaces/{id}/notify`, `{message}`), both sent in the background.

use std::collections::HashMap;

use molecule_a2a::types::{agent_text_message, Part, TaskState};
use molecule_a2a::EventSink;
use molecule_platform::{Activity, ActivityReporter, ActivityType, PlatformClient};
use serde_json::json;

use super::{Pending, METADATA_KEY};

/// Where the platform is told about a question.
#[derive(Clone, Default)]
pub struct Tell {
    /// The activity feed, when joined.
    pub activity: Option<ActivityReporter>,
    /// The platform client for `notify`, when joined.
    pub platform: Option<PlatformClient>,
}

/// Stores `pending` in the task and moves it to INPUT_REQUIRED with the question (`lead`, if
/// any, goes before it: why the question is asked again), then tells the platform. The task's
/// events go to `events`; a closed task (cancelled meanwhile) drops them.
pub fn suspend_task(events: &EventSink, pending: &Pending, lead: Option<&str>, tell: &Tell) {
    let shown = pending.shown_json();
    let stored = json!({"pending": pending, "question": shown});
    let _ = events.metadata(METADATA_KEY, stored);
    let question = pending.question();
    let text = match lead {
        Some(lead) => format!("{lead}\n{question}"),
        None => question.clone(),
    };
    let mut message = agent_text_message(text, events.task_id(), events.context_id());
    message
        .parts
        .push(Part::data(json!({"approval": shown.clone()})));
    message.metadata = Some(HashMap::from([(METADATA_KEY.to_owned(), shown.clone())]));
    let _ = events.status(TaskState::InputRequired, Some(message));
    tracing::info!(
        task = %crate::redact::escape(events.task_id()),
        approval = %pending.id,
        "task waits for a human's approval"
    );
    if let Some(activity) = &tell.activity {
        let summary: String = question
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        activity.submit(
            Activity::new(ActivityType::TaskUpdate, summary)
                .status("input_required")
                .metadata(json!({"task_id": events.task_id(), "approval": shown})),
        );
    }
    if let Some(platform) = tell.platform.clone() {
        tokio::spawn(async move {
            if let Err(e) = platform.notify(&question, &[]).await {
                let error = crate::redact::escape(&e.to_string());
                tracing::warn!(%error, "could not notify the platform of an approval request");
            }
        });
    }
}
