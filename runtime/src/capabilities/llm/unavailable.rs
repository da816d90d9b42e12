//! The `llm` backend of a workspace without a usable model: every call fails at once with the
//! reason (which names the model and the config key it came from), so an adapter that never
//! calls the model runs without one, and one that does gets a clear error instead of a hang.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ChatStream, GatewayBackend, LlmBackend};
use crate::bindings::imports::molecule::runtime::llm::{ChatRequest, ChatResponse};
use crate::bindings::HostError;

/// Answers every request with `failed(reason)`: final, so adapters do not retry it.
#[derive(Debug, Clone)]
pub struct NoModel {
    reason: String,
}

impl NoModel {
    /// A backend failing every call with `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        NoModel {
            reason: reason.into(),
        }
    }
}

#[async_trait]
impl LlmBackend for NoModel {
    async fn complete(&self, _request: ChatRequest) -> Result<ChatResponse, HostError> {
        Err(HostError::Failed(self.reason.clone()))
    }

    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream, HostError> {
        Err(HostError::Failed(self.reason.clone()))
    }
}

/// The `llm` backend for one caller: the gateway (usage recorded under `key`), or
/// [`NoModel`] with the reason there is none.
pub fn model_access(
    gateway: &Result<Arc<molecule_llm::Gateway>, String>,
    key: impl Into<String>,
) -> Arc<dyn LlmBackend> {
    match gateway {
        Ok(gateway) => Arc::new(GatewayBackend::new(gateway.clone(), key)),
        Err(reason) => Arc::new(NoModel::new(reason.clone())),
    }
}
