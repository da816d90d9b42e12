//! The native host object `globalThis.__moleculeHost` that the authoring package's
//! capabilities (`log`, `config`, `memory`, `llm`, `events`, `http`) call: each method is one
//! WIT import of `molecule:runtime` (or `wasi:http`), synchronous, taking and returning plain
//! values or JSON text. A failed call throws a plain object `{kind, message}` whose `kind` is
//! the WIT `host-error` case (`denied`, `invalid-input`, `unavailable`, `failed`,
//! `cancelled`); the package turns it into its `HostError` class. The contract is written
//! down in `guest-sdk/js/README.md`.

use molecule_guest_sdk::serde_json::{self, json, Value as Json};
use molecule_guest_sdk::types::{Artifact, HostError, Message, TaskState, ToolSpec};
use molecule_guest_sdk::{config, events, llm, log, memory};
use rquickjs::{Ctx, Error, Function, Object, Result, TypedArray};

/// Installs `__moleculeHost` on the context's global object.
pub fn install<'js>(ctx: &Ctx<'js>) -> Result<()> {
    let host = Object::new(ctx.clone())?;
    let add = |name: &str, f: Function<'js>| host.set(name, f);
    add("log", Function::new(ctx.clone(), write_log)?)?;
    add("configGet", Function::new(ctx.clone(), config_get)?)?;
    add("configKeys", Function::new(ctx.clone(), config::keys)?)?;
    add("memoryCommit", Function::new(ctx.clone(), memory_commit)?)?;
    add("memorySearch", Function::new(ctx.clone(), memory_search)?)?;
    add("llmComplete", Function::new(ctx.clone(), llm_complete)?)?;
    add("eventsStatus", Function::new(ctx.clone(), events_status)?)?;
    add("eventsArtifact", Function::new(ctx.clone(), events_artifact)?)?;
    add("eventsMessage", Function::new(ctx.clone(), events_message)?)?;
    add("httpRequest", Function::new(ctx.clone(), crate::http::request)?)?;
    add("textEncode", Function::new(ctx.clone(), text_encode)?)?;
    add("textDecode", Function::new(ctx.clone(), text_decode)?)?;
    ctx.globals().set("__moleculeHost", host)
}

/// Throws `{kind, message}`.
pub fn throw(ctx: &Ctx, kind: &str, message: impl Into<String>) -> Error {
    let object = match Object::new(ctx.clone()) {
        Ok(object) => object,
        Err(e) => return e,
    };
    if let Err(e) = object
        .set("kind", kind)
        .and_then(|()| object.set("message", message.into()))
    {
        return e;
    }
    ctx.throw(object.into_value())
}

/// A WIT `host-error` thrown as `{kind, message}`.
pub fn host_error(ctx: &Ctx, error: HostError) -> Error {
    match error {
        HostError::Denied(m) => throw(ctx, "denied", m),
        HostError::InvalidInput(m) => throw(ctx, "invalid-input", m),
        HostError::Unavailable(m) => throw(ctx, "unavailable", m),
        HostError::Failed(m) => throw(ctx, "failed", m),
        HostError::Cancelled => throw(ctx, "cancelled", "the task was cancelled"),
    }
}

fn invalid(ctx: &Ctx, message: impl Into<String>) -> Error {
    throw(ctx, "invalid-input", message)
}

fn write_log(ctx: Ctx, level: String, message: String) -> Result<()> {
    let level = match level.as_str() {
        "trace" => log::Level::Trace,
        "debug" => log::Level::Debug,
        "info" => log::Level::Info,
        "warn" => log::Level::Warn,
        "error" => log::Level::Error,
        other => {
            return Err(invalid(
                &ctx,
                format!("log level `{other}`: use one of trace, debug, info, warn, error"),
            ))
        }
    };
    log::write(level, message);
    Ok(())
}

fn config_get(ctx: Ctx, key: String) -> Result<Option<String>> {
    config::get(&key).map_err(|e| host_error(&ctx, e))
}

fn scope(ctx: &Ctx, name: &str) -> Result<memory::Scope> {
    name.parse()
        .map_err(|e: String| invalid(ctx, format!("scope: {e}")))
}

fn memory_commit(ctx: Ctx, content: String, scope_name: String) -> Result<String> {
    let scope = scope(&ctx, &scope_name)?;
    memory::commit(&content, scope).map_err(|e| host_error(&ctx, e))
}

fn memory_search(ctx: Ctx, query: String, scope_name: Option<String>, limit: u32) -> Result<String> {
    let scope = scope_name.map(|s| scope(&ctx, &s)).transpose()?;
    let found = memory::search(&query, scope, limit).map_err(|e| host_error(&ctx, e))?;
    let entries: Vec<Json> = found
        .into_iter()
        .map(|m| {
            json!({"id": m.id, "content": m.content, "scope": m.scope.as_str(),
                   "createdAt": m.created_at, "score": m.score})
        })
        .collect();
    Ok(Json::Array(entries).to_string())
}

