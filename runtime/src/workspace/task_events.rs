//! The workspace's `events` backend for one A2A task (the capability itself is
//! `capabilities::events`): forwards what the adapter emits to the task's A2A event sink, in
//! order. A closed sink (the task was cancelled) answers `cancelled`, so the adapter
//! stops promptly. [`TaskEvents::budgeted`] is what a task gets: the backend within the task's
//! budgets of events and artifact bytes (`capabilities::events::TaskBudget`), shared by every
//! call of the task.
//!
//! WORKING is reported lazily ([`Working`]): before the task's first artifact or message, or
//! by the executor after a short grace (`executor::WORKING_GRACE`), never twice (the A2A
//! layer also drops a repeated WORKING without a message). Until then an adapter may answer
//! with `events.reply(message)`, which is the whole answer: the client gets that Message and
//! no task. A reply after WORKING completes the task with the message instead. A resumed
//! task's artifacts continue its earlier ones of the same name (`workspace::continued`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use molecule_a2a::types as a2a;
use molecule_a2a::EventSink;

use super::continued::Continued;
use super::convert;
use crate::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use crate::bindings::HostError;
use crate::budgets::Budgets;
use crate::capabilities::events::{EventsBackend, TaskBudget};

/// Whether the task has reported anything yet, and the sink to report WORKING on. Shared by
/// the task's events backend and the executor's grace timer.
pub struct Working {
    sink: EventSink,
    reported: AtomicBool,
}

impl Working {
    /// Nothing reported yet on `sink`.
    pub fn new(sink: EventSink) -> Arc<Self> {
        Arc::new(Working {
            sink,
            reported: AtomicBool::new(false),
        })
    }

    /// Reports WORKING unless the task already reported something (a status, an artifact, a
    /// message or a reply). A closed task ignores it.
    pub fn ensure(&self) {
        if !self.reported.swap(true, Ordering::SeqCst) {
            let _ = self.sink.status(a2a::TaskState::Working, None);
        }
    }

    /// True once anything was reported.
    pub fn reported(&self) -> bool {
        self.reported.load(Ordering::SeqCst)
    }
}

/// Events of one task.
pub struct TaskEvents {
    sink: EventSink,
    working: Arc<Working>,
    continued: Continued,
}

impl TaskEvents {
    /// Events that go to `working`'s sink (WORKING reported lazily through it), within the
    /// per-task budgets of `budgets`; artifacts continue the task's earlier ones as
    /// `continued` says (a resumed task, `workspace::continued`).
    pub fn budgeted_lazy(
        working: Arc<Working>,
        budgets: &Budgets,
        continued: Continued,
    ) -> TaskBudget<TaskEvents> {
        let sink = working.sink.clone();
        let events = TaskEvents {
            sink,
            working,
            continued,
        };
        TaskBudget::new(events, budgets)
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
        self.working.reported.store(true, Ordering::SeqCst);
        self.sink
            .status(convert::state_from_wit(state), message)
            .map_err(Self::closed)
    }

    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError> {
        let (mut artifact, mut append, last_chunk) = convert::artifact_from_wit(artifact);
        self.continued.apply(&mut artifact, &mut append);
        self.working.ensure();
        self.sink
            .artifact(artifact, append, last_chunk)
            .map_err(Self::closed)
    }

    async fn message(&self, message: Message) -> Result<(), HostError> {
        let (task, ctx) = (self.sink.task_id(), self.sink.context_id());
        // A progress message, not the answer: the task is working.
        self.working.ensure();
        self.sink
            .message(convert::message_from_wit(message, task, ctx))
            .map_err(Self::closed)
    }

    async fn reply(&self, message: Message) -> Result<(), HostError> {
        let (task, ctx) = (self.sink.task_id(), self.sink.context_id());
        let message = convert::message_from_wit(message, task, ctx);
        if self.working.reported.swap(true, Ordering::SeqCst) {
            return self
                .sink
                .status(a2a::TaskState::Completed, Some(message))
                .map_err(Self::closed);
        }
        // The first event of the task: the A2A layer answers with the message alone.
        self.sink.message(message).map_err(Self::closed)
    }

    fn reported(&self) -> bool {
        self.working.reported()
    }
}
