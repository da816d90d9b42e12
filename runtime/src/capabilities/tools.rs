//! `tools`: lets a component (normally an adapter) list and call the workspace's tools. The
//! backend is the workspace's tool registry, which runs each call in the owning skill's own
//! sandbox. Ungranted, the list is empty and a call is the tool error `denied` with the
//! common denial text.

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::tools;
use crate::bindings::{HostError, ToolError, ToolSpec};

use super::grant::Granted;

/// The tools a component may see and call.
#[async_trait]
pub trait ToolsBackend: Send + Sync {
    /// Every tool visible to the caller.
    async fn list(&self) -> Vec<ToolSpec>;
    /// Calls tool `name` with JSON `input`.
    async fn call(&self, name: &str, input: &str) -> Result<String, ToolError>;
}

/// The `tools` capability of one store.
pub type ToolsCtx = Granted<dyn ToolsBackend>;

impl tools::Host for ToolsCtx {
    async fn list(&mut self) -> Vec<ToolSpec> {
        match self.get() {
            Ok(b) => b.list().await,
            Err(_) => Vec::new(),
        }
    }

    async fn call(&mut self, name: String, input: String) -> Result<String, ToolError> {
        match self.get() {
            Ok(b) => b.call(&name, &input).await,
            Err(HostError::Denied(text)) => Err(ToolError::Denied(format!(
                "{text}; without it, it cannot call `{name}`"
            ))),
            Err(other) => Err(ToolError::Failed(format!("{other:?}"))),
        }
    }
}
