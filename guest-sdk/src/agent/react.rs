//! The ReAct tool loop: ask the model; if it called tools, run them (local pseudo-tools first,
//! then the host's), feed the results back as `tool` messages and ask again; stop when the
//! model answers without tool calls or after `max_turns` model turns. Text can be streamed to
//! the client as artifact chunks as it is generated.

use super::{
    execute_tool_calls, model_turn, AgentError, AgentHost, ArtifactStreamer, LocalTools,
    RetryPolicy,
};
use crate::llm::{ChatMessage, ChatRequest, ChatRole, Usage};
use crate::types::ToolSpec;

/// Settings of [`run_tool_loop`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoopOptions {
    /// Request model (`provider:model` or an alias the host maps); `None` = the workspace's.
    pub model: Option<String>,
    /// Most model turns before the loop stops (at least 1).
    pub max_turns: u32,
    /// Cap on generated tokens per turn.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Retries of model calls answered `unavailable`.
    pub retry: RetryPolicy,
    /// Offer the host's tools (`tools.list`) to the model; local tools are always offered.
    pub host_tools: bool,
    /// When set, only these host tools are offered (empty = all).
    pub allow_tools: Vec<String>,
    /// Host tools never offered.
    pub deny_tools: Vec<String>,
    /// Stream text into this artifact (name) as it is generated; `None` = no streaming.
    pub stream_artifact: Option<String>,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            model: None,
            max_turns: 10,
            max_tokens: None,
            temperature: None,
            retry: RetryPolicy::none(),
            host_tools: true,
            allow_tools: Vec::new(),
            deny_tools: Vec::new(),
            stream_artifact: None,
        }
    }
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model answered without calling tools.
    Finished,
    /// `max_turns` model turns were used up while the model still called tools.
    TurnLimit,
}

/// The result of [`run_tool_loop`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoopOutcome {
    /// The final answer: the last assistant text (may be empty).
    pub text: String,
    /// The whole conversation, including the model's and the tools' messages.
    pub messages: Vec<ChatMessage>,
    /// Model turns used.
    pub turns: u32,
    /// Why the loop stopped.
    pub stop: StopReason,
    /// Tokens used, summed over turns.
    pub usage: Usage,
    /// The streamed artifact's id (already finished), when streaming was on and text was
    /// streamed.
    pub streamed_artifact: Option<String>,
}

/// The tools offered to the model: the host's (filtered per `options`) then the local ones;
/// a local tool shadows a host tool of the same name.
pub fn offered_tools(
    host: &dyn AgentHost,
    options: &LoopOptions,
    local: &dyn LocalTools,
) -> Vec<ToolSpec> {
    let local_specs = local.specs();
    let mut tools = if options.host_tools {
        super::filter_tools(host.list_tools(), &options.allow_tools, &options.deny_tools)
    } else {
        Vec::new()
    };
    tools.retain(|t| !local_specs.iter().any(|l| l.name == t.name));
    tools.extend(local_specs);
    tools
}

/// Runs the ReAct loop from `messages` (typically [`build_conversation`]'s output).
///
/// [`build_conversation`]: super::build_conversation
pub fn run_tool_loop(
    host: &dyn AgentHost,
    mut messages: Vec<ChatMessage>,
    options: &LoopOptions,
    local: &mut dyn LocalTools,
) -> Result<LoopOutcome, AgentError> {
    let tools = offered_tools(host, options, local);
    let mut streamer = options
        .stream_artifact
        .as_deref()
        .map(|name| ArtifactStreamer::new(Some(name)));
    let mut usage = Usage {
        input_tokens: 0,
        output_tokens: 0,
    };
    let max_turns = options.max_turns.max(1);
    let mut last_text = String::new();
    for turn in 1..=max_turns {
        let request = ChatRequest {
            model: options.model.clone(),
            messages: messages.clone(),
            tools: tools.clone(),
            max_tokens: options.max_tokens,
            temperature: options.temperature,
        };
        let response = model_turn(host, &request, options.retry, streamer.as_mut())?;
        usage.input_tokens = usage
            .input_tokens
            .saturating_add(response.usage.input_tokens);
        usage.output_tokens = usage
            .output_tokens
            .saturating_add(response.usage.output_tokens);
        let mut reply = response.message;
        reply.role = ChatRole::Assistant;
        if !reply.content.trim().is_empty() {
            last_text = reply.content.clone();
        }
        let calls = reply.tool_calls.clone();
        messages.push(reply);
        if calls.is_empty() {
            let text = messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default();
            return finish_outcome(
                host,
                text,
                messages,
                turn,
                StopReason::Finished,
                usage,
                streamer,
            );
        }
        let results = execute_tool_calls(host, &calls, local)?;
        messages.extend(results);
    }
    finish_outcome(
        host,
        last_text,
        messages,
        max_turns,
        StopReason::TurnLimit,
        usage,
        streamer,
    )
}