fn llm_complete(ctx: Ctx, request: String) -> Result<String> {
    let request: Json = serde_json::from_str(&request)
        .map_err(|e| invalid(&ctx, format!("llm request is not JSON: {e}")))?;
    let request = chat_request(&request).map_err(|m| invalid(&ctx, m))?;
    let reply = llm::complete(&request).map_err(|e| host_error(&ctx, e))?;
    Ok(json!({
        "message": message_json(&reply.message),
        "stopReason": reply.stop_reason,
        "usage": {"inputTokens": reply.usage.input_tokens,
                  "outputTokens": reply.usage.output_tokens},
    })
    .to_string())
}

fn chat_request(v: &Json) -> std::result::Result<llm::ChatRequest, String> {
    let text = |v: &Json, key: &str| v[key].as_str().map(str::to_owned);
    let messages = v["messages"]
        .as_array()
        .ok_or("llm request: `messages` must be an array")?
        .iter()
        .map(chat_message)
        .collect::<std::result::Result<_, _>>()?;
    let tools = v["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| ToolSpec {
                    name: text(t, "name").unwrap_or_default(),
                    description: text(t, "description").unwrap_or_default(),
                    input_schema: match &t["inputSchema"] {
                        Json::Null => r#"{"type":"object"}"#.into(),
                        Json::String(s) => s.clone(),
                        schema => schema.to_string(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(llm::ChatRequest {
        model: text(v, "model"),
        messages,
        tools,
        max_tokens: v["maxTokens"].as_u64().map(|n| n.min(u32::MAX as u64) as u32),
        temperature: v["temperature"].as_f64().map(|t| t as f32),
    })
}

fn chat_message(m: &Json) -> std::result::Result<llm::ChatMessage, String> {
    let role = match m["role"].as_str().unwrap_or("user") {
        "system" => llm::ChatRole::System,
        "user" => llm::ChatRole::User,
        "assistant" => llm::ChatRole::Assistant,
        "tool" => llm::ChatRole::Tool,
        other => {
            return Err(format!(
                "chat role `{other}`: use one of system, user, assistant, tool"
            ))
        }
    };
    let tool_calls = m["toolCalls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| llm::ToolCall {
                    id: c["id"].as_str().unwrap_or_default().into(),
                    name: c["name"].as_str().unwrap_or_default().into(),
                    arguments: match &c["arguments"] {
                        Json::String(s) => s.clone(),
                        Json::Null => "{}".into(),
                        args => args.to_string(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(llm::ChatMessage {
        role,
        content: m["content"].as_str().unwrap_or_default().into(),
        tool_calls,
        tool_call_id: m["toolCallId"].as_str().map(str::to_owned),
    })
}

fn message_json(m: &llm::ChatMessage) -> Json {
    let role = match m.role {
        llm::ChatRole::System => "system",
        llm::ChatRole::User => "user",
        llm::ChatRole::Assistant => "assistant",
        llm::ChatRole::Tool => "tool",
    };
    let calls: Vec<Json> = m
        .tool_calls
        .iter()
        .map(|c| {
            let arguments = serde_json::from_str(&c.arguments)
                .unwrap_or_else(|_| Json::String(c.arguments.clone()));
            json!({"id": c.id, "name": c.name, "arguments": arguments})
        })
        .collect();
    json!({"role": role, "content": m.content, "toolCalls": calls, "toolCallId": m.tool_call_id})
}

fn events_status(ctx: Ctx, state: String, text: Option<String>) -> Result<()> {
    let state = match state.as_str() {
        "submitted" => TaskState::Submitted,
        "working" => TaskState::Working,
        "input-required" => TaskState::InputRequired,
        "auth-required" => TaskState::AuthRequired,
        "completed" => TaskState::Completed,
        "canceled" => TaskState::Canceled,
        "failed" => TaskState::Failed,
        "rejected" => TaskState::Rejected,
        other => {
            return Err(invalid(
                &ctx,
                format!(
                    "task state `{other}`: use one of submitted, working, input-required, \
                     auth-required, completed, canceled, failed, rejected"
                ),
            ))
        }
    };
    let message = text.map(Message::agent_text);
    events::status(state, message.as_ref()).map_err(|e| host_error(&ctx, e))
}

fn events_artifact(ctx: Ctx, name: Option<String>, text: String) -> Result<()> {
    events::artifact(&Artifact::text(name.as_deref(), text)).map_err(|e| host_error(&ctx, e))
}

fn events_message(ctx: Ctx, text: String) -> Result<()> {
    events::say(text).map_err(|e| host_error(&ctx, e))
}

fn text_encode<'js>(ctx: Ctx<'js>, text: String) -> Result<TypedArray<'js, u8>> {
    TypedArray::new(ctx, text.into_bytes())
}

fn text_decode(bytes: TypedArray<u8>) -> Result<String> {
    Ok(String::from_utf8_lossy(&copy_bytes(&bytes)).into_owned())
}

/// A copy of the bytes of `array` (empty when its buffer was detached).
pub fn copy_bytes(array: &TypedArray<u8>) -> Vec<u8> {
    // SAFETY: the slice is copied at once, and no JavaScript runs while it is alive, so the
    // engine cannot write into, detach or reallocate the buffer under it.
    unsafe { array.as_bytes() }.map(<[u8]>::to_vec).unwrap_or_default()
}
