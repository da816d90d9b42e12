//! `llm`: the model gateway. Components ask for completions; the backend (a provider client
//! in the host) holds the credentials, so no guest ever sees an API key.

use async_trait::async_trait;
use tokio::sync::mpsc;
use wasmtime::component::Resource;

use crate::bindings::imports::molecule::runtime::llm::{
    self, ChatRequest, ChatResponse, StreamEvent,
};
use crate::bindings::HostError;
use crate::state::HostState;

mod gateway;
mod unavailable;
pub use self::gateway::GatewayBackend;
pub use self::unavailable::{model_access, NoModel};

/// A streamed completion in progress: events arrive in order, ending with `done`.
pub struct ChatStream {
    events: mpsc::Receiver<Result<StreamEvent, HostError>>,
    finished: bool,
}

impl ChatStream {
    /// Wraps a channel the backend writes events into.
    pub fn new(events: mpsc::Receiver<Result<StreamEvent, HostError>>) -> Self {
        ChatStream {
            events,
            finished: false,
        }
    }
}

/// Answers completion requests.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// Runs a completion to the end.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, HostError>;
    /// Starts a streamed completion.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, HostError>;
}

impl llm::Host for HostState {
    async fn complete(&mut self, request: ChatRequest) -> Result<ChatResponse, HostError> {
        match self.grants.llm.clone() {
            Some(b) => b.complete(request).await,
            None => Err(self.grants.denied("llm")),
        }
    }

    async fn stream(&mut self, request: ChatRequest) -> Result<Resource<ChatStream>, HostError> {
        let backend = match self.grants.llm.clone() {
            Some(b) => b,
            None => return Err(self.grants.denied("llm")),
        };
        let stream = backend.stream(request).await?;
        self.table()
            .push(stream)
            .map_err(|e| HostError::Failed(format!("too many open streams: {e}")))
    }
}

impl llm::HostChatStream for HostState {
    async fn next(
        &mut self,
        stream: Resource<ChatStream>,
    ) -> Result<Option<StreamEvent>, HostError> {
        let stream = self
            .table()
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
        self.table().delete(stream)?;
        Ok(())
    }
}
