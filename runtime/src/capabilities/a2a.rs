//! `a2a`: talking to peer workspaces. The backend is the platform client (peers come from the
//! platform registry, messages go through its A2A proxy); standalone workspaces have none.

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::a2a::{self, DelegationStatus, Peer, SendResult};
use crate::bindings::imports::molecule::runtime::types::Message;
use crate::bindings::HostError;

use super::grant::Granted;

/// Reaches peer workspaces.
#[async_trait]
pub trait A2aBackend: Send + Sync {
    /// Peers this workspace may contact.
    async fn list_peers(&self) -> Result<Vec<Peer>, HostError>;
    /// Sends a message and waits for the answer.
    async fn send(&self, peer_id: &str, message: Message) -> Result<SendResult, HostError>;
    /// Delegates a task without waiting; returns the delegation id.
    async fn delegate(&self, peer_id: &str, task: &str) -> Result<String, HostError>;
    /// The state of a delegation.
    async fn delegation_status(&self, id: &str) -> Result<DelegationStatus, HostError>;
}

/// The `a2a` capability of one store.
pub type A2aCtx = Granted<dyn A2aBackend>;

impl a2a::Host for A2aCtx {
    async fn list_peers(&mut self) -> Result<Vec<Peer>, HostError> {
        self.get()?.list_peers().await
    }

    async fn send(&mut self, peer_id: String, message: Message) -> Result<SendResult, HostError> {
        self.get()?.send(&peer_id, message).await
    }

    async fn delegate(&mut self, peer_id: String, task: String) -> Result<String, HostError> {
        self.get()?.delegate(&peer_id, &task).await
    }

    async fn check_delegation(&mut self, id: String) -> Result<DelegationStatus, HostError> {
        self.get()?.delegation_status(&id).await
    }
}
