//! The `scripted` provider: an offline model that replays responses from a YAML script. The
//! demo workspace and adapter tests use it. It is stateless, so it is deterministic under
//! concurrency: the response is chosen from the request alone (the number of assistant
//! messages after the last user message, and optional `when` rules on that message). The format is
//! documented in the crate README.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::provider::{stream_channel, Provider};
use crate::types::{
    ChatMessage, ChatRequest, ChatResponse, ChatRole, ChatStream, LlmError, StreamEvent, ToolCall,
    Usage,
};

const NAME: &str = "scripted";
const DEFAULT_CHUNK_CHARS: usize = 12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptDef {
    #[serde(default)]
    turns: Vec<EntryDef>,
    #[serde(default)]
    rules: Vec<RuleDef>,
    #[serde(default)]
    fallback: Option<EntryDef>,
    #[serde(default)]
    stream_chunk_chars: Option<usize>,
    #[serde(default)]
    stream_delay_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    when: String,
    turns: Vec<EntryDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDef {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDef>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<UsageDef>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCallDef {
    name: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    arguments: Option<serde_yaml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageDef {
    input_tokens: u32,
    output_tokens: u32,
}

/// One validated scripted response.
#[derive(Debug, Clone)]
struct Entry {
    text: String,
    tool_calls: Vec<(Option<String>, String, String)>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    error: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    when_lower: String,
    turns: Vec<Entry>,
}

/// Replays responses from a YAML script; see the crate README for the format.
#[derive(Debug, Clone)]
pub struct ScriptedProvider {
    source: String,
    turns: Vec<Entry>,
    rules: Vec<Rule>,
    fallback: Option<Entry>,
    chunk_chars: usize,
    delay: Duration,
}

impl ScriptedProvider {
    /// Loads a script file. Errors name the file, and the line or entry at fault.
    pub fn from_file(path: &Path) -> Result<Self, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            LlmError::Config(format!("scripted: cannot read {}: {e}", path.display()))
        })?;
        Self::from_yaml(&path.display().to_string(), &text)
    }

    /// Parses a script from YAML text; `source` names it in errors (usually the file path).
    pub fn from_yaml(source: &str, yaml: &str) -> Result<Self, LlmError> {
        let bad = |what: String| LlmError::Config(format!("scripted: {source}: {what}"));
        let def: ScriptDef = serde_yaml::from_str(yaml).map_err(|e| bad(e.to_string()))?;
        let turns = entries(&def.turns, "turns").map_err(bad)?;
        let mut rules = Vec::new();
        for (i, r) in def.rules.iter().enumerate() {
            if r.when.trim().is_empty() {
                return Err(bad(format!("rules[{i}]: `when` is empty")));
            }
            if r.turns.is_empty() {
                return Err(bad(format!("rules[{i}]: `turns` is empty")));
            }
            rules.push(Rule {
                when_lower: r.when.to_lowercase(),
                turns: entries(&r.turns, &format!("rules[{i}].turns")).map_err(bad)?,
            });
        }
        let fallback = match &def.fallback {
            Some(f) => Some(entry(f, "fallback").map_err(bad)?),
            None => None,
        };
        if turns.is_empty() && rules.is_empty() && fallback.is_none() {
            return Err(bad(
                "no responses: add `turns`, `rules` or `fallback`".into()
            ));
        }
        let chunk_chars = def.stream_chunk_chars.unwrap_or(DEFAULT_CHUNK_CHARS);
        if chunk_chars == 0 {
            return Err(bad("stream_chunk_chars must be at least 1".into()));
        }
        Ok(Self {
            source: source.to_string(),
            turns,
            rules,
            fallback,
            chunk_chars,
            delay: Duration::from_millis(def.stream_delay_ms.unwrap_or(0)),
        })
    }

    /// Chooses and renders the response for `request`.
    fn respond(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        // Turns count from the last user message, so an agent loop replays the same script
        // for every new question of a conversation.
        let since_user = request
            .messages
            .iter()
            .rposition(|m| m.role == ChatRole::User)
            .map_or(0, |i| i + 1);
        let turn = request.messages[since_user..]
            .iter()
            .filter(|m| m.role == ChatRole::Assistant)
            .count();
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map(|m| m.content.as_str())
            .unwrap_or_default();
        let lower = last_user.to_lowercase();
        let (list, label) = match self
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| lower.contains(&r.when_lower))
        {
            Some((i, r)) => (&r.turns, format!("rules[{i}].turns")),
            None => (&self.turns, "turns".to_string()),
        };
        let entry = list.get(turn).or(self.fallback.as_ref()).ok_or_else(|| {
            LlmError::failed(
                NAME,
                format!(
                    "script {}: {label} has {} entries but the conversation already has {turn} \
                     assistant messages; add an entry or a `fallback`",
                    self.source,
                    list.len()
                ),
            )
        })?;
        if let Some(e) = &entry.error {
            return Err(LlmError::failed(NAME, e.clone()));
        }
        let text = entry.text.replace("{{last_user}}", last_user);
        let tool_calls: Vec<ToolCall> = entry
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, (id, name, args))| ToolCall {
                id: id.clone().unwrap_or_else(|| format!("call_{turn}_{i}")),
                name: name.clone(),
                arguments: args.clone(),
            })
            .collect();
        let stop_reason = entry.stop_reason.clone().unwrap_or_else(|| {
            if tool_calls.is_empty() {
                "end_turn"
            } else {
                "tool_use"
            }
            .to_string()
        });
        let usage = entry.usage.unwrap_or_else(|| {
            let input: usize = request.messages.iter().map(|m| m.content.len()).sum();
            let output = text.len() + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
            Usage {
                input_tokens: estimate(input),
                output_tokens: estimate(output).max(1),
            }
        });
        Ok(ChatResponse {
            message: ChatMessage::assistant(text, tool_calls),
            stop_reason,
            usage,
        })
    }
}

