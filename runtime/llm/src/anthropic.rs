//! Anthropic Messages API (`POST {base}/v1/messages`): API-key or Claude Code OAuth auth,
//! system prompt as top-level `system`, `tool_use` / `tool_result` blocks, and the SSE event
//! stream (`message_start` … `message_stop`, `error`, `ping`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::{parse_error_body, start_stream, HttpCore, RequestFactory, StreamHandler};
use crate::provider::{
    finish_arguments, for_each_part, system_prompt, tokens, tool_declarations, HttpOptions, Part,
    Provider, Turns,
};
use crate::sse::SseEvent;
use crate::types::{
    ChatMessage, ChatRequest, ChatResponse, ChatStream, LlmError, StreamEvent, ToolCall, Usage,
};

/// `anthropic-version` header value.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `anthropic-beta` flag that OAuth (Claude Code) tokens require.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";
/// `max_tokens` sent when the request has none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 8192;

const NAME: &str = "anthropic";

/// How requests authenticate.
#[derive(Clone)]
pub enum AnthropicAuth {
    /// `x-api-key: <key>` (`ANTHROPIC_API_KEY`).
    ApiKey(String),
    /// `Authorization: Bearer <token>` plus the OAuth beta flag (`CLAUDE_CODE_OAUTH_TOKEN`).
    OAuth(String),
}

impl std::fmt::Debug for AnthropicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AnthropicAuth::ApiKey(_) => "ApiKey(<redacted>)",
            AnthropicAuth::OAuth(_) => "OAuth(<redacted>)",
        })
    }
}

/// The Anthropic provider.
pub struct Anthropic {
    core: Arc<HttpCore>,
    url: String,
    auth: AnthropicAuth,
}

impl Anthropic {
    /// A provider at `base_url` (e.g. `https://api.anthropic.com`; `/v1/messages` is appended).
    /// `credential_env` is named when the credential is rejected.
    pub fn new(
        base_url: &str,
        auth: AnthropicAuth,
        credential_env: Option<&str>,
        options: &HttpOptions,
    ) -> Result<Self, LlmError> {
        let secret = match &auth {
            AnthropicAuth::ApiKey(s) | AnthropicAuth::OAuth(s) => s.clone(),
        };
        let client = crate::http::build_client(&options.timeouts)?;
        let core = HttpCore::new(
            NAME,
            client,
            options.retry,
            options.timeouts,
            Some(&secret),
            credential_env,
        );
        Ok(Self {
            core: Arc::new(core),
            url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            auth,
        })
    }

    fn factory(&self, body: Value) -> RequestFactory {
        let client = self.core.client.clone();
        let url = self.url.clone();
        let auth = self.auth.clone();
        Arc::new(move || {
            let rb = client
                .post(&url)
                .header("anthropic-version", ANTHROPIC_VERSION)
                .json(&body);
            match &auth {
                AnthropicAuth::ApiKey(k) => rb.header("x-api-key", k),
                AnthropicAuth::OAuth(t) => rb.bearer_auth(t).header("anthropic-beta", OAUTH_BETA),
            }
        })
    }
}

#[async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &str {
        NAME
    }

    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = request_body(model, request, false)?;
        let answer = self.core.send_json(&*self.factory(body)).await?;
        parse_response(&answer)
    }

    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let body = request_body(model, request, true)?;
        start_stream(
            self.core.clone(),
            self.factory(body),
            AnthropicStream::default,
        )
        .await
    }
}

