//! OpenAI-compatible chat completions (`POST {base}/chat/completions`): OpenAI itself, and by
//! base URL OpenRouter, Groq, Ollama, vLLM and other servers speaking the same wire format.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::{parse_error_body, start_stream, HttpCore, RequestFactory, StreamHandler};
use crate::provider::{
    call_arguments, finish_arguments, tokens, tool_call_id, tool_declarations, Provider,
};
use crate::sse::SseEvent;
use crate::types::{
    ChatMessage, ChatRequest, ChatResponse, ChatRole, ChatStream, LlmError, StreamEvent, ToolCall,
    Usage,
};
use crate::HttpOptions;

/// A provider speaking the OpenAI chat-completions wire format.
pub struct OpenAiCompatible {
    core: Arc<HttpCore>,
    url: String,
    api_key: Option<String>,
    max_tokens_field: &'static str,
}

impl OpenAiCompatible {
    /// A provider named `name` (used in errors) at `base_url` (e.g. `https://api.openai.com/v1`;
    /// `/chat/completions` is appended). `api_key` is sent as `Authorization: Bearer`; servers
    /// that need none (Ollama, vLLM) take `None`. `credential_env` is named when the key is
    /// rejected.
    pub fn new(
        name: &str,
        base_url: &str,
        api_key: Option<String>,
        credential_env: Option<&str>,
        options: &HttpOptions,
    ) -> Result<Self, LlmError> {
        let client = crate::http::build_client(&options.timeouts)?;
        let core = HttpCore::new(
            name,
            client,
            options.retry,
            options.timeouts,
            api_key.as_deref(),
            credential_env,
        );
        let base = base_url.trim_end_matches('/');
        // api.openai.com rejects `max_tokens` for reasoning models; compatible servers often
        // know only `max_tokens`.
        let max_tokens_field = if base.contains("api.openai.com") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        Ok(Self {
            core: Arc::new(core),
            url: format!("{base}/chat/completions"),
            api_key,
            max_tokens_field,
        })
    }

    fn factory(&self, body: Value) -> RequestFactory {
        let client = self.core.client.clone();
        let url = self.url.clone();
        let key = self.api_key.clone();
        Arc::new(move || {
            let mut rb = client.post(&url).json(&body);
            if let Some(k) = &key {
                rb = rb.bearer_auth(k);
            }
            rb
        })
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    fn name(&self) -> &str {
        &self.core.provider
    }

    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = request_body(model, request, false, self.max_tokens_field)?;
        let answer = self.core.send_json(&*self.factory(body)).await?;
        parse_response(&self.core.provider, &answer)
    }

    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let body = request_body(model, request, true, self.max_tokens_field)?;
        let provider = self.core.provider.clone();
        start_stream(self.core.clone(), self.factory(body), move || {
            OpenAiStream::new(&provider)
        })
        .await
    }
}

/// Builds the JSON body of a chat-completions request.
pub(crate) fn request_body(
    model: &str,
    req: &ChatRequest,
    stream: bool,
    max_tokens_field: &str,
) -> Result<Value, LlmError> {
    let messages = req
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message_json(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = json!({"model": model, "messages": messages});
    if !req.tools.is_empty() {
        let tools = tool_declarations(&req.tools, |t, schema| {
            json!({"type": "function", "function": {
                "name": t.name,
                "description": t.description,
                "parameters": schema,
            }})
        })?;
        body["tools"] = Value::Array(tools);
    }
    if let Some(n) = req.max_tokens {
        body[max_tokens_field] = json!(n);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    Ok(body)
}

fn message_json(i: usize, m: &ChatMessage) -> Result<Value, LlmError> {
    Ok(match m.role {
        ChatRole::System => json!({"role": "system", "content": m.content}),
        ChatRole::User => json!({"role": "user", "content": m.content}),
        ChatRole::Assistant => {
            let mut v = json!({"role": "assistant"});
            v["content"] = if m.content.is_empty() && !m.tool_calls.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            if !m.tool_calls.is_empty() {
                let calls = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        let args = call_arguments(i, c)?;
                        Ok(json!({"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": args.to_string()}}))
                    })
                    .collect::<Result<Vec<_>, LlmError>>()?;
                v["tool_calls"] = Value::Array(calls);
            }
            v
        }
        ChatRole::Tool => {
            let id = tool_call_id(i, m)?;
            json!({"role": "tool", "tool_call_id": id, "content": m.content})
        }
    })
}

/// Maps OpenAI `finish_reason` to the neutral vocabulary.
pub(crate) fn stop_reason(finish: &str) -> String {
    match finish {
        "stop" => "end_turn".into(),
        "tool_calls" | "function_call" => "tool_use".into(),
        "length" => "max_tokens".into(),
        other => other.into(),
    }
}