/// About four characters a token.
fn estimate(chars: usize) -> u32 {
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

fn entries(defs: &[EntryDef], label: &str) -> Result<Vec<Entry>, String> {
    defs.iter()
        .enumerate()
        .map(|(i, d)| entry(d, &format!("{label}[{i}]")))
        .collect()
}

fn entry(d: &EntryDef, label: &str) -> Result<Entry, String> {
    if d.error.is_some() && (d.text.is_some() || !d.tool_calls.is_empty()) {
        return Err(format!(
            "{label}: `error` cannot be combined with text or tool_calls"
        ));
    }
    if d.error.is_none() && d.text.is_none() && d.tool_calls.is_empty() {
        return Err(format!(
            "{label}: empty response: give `text`, `tool_calls` or `error`"
        ));
    }
    let mut tool_calls = Vec::new();
    for (j, c) in d.tool_calls.iter().enumerate() {
        let at = format!("{label}.tool_calls[{j}]");
        if c.name.trim().is_empty() {
            return Err(format!("{at}: `name` is empty"));
        }
        let args = match &c.arguments {
            None | Some(serde_yaml::Value::Null) => serde_json::json!({}),
            Some(v @ serde_yaml::Value::Mapping(_)) => serde_json::to_value(v)
                .map_err(|e| format!("{at}: arguments cannot be JSON: {e}"))?,
            Some(_) => return Err(format!("{at}: `arguments` must be a map")),
        };
        tool_calls.push((c.id.clone(), c.name.clone(), args.to_string()));
    }
    Ok(Entry {
        text: d.text.clone().unwrap_or_default(),
        tool_calls,
        stop_reason: d.stop_reason.clone(),
        usage: d.usage.as_ref().map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }),
        error: d.error.clone(),
    })
}

/// Splits `text` into pieces of at most `n` characters.
fn chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn complete(
        &self,
        _model: &str,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        self.respond(request)
    }

    async fn stream(&self, _model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let response = self.respond(request)?;
        let mut events: Vec<StreamEvent> = chunks(&response.message.content, self.chunk_chars)
            .into_iter()
            .map(StreamEvent::TextDelta)
            .collect();
        events.extend(
            response
                .message
                .tool_calls
                .iter()
                .cloned()
                .map(StreamEvent::ToolCall),
        );
        events.push(StreamEvent::Done(response));
        let (tx, rx) = stream_channel();
        let delay = self.delay;
        tokio::spawn(async move {
            for ev in events {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
}
