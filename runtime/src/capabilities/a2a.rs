//! `a2a`: talking to peer workspaces. The backend is the platform client (peers come from the
//! platform registry, messages go through its A2A proxy); standalone workspaces have none.

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::a2a::{self, DelegationStatus, Peer, SendResult};
use crate::bindings::imports::molecule::runtime::types::Message;
use crate::bindings::HostError;
use crate::state::HostState;

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

impl a2a::Host for HostState {
    async fn list_peers(&mut self) -> Result<Vec<Peer>, HostError> {
        match self.grants.a2a.clone() {
            Some(b) => b.list_peers().await,
            None => Err(self.grants.denied("a2a")),
        }
    }

    async fn send(&mut self, peer_id: String, message: Message) -> Result<SendResult, HostError> {
        match self.grants.a2a.clone() {
            Some(b) => b.send(&peer_id, message).await,
            None => Err(self.grants.denied("a2a")),
        }
    }

    async fn delegate(&mut self, peer_id: String, task: String) -> Result<String, HostError> {
        match self.grants.a2a.clone() {
            Some(b) => b.delegate(&peer_id, &task).await,
            None => Err(self.grants.denied("a2a")),
        }
    }

    async fn check_delegation(&mut self, id: String) -> Result<DelegationStatus, HostError> {
        match self.grants.a2a.clone() {
            Some(b) => b.delegation_status(&id).await,
            None => Err(self.grants.denied("a2a")),
        }
    }
}
