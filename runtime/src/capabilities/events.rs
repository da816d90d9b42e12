//! `events`: task progress (status, artifacts, messages) from an executing adapter. The backend
//! is the task's event queue in the A2A server, which forwards events to clients in order.

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::events;
use crate::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use crate::bindings::HostError;

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
}
