//! `llm`: the model gateway. Components ask for completions; the backend (a provider client
//! in the host) holds the credentials, so no guest ever sees an API key.

use async_trait::async_trait;
use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::bindings::imports::molecule::runtime::llm::{
    self, ChatRequest, ChatResponse, StreamEvent,
};
use crate::bindings::HostError;

use super::grant::Granted;

mod gateway;
mod unavailable;
pub use self::gateway::GatewayBackend;
pub use self::unavailable::{model_access, NoModel};

pub use crate::bindings::ChatStream;

/// Answers completion requests.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// Runs a completion to the end.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, HostError>;
    /// Starts a streamed completion.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, HostError>;
}

/// The `llm` capability of one store.
pub type LlmCtx = Granted<dyn LlmBackend>;

/// What the `llm` host code sees of a store: its capability and the store's resource table
/// (for chat streams), as wasmtime's `WasiCtxView` does for WASI.
pub struct LlmView<'a> {
    /// The capability.
    pub ctx: &'a LlmCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// [`HasData`] for linking `llm` with an [`LlmView`] of the store.
pub struct LlmData;

impl HasData for LlmData {
    type Data<'a> = LlmView<'a>;
}

impl llm::Host for LlmView<'_> {
    async fn complete(&mut self, request: ChatRequest) -> Result<ChatResponse, HostError> {
        self.ctx.get()?.complete(request).await
    }

    async fn stream(&mut self, request: ChatRequest) -> Result<Resource<ChatStream>, HostError> {
        let stream = self.ctx.get()?.stream(request).await?;
        self.table
            .push(stream)
            .map_err(|e| HostError::Failed(format!("too many open streams: {e}")))
    }
}

impl llm::HostChatStream for LlmView<'_> {
    async fn next(
        &mut self,
        stream: Resource<ChatStream>,
    ) -> Result<Option<StreamEvent>, HostError> {
        let stream = self
            .table
            .get_mut(&stream)
            .map_err(|e| HostError::InvalidInput(format!("unknown chat stream: {e}")))?;
        if stream.finished {
            return Ok(None);
        }
        match stream.events.recv().await {
            Some(Ok(event)) => {
                if matches!(event, StreamEvent::Done(_)) {
                    stream.finished = true;
                }
                Ok(Some(event))
            }
            Some(Err(err)) => {
                stream.finished = true;
                Err(err)
            }
            None => {
                stream.finished = true;
                Err(HostError::Failed(
                    "the model stream ended without a final response".into(),
                ))
            }
        }
    }

    async fn drop(&mut self, stream: Resource<ChatStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
