//! Google Gemini API (`POST {base}/v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, `x-goog-api-key`): contents with roles `user` / `model`,
//! `functionCall` / `functionResponse` parts, `systemInstruction`, `usageMetadata`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::{parse_error_body, start_stream, HttpCore, RequestFactory, StreamHandler};
use crate::provider::{
    for_each_part, system_prompt, tokens, tool_declarations, HttpOptions, Part, Provider, Turns,
};
use crate::sse::SseEvent;
use crate::types::{
    ChatMessage, ChatRequest, ChatResponse, ChatStream, LlmError, StreamEvent, ToolCall, Usage,
};

const NAME: &str = "gemini";
/// Schema keywords the Gemini function-declaration schema does not accept.
const UNSUPPORTED_SCHEMA_KEYS: &[&str] = &["$schema", "$id", "$comment", "additionalProperties"];

static NEXT_CALL_ID: AtomicU64 = AtomicU64::new(1);

/// The Gemini provider.
pub struct Gemini {
    core: Arc<HttpCore>,
    base: String,
    key: String,
}

impl Gemini {
    /// A provider at `base_url` (e.g. `https://generativelanguage.googleapis.com`).
    pub fn new(base_url: &str, api_key: String, options: &HttpOptions) -> Result<Self, LlmError> {
        let client = crate::http::build_client(&options.timeouts)?;
        let core = HttpCore::new(
            NAME,
            client,
            options.retry,
            options.timeouts,
            Some(&api_key),
            Some(crate::credentials::GEMINI_API_KEY),
        );
        Ok(Self {
            core: Arc::new(core),
            base: base_url.trim_end_matches('/').to_string(),
            key: api_key,
        })
    }

    fn factory(&self, url: String, body: Value) -> RequestFactory {
        let client = self.core.client.clone();
        let key = self.key.clone();
        Arc::new(move || client.post(&url).header("x-goog-api-key", &key).json(&body))
    }

    fn url(&self, model: &str, method: &str) -> Result<String, LlmError> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty()
            || !model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(LlmError::InvalidInput(format!(
                "gemini: bad model name `{model}`"
            )));
        }
        Ok(format!("{}/v1beta/models/{model}:{method}", self.base))
    }
}

#[async_trait]
impl Provider for Gemini {
    fn name(&self) -> &str {
        NAME
    }

    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let url = self.url(model, "generateContent")?;
        let body = request_body(request)?;
        let answer = self.core.send_json(&*self.factory(url, body)).await?;
        let mut state = GeminiStream::default();
        state.absorb(&answer, &mut Vec::new())?;
        if state.finish.is_none() {
            return Err(LlmError::failed(NAME, "answer has no candidate"));
        }
        Ok(state.response())
    }

    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let url = format!("{}?alt=sse", self.url(model, "streamGenerateContent")?);
        let body = request_body(request)?;
        start_stream(
            self.core.clone(),
            self.factory(url, body),
            GeminiStream::default,
        )
        .await
    }
}

/// Builds a `generateContent` body.
pub(crate) fn request_body(req: &ChatRequest) -> Result<Value, LlmError> {
    let mut contents = Turns::default();
    for_each_part(&req.messages, |i, part| {
        match part {
            Part::UserText(text) => contents.push("user", json!({"text": text})),
            Part::AssistantText(text) => contents.push("model", json!({"text": text})),
            Part::ToolCall(c, args) => contents.push(
                "model",
                json!({"functionCall": {"name": c.name, "args": args}}),
            ),
            Part::ToolResult { id, content } => {
                let name = called_tool(&req.messages[..i], id).ok_or_else(|| {
                    LlmError::InvalidInput(format!(
                        "message {i}: tool result for unknown tool call `{id}`"
                    ))
                })?;
                let response = match serde_json::from_str::<Value>(content) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({"result": content}),
                };
                contents.push(
                    "user",
                    json!({"functionResponse": {"name": name, "response": response}}),
                );
            }
        }
        Ok(())
    })?;
    let mut body = json!({"contents": contents.into_json("parts")});
    if let Some(system) = system_prompt(&req.messages) {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    if !req.tools.is_empty() {
        let decls = tool_declarations(&req.tools, |t, mut schema| {
            let mut d = json!({"name": t.name, "description": t.description});
            sanitize(&mut schema);
            let has_props = schema["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty());
            if has_props {
                d["parameters"] = schema;
            }
            d
        })?;
        body["tools"] = json!([{"functionDeclarations": decls}]);
    }
    let mut config = json!({});
    if let Some(n) = req.max_tokens {
        config["maxOutputTokens"] = json!(n);
    }
    if let Some(t) = req.temperature {
        config["temperature"] = json!(t);
    }
    if config.as_object().is_some_and(|c| !c.is_empty()) {
        body["generationConfig"] = config;
    }
    Ok(body)
}

/// The name of the tool of call `id`, the latest such call among `earlier` messages.
fn called_tool<'a>(earlier: &'a [ChatMessage], id: &str) -> Option<&'a str> {
    earlier
        .iter()
        .rev()
        .flat_map(|m| m.tool_calls.iter())
        .find(|c| c.id == id)
        .map(|c| c.name.as_str())
}