/// Builds a Messages API body; consecutive same-role turns are merged into one message.
pub(crate) fn request_body(
    model: &str,
    req: &ChatRequest,
    stream: bool,
) -> Result<Value, LlmError> {
    let mut turns = Turns::default();
    for_each_part(&req.messages, |_, part| {
        match part {
            Part::UserText("") => {}
            Part::UserText(text) => turns.push("user", json!({"type": "text", "text": text})),
            Part::AssistantText(text) => {
                turns.push("assistant", json!({"type": "text", "text": text}));
            }
            Part::ToolCall(c, input) => turns.push(
                "assistant",
                json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
            ),
            Part::ToolResult { id, content } => turns.push(
                "user",
                json!({"type": "tool_result", "tool_use_id": id, "content": content}),
            ),
        }
        Ok(())
    })?;
    let mut body = json!({
        "model": model,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": turns.into_json("content"),
    });
    if let Some(system) = system_prompt(&req.messages) {
        body["system"] = json!(system);
    }
    if !req.tools.is_empty() {
        let tools = tool_declarations(
            &req.tools,
            |t, schema| json!({"name": t.name, "description": t.description, "input_schema": schema}),
        )?;
        body["tools"] = Value::Array(tools);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if stream {
        body["stream"] = json!(true);
    }
    Ok(body)
}

fn usage_of(u: &Value) -> Usage {
    Usage {
        input_tokens: tokens(&u["input_tokens"])
            .saturating_add(tokens(&u["cache_creation_input_tokens"]))
            .saturating_add(tokens(&u["cache_read_input_tokens"])),
        output_tokens: tokens(&u["output_tokens"]),
    }
}

/// Parses a non-streaming Messages API answer.
pub(crate) fn parse_response(v: &Value) -> Result<ChatResponse, LlmError> {
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| LlmError::failed(NAME, "answer has no content array"))?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(ToolCall {
                id: b["id"].as_str().unwrap_or_default().to_string(),
                name: b["name"].as_str().unwrap_or_default().to_string(),
                arguments: if b["input"].is_object() {
                    b["input"].to_string()
                } else {
                    "{}".to_string()
                },
            }),
            _ => {}
        }
    }
    Ok(ChatResponse {
        message: ChatMessage::assistant(text, calls),
        stop_reason: v["stop_reason"].as_str().unwrap_or("end_turn").to_string(),
        usage: usage_of(&v["usage"]),
    })
}

enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
    },
}

/// Assembles a streamed Messages API answer.
#[derive(Default)]
struct AnthropicStream {
    text: String,
    blocks: HashMap<u64, Block>,
    calls: Vec<ToolCall>,
    stop_reason: Option<String>,
    usage: Usage,
}

impl AnthropicStream {
    fn done(&mut self) -> Vec<StreamEvent> {
        vec![StreamEvent::Done(ChatResponse {
            message: ChatMessage::assistant(
                std::mem::take(&mut self.text),
                std::mem::take(&mut self.calls),
            ),
            stop_reason: self
                .stop_reason
                .clone()
                .unwrap_or_else(|| "end_turn".into()),
            usage: self.usage,
        })]
    }
}

impl StreamHandler for AnthropicStream {
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, LlmError> {
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| LlmError::failed(NAME, format!("stream event is not JSON: {e}")))?;
        let kind = v["type"]
            .as_str()
            .map(str::to_string)
            .or(ev.event)
            .unwrap_or_default();
        let index = v["index"].as_u64().unwrap_or(0);
        let mut out = Vec::new();
        match kind.as_str() {
            "message_start" => self.usage = usage_of(&v["message"]["usage"]),
            "content_block_start" => {
                let b = &v["content_block"];
                let block = match b["type"].as_str() {
                    Some("tool_use") => Block::Tool {
                        id: b["id"].as_str().unwrap_or_default().to_string(),
                        name: b["name"].as_str().unwrap_or_default().to_string(),
                        json: String::new(),
                    },
                    _ => {
                        if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                            self.text.push_str(t);
                            out.push(StreamEvent::TextDelta(t.to_string()));
                        }
                        Block::Text
                    }
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match (d["type"].as_str(), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => {
                        if let Some(t) = d["text"].as_str().filter(|t| !t.is_empty()) {
                            self.text.push_str(t);
                            out.push(StreamEvent::TextDelta(t.to_string()));
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                        json.push_str(d["partial_json"].as_str().unwrap_or_default());
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool { id, name, json }) = self.blocks.remove(&index) {
                    let call = ToolCall {
                        arguments: finish_arguments(NAME, &name, &json)?,
                        id,
                        name,
                    };
                    self.calls.push(call.clone());
                    out.push(StreamEvent::ToolCall(call));
                }
            }
            "message_delta" => {
                if let Some(s) = v["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(s.to_string());
                }
                let u = &v["usage"];
                if u["output_tokens"].is_u64() {
                    self.usage.output_tokens = tokens(&u["output_tokens"]);
                }
                if u["input_tokens"].is_u64() {
                    self.usage.input_tokens = usage_of(u).input_tokens;
                }
            }
            "message_stop" => return Ok(self.done()),
            "error" => {
                let (ty, message) = parse_error_body(&ev.data);
                let ty = ty.unwrap_or_else(|| "error".into());
                let message = format!("{ty}: {message}");
                return Err(match ty.as_str() {
                    "overloaded_error" | "api_error" | "rate_limit_error" => {
                        LlmError::unavailable(NAME, message)
                    }
                    _ => LlmError::failed(NAME, message),
                });
            }
            _ => {} // ping and future event types
        }
        Ok(out)
    }

    fn on_end(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        Ok(if self.stop_reason.is_some() {
            self.done()
        } else {
            Vec::new()
        })
    }
}
