//! molecule-runtime adapter "langgraph": a LangGraph-style ReAct agent as a WebAssembly
//! component. The thread is the A2A context: the conversation is rebuilt from the request's
//! history (earlier tasks of the context) plus the new message on every task. The model is
//! asked in a loop; tool calls run through the host (`tools.call`) and are fed back until the
//! model answers without tools or the turn limit is hit. Tokens are streamed to the client as
//! chunks of a `response` artifact; the answer also completes the task as an agent message.

use molecule_guest_sdk::adapter::RequestContext;
use molecule_guest_sdk::agent::{
    begin, build_conversation, finish, run_tool_loop, AgentConfig, AgentError, AgentHost,
    LoopOptions, NoLocalTools, StopReason, RESPONSE_ARTIFACT,
};
use molecule_guest_sdk::serde_json::Value;

/// Model turns allowed when neither `max_turns` nor `recursion_limit` is configured.
pub const DEFAULT_MAX_TURNS: u32 = 12;

/// What `setup` prepared for `execute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The host-assembled system prompt.
    pub system_prompt: String,
    /// Loop settings from `runtime_config`.
    pub options: LoopOptions,
}

/// Reads the configuration: `runtime_config.max_turns` (or LangGraph's `recursion_limit`,
/// two graph steps per model turn), `stream`, `temperature`, `max_tokens`.
pub fn settings(config: Value) -> Result<Settings, String> {
    let config = AgentConfig::from_value(config)?;
    let rc = &config.runtime_config;
    let max_turns = match (rc.u32("max_turns")?, rc.u32("recursion_limit")?) {
        (Some(turns), _) => turns.max(1),
        (None, Some(limit)) => (limit / 2).max(1),
        (None, None) => DEFAULT_MAX_TURNS,
    };
    let stream = rc.bool_or("stream", true)?;
    Ok(Settings {
        system_prompt: config.system_prompt.clone(),
        options: LoopOptions {
            max_turns,
            temperature: rc.f32("temperature")?,
            max_tokens: rc.u32("max_tokens")?,
            stream_artifact: stream.then(|| RESPONSE_ARTIFACT.to_string()),
            ..LoopOptions::default()
        },
    })
}

/// Runs one task: the ReAct loop over the context's thread, streamed, then completion.
pub fn run(
    host: &dyn AgentHost,
    settings: &Settings,
    context: &RequestContext,
) -> Result<(), AgentError> {
    begin(host, "langgraph", context);
    let messages = build_conversation(&settings.system_prompt, &context.history, &context.message);
    let outcome = run_tool_loop(host, messages, &settings.options, &mut NoLocalTools)?;
    let text = match outcome.stop {
        StopReason::Finished => outcome.text,
        StopReason::TurnLimit => format!(
            "{}\n\n[stopped after {} model turns without a final answer]",
            outcome.text, outcome.turns
        )
        .trim_start()
        .to_string(),
    };
    finish(host, context, &text, outcome.streamed_artifact.as_deref())
}

/// The exported adapter.
pub struct LangGraph;

molecule_guest_sdk::export_adapter!(LangGraph {
    name: "langgraph",
    settings: Settings = settings,
    run: run,
});

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_guest_sdk::agent::{test_context, FakeHost};
    use molecule_guest_sdk::json;
    use molecule_guest_sdk::llm::ChatRole;
    use molecule_guest_sdk::types::{HostError, Message, TaskState, ToolError};

    fn default_settings() -> Settings {
        settings(json!({"system_prompt": "You are helpful."})).unwrap()
    }

    #[test]
    fn reads_config() {
        let s = settings(json!({"runtime_config": {"recursion_limit": 9, "stream": false}}));
        let s = s.unwrap();
        assert_eq!(s.options.max_turns, 4);
        assert!(s.options.stream_artifact.is_none());
        assert_eq!(default_settings().options.max_turns, DEFAULT_MAX_TURNS);
        let err = settings(json!({"runtime_config": {"max_turns": "x"}})).unwrap_err();
        assert!(err.starts_with("runtime_config.max_turns"));
    }

    #[test]
    fn thread_history_tool_loop_and_streaming() {
        let host = FakeHost::new()
            .tool("weather", |_| Ok(r#"{"temp":21}"#.into()))
            .reply_tools("", &[("weather", r#"{"city":"Oslo"}"#)])
            .reply_text("It is 21 degrees in Oslo.");
        let history = vec![
            Message::user_text("I live in Oslo."),
            Message::agent_text("Noted."),
        ];
        let ctx = test_context("Weather at home?", history);
        run(&host, &default_settings(), &ctx).unwrap();
        let first = &host.requests()[0].messages;
        let roles: Vec<_> = first.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                ChatRole::System,
                ChatRole::User,
                ChatRole::Assistant,
                ChatRole::User
            ]
        );
        let chunks = host.artifacts();
        assert!(chunks.len() > 1 && chunks.last().unwrap().last_chunk);
        assert_eq!(
            host.artifact_text(&chunks[0].artifact_id),
            "It is 21 degrees in Oslo."
        );
        let (state, msg) = host.last_status().unwrap();
        assert_eq!(state, TaskState::Completed);
        assert_eq!(msg.unwrap().text(), "It is 21 degrees in Oslo.");
    }

    #[test]
    fn robust_to_no_tools_tool_errors_and_host_errors() {
        let host = FakeHost::new().reply_text("plain");
        run(&host, &default_settings(), &test_context("hi", vec![])).unwrap();
        assert!(host.requests()[0].tools.is_empty());

        let host = FakeHost::new()
            .tool("t", |_| Err(ToolError::Denied("no grant".into())))
            .reply_tools("", &[("t", "{}")])
            .reply_text("could not");
        run(&host, &default_settings(), &test_context("hi", vec![])).unwrap();
        assert_eq!(
            host.requests()[1].messages[3].content,
            "Error (denied): no grant"
        );

        let host = FakeHost::new().reply_error(HostError::Unavailable("gateway".into()));
        let err = run(&host, &default_settings(), &test_context("hi", vec![]));
        assert_eq!(
            err.unwrap_err().to_string(),
            "model call: unavailable: gateway"
        );
        let host = FakeHost::new().reply_error(HostError::Cancelled);
        let err = run(&host, &default_settings(), &test_context("hi", vec![]));
        assert_eq!(err.unwrap_err(), AgentError::Cancelled);
    }

    #[test]
    fn turn_limit_completes_with_a_note() {
        let host = FakeHost::new()
            .tool("t", |_| Ok("{}".into()))
            .reply_tools("", &[("t", "{}")]);
        let s = settings(json!({"runtime_config": {"max_turns": 1, "stream": false}})).unwrap();
        run(&host, &s, &test_context("loop", vec![])).unwrap();
        let (_, msg) = host.last_status().unwrap();
        assert_eq!(
            msg.unwrap().text(),
            "[stopped after 1 model turns without a final answer]"
        );
    }
}