/// Drops JSON Schema keywords Gemini rejects, recursively.
fn sanitize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for k in UNSUPPORTED_SCHEMA_KEYS {
                map.remove(*k);
            }
            map.values_mut().for_each(sanitize);
        }
        Value::Array(items) => items.iter_mut().for_each(sanitize),
        _ => {}
    }
}

/// Maps Gemini `finishReason` to the neutral vocabulary.
fn stop_reason(finish: &str, has_calls: bool) -> String {
    match finish {
        "STOP" if has_calls => "tool_use".into(),
        "STOP" => "end_turn".into(),
        "MAX_TOKENS" => "max_tokens".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// Assembles Gemini answers; a non-streaming answer is one chunk.
#[derive(Default)]
struct GeminiStream {
    text: String,
    calls: Vec<ToolCall>,
    finish: Option<String>,
    usage: Usage,
}

impl GeminiStream {
    /// Takes in one `GenerateContentResponse`, appending the events it carries to `out`.
    fn absorb(&mut self, v: &Value, out: &mut Vec<StreamEvent>) -> Result<(), LlmError> {
        if v.get("error").is_some() {
            let (status, message) = parse_error_body(&v.to_string());
            let status = status.unwrap_or_else(|| "error".into());
            let message = format!("{status}: {message}");
            return Err(match status.as_str() {
                "UNAVAILABLE" | "RESOURCE_EXHAUSTED" | "INTERNAL" => {
                    LlmError::unavailable(NAME, message)
                }
                _ => LlmError::failed(NAME, message),
            });
        }
        if let Some(m) = v.get("usageMetadata") {
            self.usage = Usage {
                input_tokens: tokens(&m["promptTokenCount"]),
                output_tokens: tokens(&m["candidatesTokenCount"])
                    .saturating_add(tokens(&m["thoughtsTokenCount"])),
            };
        }
        let Some(cand) = v["candidates"].get(0) else {
            if let Some(reason) = v["promptFeedback"]["blockReason"].as_str() {
                return Err(LlmError::failed(NAME, format!("prompt blocked: {reason}")));
            }
            return Ok(());
        };
        for part in cand["content"]["parts"].as_array().into_iter().flatten() {
            if part["thought"].as_bool() == Some(true) {
                continue;
            }
            if let Some(t) = part["text"].as_str().filter(|t| !t.is_empty()) {
                self.text.push_str(t);
                out.push(StreamEvent::TextDelta(t.to_string()));
            }
            if let Some(fc) = part.get("functionCall") {
                let call = ToolCall {
                    id: fc["id"].as_str().map(str::to_string).unwrap_or_else(|| {
                        format!("call_{}", NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed))
                    }),
                    name: fc["name"].as_str().unwrap_or_default().to_string(),
                    arguments: if fc["args"].is_object() {
                        fc["args"].to_string()
                    } else {
                        "{}".into()
                    },
                };
                self.calls.push(call.clone());
                out.push(StreamEvent::ToolCall(call));
            }
        }
        if let Some(f) = cand["finishReason"].as_str() {
            self.finish = Some(f.to_string());
        }
        Ok(())
    }

    fn response(&mut self) -> ChatResponse {
        let has_calls = !self.calls.is_empty();
        ChatResponse {
            stop_reason: stop_reason(self.finish.as_deref().unwrap_or("STOP"), has_calls),
            message: ChatMessage::assistant(
                std::mem::take(&mut self.text),
                std::mem::take(&mut self.calls),
            ),
            usage: self.usage,
        }
    }
}

impl StreamHandler for GeminiStream {
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, LlmError> {
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|e| LlmError::failed(NAME, format!("stream chunk is not JSON: {e}")))?;
        let mut out = Vec::new();
        self.absorb(&v, &mut out)?;
        Ok(out)
    }

    fn on_end(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        Ok(if self.finish.is_some() {
            vec![StreamEvent::Done(self.response())]
        } else {
            Vec::new()
        })
    }
}
