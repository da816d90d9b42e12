//! The `llm` backend over the `molecule-llm` gateway: maps the WIT types to the gateway's,
//! counts token usage per key (the task id), and turns provider errors into host errors that
//! never carry a credential.

use std::sync::Arc;

use async_trait::async_trait;
use molecule_llm as gw;
use tokio::sync::mpsc;

use super::{ChatStream, LlmBackend};
use crate::bindings::imports::molecule::runtime::llm::{
    ChatMessage, ChatRequest, ChatResponse, ChatRole, StreamEvent, ToolCall, Usage,
};
use crate::bindings::HostError;

/// Model access for one caller (usage is recorded under `key`).
#[derive(Clone)]
pub struct GatewayBackend {
    gateway: Arc<gw::Gateway>,
    key: String,
}

impl GatewayBackend {
    /// A backend that records usage under `key` (e.g. a task id).
    pub fn new(gateway: Arc<gw::Gateway>, key: impl Into<String>) -> Self {
        GatewayBackend {
            gateway,
            key: key.into(),
        }
    }
}

#[async_trait]
impl LlmBackend for GatewayBackend {
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, HostError> {
        self.gateway
            .complete(&self.key, to_gw(request))
            .await
            .map(from_gw_response)
            .map_err(host_error)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, HostError> {
        let mut upstream = self
            .gateway
            .stream(&self.key, to_gw(request))
            .await
            .map_err(host_error)?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(event) = upstream.recv().await {
                let event = event.map(from_gw_event).map_err(host_error);
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        Ok(ChatStream::new(rx))
    }
}

fn host_error(e: gw::LlmError) -> HostError {
    let text = e.to_string();
    match e.kind() {
        gw::ErrorKind::InvalidInput => HostError::InvalidInput(text),
        gw::ErrorKind::Unavailable => HostError::Unavailable(text),
        gw::ErrorKind::Failed => HostError::Failed(text),
    }
}

fn to_gw(r: ChatRequest) -> gw::ChatRequest {
    gw::ChatRequest {
        model: r.model,
        messages: r.messages.into_iter().map(to_gw_message).collect(),
        tools: r
            .tools
            .into_iter()
            .map(|t| gw::ToolSpec {
                name: t.name,
                description: t.description,
                input_schema: t.input_schema,
            })
            .collect(),
        max_tokens: r.max_tokens,
        temperature: r.temperature,
    }
}

fn to_gw_message(m: ChatMessage) -> gw::ChatMessage {
    gw::ChatMessage {
        role: match m.role {
            ChatRole::System => gw::ChatRole::System,
            ChatRole::User => gw::ChatRole::User,
            ChatRole::Assistant => gw::ChatRole::Assistant,
            ChatRole::Tool => gw::ChatRole::Tool,
        },
        content: m.content,
        tool_calls: m
            .tool_calls
            .into_iter()
            .map(|c| gw::ToolCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect(),
        tool_call_id: m.tool_call_id,
    }
}

fn from_gw_call(c: gw::ToolCall) -> ToolCall {
    ToolCall {
        id: c.id,
        name: c.name,
        arguments: c.arguments,
    }
}

fn from_gw_message(m: gw::ChatMessage) -> ChatMessage {
    ChatMessage {
        role: match m.role {
            gw::ChatRole::System => ChatRole::System,
            gw::ChatRole::User => ChatRole::User,
            gw::ChatRole::Assistant => ChatRole::Assistant,
            gw::ChatRole::Tool => ChatRole::Tool,
        },
        content: m.content,
        tool_calls: m.tool_calls.into_iter().map(from_gw_call).collect(),
        tool_call_id: m.tool_call_id,
    }
}

fn from_gw_response(r: gw::ChatResponse) -> ChatResponse {
    ChatResponse {
        message: from_gw_message(r.message),
        stop_reason: r.stop_reason,
        usage: Usage {
            input_tokens: r.usage.input_tokens,
            output_tokens: r.usage.output_tokens,
        },
    }
}

fn from_gw_event(e: gw::StreamEvent) -> StreamEvent {
    match e {
        gw::StreamEvent::TextDelta(t) => StreamEvent::TextDelta(t),
        gw::StreamEvent::ToolCall(c) => StreamEvent::ToolCall(from_gw_call(c)),
        gw::StreamEvent::Done(r) => StreamEvent::Done(from_gw_response(r)),
    }
}