fn usage_of(v: &Value) -> Usage {
    Usage {
        input_tokens: tokens(&v["prompt_tokens"]),
        output_tokens: tokens(&v["completion_tokens"]),
    }
}

/// Parses a non-streaming chat-completions answer.
pub(crate) fn parse_response(provider: &str, v: &Value) -> Result<ChatResponse, LlmError> {
    let choice = v["choices"]
        .get(0)
        .ok_or_else(|| LlmError::failed(provider, "answer has no choices"))?;
    let msg = &choice["message"];
    let content = msg["content"].as_str().unwrap_or_default().to_string();
    let mut tool_calls = Vec::new();
    for (i, c) in msg["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = c["function"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let raw = c["function"]["arguments"].as_str().unwrap_or_default();
        tool_calls.push(ToolCall {
            id: c["id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("call_{i}")),
            arguments: finish_arguments(provider, &name, raw)?,
            name,
        });
    }
    let finish = choice["finish_reason"].as_str().unwrap_or("stop");
    let mut stop = stop_reason(finish);
    if !tool_calls.is_empty() && stop == "end_turn" {
        stop = "tool_use".into();
    }
    Ok(ChatResponse {
        message: ChatMessage::assistant(content, tool_calls),
        stop_reason: stop,
        usage: usage_of(&v["usage"]),
    })
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles a streamed chat completion.
struct OpenAiStream {
    provider: String,
    text: String,
    calls: BTreeMap<u64, PartialCall>,
    finished: Vec<ToolCall>,
    finish: Option<String>,
    usage: Usage,
}

impl OpenAiStream {
    fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_string(),
            text: String::new(),
            calls: BTreeMap::new(),
            finished: Vec::new(),
            finish: None,
            usage: Usage::default(),
        }
    }

    /// Emits the assembled tool calls (once).
    fn flush_calls(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        for (idx, c) in std::mem::take(&mut self.calls) {
            let call = ToolCall {
                id: if c.id.is_empty() {
                    format!("call_{idx}")
                } else {
                    c.id
                },
                arguments: finish_arguments(&self.provider, &c.name, &c.arguments)?,
                name: c.name,
            };
            out.push(StreamEvent::ToolCall(call.clone()));
            self.finished.push(call);
        }
        Ok(())
    }

    fn done(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        let mut out = Vec::new();
        self.flush_calls(&mut out)?;
        let mut stop = stop_reason(self.finish.as_deref().unwrap_or("stop"));
        if !self.finished.is_empty() && stop == "end_turn" {
            stop = "tool_use".into();
        }
        out.push(StreamEvent::Done(ChatResponse {
            message: ChatMessage::assistant(
                std::mem::take(&mut self.text),
                std::mem::take(&mut self.finished),
            ),
            stop_reason: stop,
            usage: self.usage,
        }));
        Ok(out)
    }
}

impl StreamHandler for OpenAiStream {
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, LlmError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return self.done();
        }
        let v: Value = serde_json::from_str(data).map_err(|e| {
            LlmError::failed(&self.provider, format!("stream chunk is not JSON: {e}"))
        })?;
        if v.get("error").is_some() {
            let (kind, message) = parse_error_body(data);
            let message = format!("{}: {message}", kind.as_deref().unwrap_or("stream error"));
            return Err(if kind.as_deref() == Some("server_error") {
                LlmError::unavailable(&self.provider, message)
            } else {
                LlmError::failed(&self.provider, message)
            });
        }
        let mut out = Vec::new();
        if v["usage"].is_object() {
            self.usage = usage_of(&v["usage"]);
        }
        for choice in v["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                self.text.push_str(t);
                out.push(StreamEvent::TextDelta(t.to_string()));
            }
            for (pos, tc) in delta["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let idx = tc["index"].as_u64().unwrap_or(pos as u64);
                let entry = self.calls.entry(idx).or_default();
                if let Some(id) = tc["id"].as_str().filter(|s| !s.is_empty()) {
                    entry.id = id.to_string();
                }
                if let Some(n) = tc["function"]["name"].as_str() {
                    if entry.name.is_empty() {
                        entry.name = n.to_string();
                    }
                }
                if let Some(a) = tc["function"]["arguments"].as_str() {
                    entry.arguments.push_str(a);
                }
            }
            if let Some(f) = choice["finish_reason"].as_str() {
                self.finish = Some(f.to_string());
                self.flush_calls(&mut out)?;
            }
        }
        Ok(out)
    }

    fn on_end(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        if self.finish.is_some() {
            self.done()
        } else {
            Ok(Vec::new())
        }
    }
}
