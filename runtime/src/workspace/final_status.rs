//! [`HoldFinal`]: an events backend that holds back the final status an adapter reports
//! (completed, failed, canceled, rejected, input- or auth-required) until the adapter's call
//! has ended, so the executor can first put the task's receipt in its metadata: the blocking
//! `SendMessage` reply, the streams' last snapshot and `GetTask` then all carry what the task
//! cost. Once a final status is held, further events are refused as they would be by a closed
//! task (`cancelled`). The executor may [`discard`](HoldFinal::discard) the held status
//! instead (a task that spent a budget ends FAILED, whatever the adapter reported).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use crate::bindings::HostError;
use crate::capabilities::events::EventsBackend;

/// A final status waiting for the call to end.
type Held = Option<(TaskState, Option<Message>)>;

/// `inner` with its final status held until [`HoldFinal::release`]. Clones share the hold.
pub struct HoldFinal<B> {
    inner: Arc<B>,
    held: Arc<Mutex<Held>>,
}

impl<B> Clone for HoldFinal<B> {
    fn clone(&self) -> Self {
        HoldFinal {
            inner: self.inner.clone(),
            held: self.held.clone(),
        }
    }
}

impl<B: EventsBackend> HoldFinal<B> {
    /// Holds the final status of events going to `inner`.
    pub fn new(inner: B) -> Self {
        HoldFinal {
            inner: Arc::new(inner),
            held: Arc::default(),
        }
    }

    /// The backend the events go to.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Drops the held final status, if any, without sending it: the executor ends the task
    /// itself. Call it once the adapter's call has ended (nothing emits events after that).
    pub fn discard(&self) {
        self.lock().take();
    }

    /// Sends the held final status, if any (a task closed meanwhile, e.g. cancelled, ignores
    /// it).
    pub async fn release(&self) {
        let held = self.lock().take();
        if let Some((state, message)) = held {
            let _ = self.inner.status(state, message).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `cancelled` once a final status is held: the task is over for the adapter.
    fn open(&self) -> Result<(), HostError> {
        match self.lock().is_some() {
            true => Err(HostError::Cancelled),
            false => Ok(()),
        }
    }
}

/// True for the states that end the task's run: terminal or interrupted.
fn is_final(state: TaskState) -> bool {
    !matches!(state, TaskState::Submitted | TaskState::Working)
}

#[async_trait]
impl<B: EventsBackend> EventsBackend for HoldFinal<B> {
    async fn status(&self, state: TaskState, message: Option<Message>) -> Result<(), HostError> {
        if is_final(state) {
            let mut held = self.lock();
            if held.is_some() {
                return Err(HostError::Cancelled);
            }
            *held = Some((state, message));
            return Ok(());
        }
        self.open()?;
        self.inner.status(state, message).await
    }

    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError> {
        self.open()?;
        self.inner.artifact(artifact).await
    }

    async fn message(&self, message: Message) -> Result<(), HostError> {
        self.open()?;
        self.inner.message(message).await
    }

    /// Before anything was reported the reply is the whole answer (nothing to hold: no task
    /// reaches the client); after, it is the final COMPLETED status, held like any other.
    async fn reply(&self, message: Message) -> Result<(), HostError> {
        self.open()?;
        if self.inner.reported() {
            return self.status(TaskState::Completed, Some(message)).await;
        }
        self.inner.reply(message).await
    }

    fn reported(&self) -> bool {
        self.inner.reported()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the states it receives.
    #[derive(Default)]
    struct Seen(Mutex<Vec<TaskState>>);

    #[async_trait]
    impl EventsBackend for Seen {
        async fn status(&self, state: TaskState, _: Option<Message>) -> Result<(), HostError> {
            self.0.lock().unwrap().push(state);
            Ok(())
        }
        async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
            Ok(())
        }
        async fn message(&self, _: Message) -> Result<(), HostError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_final_status_waits_for_release_and_closes_the_task() {
        let hold = HoldFinal::new(Seen::default());
        hold.status(TaskState::Working, None).await.unwrap();
        hold.status(TaskState::Completed, None).await.unwrap();
        assert_eq!(*hold.inner.0.lock().unwrap(), vec![TaskState::Working]);
        let late = hold.status(TaskState::Working, None).await;
        assert!(matches!(late, Err(HostError::Cancelled)), "{late:?}");
        let twice = hold.status(TaskState::Failed, None).await;
        assert!(matches!(twice, Err(HostError::Cancelled)), "{twice:?}");
        hold.clone().release().await;
        hold.release().await;
        let seen = hold.inner.0.lock().unwrap().clone();
        assert_eq!(seen, vec![TaskState::Working, TaskState::Completed]);
    }

    #[tokio::test]
    async fn a_discarded_final_status_is_never_sent() {
        let hold = HoldFinal::new(Seen::default());
        hold.status(TaskState::Completed, None).await.unwrap();
        hold.discard();
        hold.release().await;
        assert!(hold.inner().0.lock().unwrap().is_empty());
    }
}
