//! `events`: task progress (status, artifacts, messages) from an executing adapter. The backend
//! is the task's event queue in the A2A server, which forwards events to clients in order.
//!
//! [`TaskBudget`] wraps a task's backend with the per-task budgets: events
//! (`sandbox.task.max_events`) and artifact bytes (`sandbox.task.max_artifact_bytes`), counted
//! over every call of the task together (the adapter's and its tools'), refused past the
//! budget with the budget error.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::events;
use crate::bindings::imports::molecule::runtime::types::{Artifact, Message, Part, TaskState};
use crate::bindings::HostError;
use crate::budgets::{Budget, BudgetHit, Budgets};

use super::grant::Granted;

/// Receives the events of one task.
#[async_trait]
pub trait EventsBackend: Send + Sync {
    /// The task moved to `state`.
    async fn status(&self, state: TaskState, message: Option<Message>) -> Result<(), HostError>;
    /// An artifact chunk was produced.
    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError>;
    /// A message for the client.
    async fn message(&self, message: Message) -> Result<(), HostError>;
    /// The adapter's whole answer (WIT `events.reply`). By default the message completes the
    /// task; the workspace's backend sends it alone when it is the task's first event.
    async fn reply(&self, message: Message) -> Result<(), HostError> {
        self.status(TaskState::Completed, Some(message)).await
    }
    /// True once the task reported something (then a reply completes the task). Default true.
    fn reported(&self) -> bool {
        true
    }
}

/// The `events` capability of one store.
pub type EventsCtx = Granted<dyn EventsBackend>;

impl events::Host for EventsCtx {
    async fn update_status(
        &mut self,
        state: TaskState,
        message: Option<Message>,
    ) -> Result<(), HostError> {
        self.get()?.status(state, message).await
    }

    async fn add_artifact(&mut self, artifact: Artifact) -> Result<(), HostError> {
        self.get()?.artifact(artifact).await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), HostError> {
        self.get()?.message(message).await
    }

    async fn reply(&mut self, message: Message) -> Result<(), HostError> {
        self.get()?.reply(message).await
    }
}

/// One task's events backend within the task's budgets: build one per task and give it to
/// every call of the task. Refused events never reach the inner backend.
pub struct TaskBudget<B> {
    inner: B,
    max_events: u64,
    max_artifact_bytes: u64,
    events: AtomicU64,
    artifact_bytes: AtomicU64,
}

impl<B: EventsBackend> TaskBudget<B> {
    /// `inner` within the task budgets of `budgets`.
    pub fn new(inner: B, budgets: &Budgets) -> Self {
        TaskBudget {
            inner,
            max_events: budgets.task_events,
            max_artifact_bytes: budgets.artifact_bytes,
            events: AtomicU64::new(0),
            artifact_bytes: AtomicU64::new(0),
        }
    }

    /// What the task emitted so far: (events, artifact bytes). Refused ones are not counted.
    pub fn used(&self) -> (u64, u64) {
        (
            self.events.load(Ordering::Relaxed).min(self.max_events),
            self.artifact_bytes.load(Ordering::Relaxed),
        )
    }

    /// Takes one event from the budget.
    fn take_event(&self) -> Result<(), HostError> {
        let taken = self
            .events
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_events).then_some(n + 1)
            });
        taken.map(drop).map_err(|_| {
            HostError::Failed(BudgetHit::record(Budget::TaskEvents, self.max_events).to_string())
        })
    }

    /// Takes `bytes` of artifact content from the budget, all or nothing.
    fn take_artifact_bytes(&self, bytes: u64) -> Result<(), HostError> {
        let max = self.max_artifact_bytes;
        let taken = self
            .artifact_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                n.checked_add(bytes).filter(|total| *total <= max)
            });
        taken.map(drop).map_err(|_| {
            HostError::Failed(BudgetHit::record(Budget::ArtifactBytes, max).to_string())
        })
    }
}

#[async_trait]
impl<B: EventsBackend> EventsBackend for TaskBudget<B> {
    async fn status(&self, state: TaskState, message: Option<Message>) -> Result<(), HostError> {
        self.take_event()?;
        self.inner.status(state, message).await
    }

    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError> {
        // Size first: an oversized chunk must not use up an event as well.
        self.take_artifact_bytes(artifact_size(&artifact))?;
        self.take_event()?;
        self.inner.artifact(artifact).await
    }

    async fn message(&self, message: Message) -> Result<(), HostError> {
        self.take_event()?;
        self.inner.message(message).await
    }

    async fn reply(&self, message: Message) -> Result<(), HostError> {
        self.take_event()?;
        self.inner.reply(message).await
    }

    fn reported(&self) -> bool {
        self.inner.reported()
    }
}

/// Bytes of an artifact chunk: its id, name and every part's content.
pub fn artifact_size(artifact: &Artifact) -> u64 {
    let parts: usize = artifact.parts.iter().map(part_size).sum();
    let name = artifact.name.as_ref().map_or(0, String::len);
    (artifact.artifact_id.len() + name + parts) as u64
}

/// Bytes of one part's content.
fn part_size(part: &Part) -> usize {
    match part {
        Part::Text(text) => text.len(),
        Part::Data(json) => json.len(),
        Part::File(file) => {
            let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
            len(&file.name)
                + len(&file.media_type)
                + len(&file.uri)
                + file.bytes.as_ref().map_or(0, Vec::len)
        }
    }
}

/// The wrapper alone, with a backend that counts what reaches it.
#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);

    #[async_trait]
    impl EventsBackend for Count {
        async fn status(&self, _: TaskState, _: Option<Message>) -> Result<(), HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        async fn message(&self, _: Message) -> Result<(), HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    fn chunk(text: &str) -> Artifact {
        Artifact {
            artifact_id: "a".into(),
            name: None,
            parts: vec![Part::Text(text.into())],
            append: true,
            last_chunk: false,
        }
    }

    #[tokio::test]
    async fn events_and_artifact_bytes_are_refused_past_the_task_budget() {
        let budgets = Budgets {
            task_events: 5,
            artifact_bytes: 21,
            ..Budgets::default()
        };
        let task = TaskBudget::new(Count::default(), &budgets);
        task.artifact(chunk(&"x".repeat(10))).await.unwrap();
        let big = task.artifact(chunk(&"x".repeat(20))).await;
        let Err(HostError::Failed(text)) = big else {
            panic!("{big:?}")
        };
        assert!(text.contains("sandbox.task.max_artifact_bytes"), "{text}");
        task.artifact(chunk(&"x".repeat(9))).await.unwrap();
        assert_eq!(task.used(), (2, 21));
        for _ in 0..3 {
            task.status(TaskState::Working, None).await.unwrap();
        }
        let sixth = task.status(TaskState::Working, None).await;
        let Err(HostError::Failed(text)) = sixth else {
            panic!("{sixth:?}")
        };
        assert!(text.contains("events per task is limited to 5"), "{text}");
        assert!(text.contains("sandbox.task.max_events"), "{text}");
        assert_eq!(
            task.inner.0.load(Ordering::Relaxed),
            5,
            "refused events never arrive"
        );
    }
}
