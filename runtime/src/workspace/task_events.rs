//! The workspace's `events` backend for one A2A task (the capability itself is
//! `capabilities::events`): forwards what the adapter emits to the task's A2A event sink, in
//! order. A closed sink (the task was cancelled) answers `cancelled`, so the adapter
//! stops promptly. [`TaskEvents::budgeted`] is what a task gets: the backend within the task's
//! budgets of events and artifact bytes (`capabilities::events::TaskBudget`), shared by every
//! call of the task.

use async_trait::async_trait;
use molecule_a2a::EventSink;

use super::convert;
use crate::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use crate::bindings::HostError;
use crate::budgets::Budgets;
use crate::capabilities::events::{EventsBackend, TaskBudget};

/// Events of one task.
pub struct TaskEvents {
    sink: EventSink,
}

impl TaskEvents {
    /// Events that go to `sink`.
    pub fn new(sink: EventSink) -> Self {
        TaskEvents { sink }
    }

    /// Events that go to `sink`, within the per-task budgets of `budgets`.
    pub fn budgeted(sink: EventSink, budgets: &Budgets) -> TaskBudget<TaskEvents> {
        TaskBudget::new(TaskEvents::new(sink), budgets)
    }

    fn closed(_: molecule_a2a::SinkClosed) -> HostError {
        HostError::Cancelled
    }
}

#[async_trait]
impl EventsBackend for TaskEvents {
    async fn status(&self, state: TaskState, message: Option<Message>) -> Result<(), HostError> {
        let (task, ctx) = (self.sink.task_id(), self.sink.context_id());
        let message = message.map(|m| convert::message_from_wit(m, task, ctx));
        self.sink
            .status(convert::state_from_wit(state), message)
            .map_err(Self::closed)
    }

    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError> {
        let (artifact, append, last_chunk) = convert::artifact_from_wit(artifact);
        self.sink
            .artifact(artifact, append, last_chunk)
            .map_err(Self::closed)
    }

    async fn message(&self, message: Message) -> Result<(), HostError> {
        let (task, ctx) = (self.sink.task_id(), self.sink.context_id());
        self.sink
            .message(convert::message_from_wit(message, task, ctx))
            .map_err(Self::closed)
    }
}