fn finish_outcome(
    host: &dyn AgentHost,
    text: String,
    messages: Vec<ChatMessage>,
    turns: u32,
    stop: StopReason,
    usage: Usage,
    streamer: Option<ArtifactStreamer>,
) -> Result<LoopOutcome, AgentError> {
    let streamed_artifact = match streamer {
        Some(mut s) if s.has_text() => {
            s.finish(host)?;
            Some(s.artifact_id().to_string())
        }
        _ => None,
    };
    Ok(LoopOutcome {
        text,
        messages,
        turns,
        stop,
        usage,
        streamed_artifact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{FakeHost, NoLocalTools};
    use crate::types::{HostError, ToolError};

    fn conv() -> Vec<ChatMessage> {
        vec![ChatMessage::system("sys"), ChatMessage::user("add 1 and 2")]
    }

    #[test]
    fn tool_round_trip_then_answer() {
        let host = FakeHost::new()
            .tool("add", |input| {
                let v: serde_json::Value = serde_json::from_str(input).unwrap();
                Ok((v["a"].as_i64().unwrap() + v["b"].as_i64().unwrap()).to_string())
            })
            .reply_tools("", &[("add", r#"{"a":1,"b":2}"#)])
            .reply_text("It is 3.");
        let out = run_tool_loop(&host, conv(), &LoopOptions::default(), &mut NoLocalTools).unwrap();
        assert_eq!(out.text, "It is 3.");
        assert_eq!(out.turns, 2);
        assert_eq!(out.stop, StopReason::Finished);
        let requests = host.requests();
        assert_eq!(requests[0].tools.len(), 1);
        let fed = &requests[1].messages;
        assert_eq!(fed[3].role, ChatRole::Tool);
        assert_eq!(fed[3].content, "3");
        assert_eq!(
            fed[3].tool_call_id.as_deref(),
            Some(fed[2].tool_calls[0].id.as_str())
        );
        assert_eq!(out.usage.input_tokens, 20);
    }

    #[test]
    fn empty_tool_list_and_tool_errors_recover() {
        let host = FakeHost::new()
            .reply_tools("let me try", &[("missing", "{}")])
            .reply_text("Sorry, no such tool.");
        let out = run_tool_loop(&host, conv(), &LoopOptions::default(), &mut NoLocalTools).unwrap();
        assert!(host.requests()[0].tools.is_empty());
        assert_eq!(
            host.requests()[1].messages[3].content,
            "Error (not found): no tool named `missing`"
        );
        assert_eq!(out.text, "Sorry, no such tool.");
    }

    #[test]
    fn turn_limit_keeps_last_text() {
        let host = FakeHost::new()
            .tool("t", |_| Err(ToolError::Failed("x".into())))
            .reply_tools("thinking", &[("t", "{}")])
            .reply_tools("", &[("t", "{}")]);
        let opts = LoopOptions {
            max_turns: 2,
            ..LoopOptions::default()
        };
        let out = run_tool_loop(&host, conv(), &opts, &mut NoLocalTools).unwrap();
        assert_eq!(out.stop, StopReason::TurnLimit);
        assert_eq!(out.text, "thinking");
        assert_eq!(out.turns, 2);
    }

    #[test]
    fn streams_and_propagates_host_errors() {
        let host = FakeHost::new().reply_text("streamed answer");
        let opts = LoopOptions {
            stream_artifact: Some("response".into()),
            ..LoopOptions::default()
        };
        let out = run_tool_loop(&host, conv(), &opts, &mut NoLocalTools).unwrap();
        let id = out.streamed_artifact.unwrap();
        assert_eq!(host.artifact_text(&id), "streamed answer");
        assert!(host.artifacts().last().unwrap().last_chunk);

        let host = FakeHost::new().reply_error(HostError::Cancelled);
        let err = run_tool_loop(&host, conv(), &opts, &mut NoLocalTools).unwrap_err();
        assert_eq!(err, AgentError::Cancelled);
        let host = FakeHost::new().reply_error(HostError::Failed("quota".into()));
        let err = run_tool_loop(&host, conv(), &opts, &mut NoLocalTools).unwrap_err();
        assert_eq!(err.to_string(), "model call: failed: quota");
    }
}
