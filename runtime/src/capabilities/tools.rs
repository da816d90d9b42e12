//! `tools`: lets a component (normally an adapter) list and call the workspace's tools. The
//! backend is the workspace's tool registry, which runs each call in the owning skill's own
//! sandbox.

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::tools;
use crate::bindings::{ToolError, ToolSpec};
use crate::state::HostState;

/// The tools a component may see and call.
#[async_trait]
pub trait ToolsBackend: Send + Sync {
    /// Every tool visible to the caller.
    async fn list(&self) -> Vec<ToolSpec>;
    /// Calls tool `name` with JSON `input`.
    async fn call(&self, name: &str, input: &str) -> Result<String, ToolError>;
}

impl tools::Host for HostState {
    async fn list(&mut self) -> Vec<ToolSpec> {
        match self.grants.tools.clone() {
            Some(b) => b.list().await,
            None => Vec::new(),
        }
    }

    async fn call(&mut self, name: String, input: String) -> Result<String, ToolError> {
        match self.grants.tools.clone() {
            Some(b) => b.call(&name, &input).await,
            None => Err(ToolError::Denied(format!(
                "{} is not granted `tools`, so it cannot call `{name}`",
                self.grants.component()
            ))),
        }
    }
}
