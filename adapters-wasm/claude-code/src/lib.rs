//! molecule-runtime adapter "claude-code": a Claude Code-style, Anthropic-native agent loop as
//! a WebAssembly component. The model comes from `runtime_config.model` as an alias (`sonnet`,
//! `opus`, or a full id) passed as the request model — the host's gateway maps aliases. Every
//! request carries `max_tokens` (Anthropic requires it). Model calls answered `unavailable` are
//! retried with bounded exponential backoff. Continuity per context comes from the request
//! history; after each turn a short conversation summary is written to LOCAL memory (a denied
//! memory grant is ignored). Text streams as `response` artifact chunks.

use molecule_guest_sdk::adapter::RequestContext;
use molecule_guest_sdk::agent::{
    begin, build_conversation, describe_host_error, finish, run_tool_loop, AgentConfig, AgentError,
    AgentHost, LoopOptions, NoLocalTools, RetryPolicy, StopReason, RESPONSE_ARTIFACT,
};
use molecule_guest_sdk::log::Level;
use molecule_guest_sdk::memory::Scope;
use molecule_guest_sdk::serde_json::Value;
use molecule_guest_sdk::types::HostError;

/// Model turns per task when `max_turns` is unset.
pub const DEFAULT_MAX_TURNS: u32 = 30;
/// `max_tokens` per request when unset.
pub const DEFAULT_MAX_TOKENS: u32 = 8192;
/// Model-call attempts when `retry_attempts` is unset.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 4;
/// Characters of the request and of the answer kept in the memory summary.
const SUMMARY_REQUEST_CHARS: usize = 300;
const SUMMARY_ANSWER_CHARS: usize = 600;

/// What `setup` prepared for `execute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// System prompt: the host's plus `append_system_prompt`.
    pub system_prompt: String,
    /// Loop settings.
    pub options: LoopOptions,
    /// Write a summary to LOCAL memory after each turn.
    pub memory_summary: bool,
}

/// Reads the configuration (see the README for the keys).
pub fn settings(config: Value) -> Result<Settings, String> {
    let config = AgentConfig::from_value(config)?;
    let rc = &config.runtime_config;
    let mut system_prompt = config.system_prompt.clone();
    if let Some(extra) = rc.str("append_system_prompt")? {
        if !system_prompt.is_empty() {
            system_prompt.push_str("\n\n");
        }
        system_prompt.push_str(&extra);
    }
    let attempts = rc
        .u32_or("retry_attempts", DEFAULT_RETRY_ATTEMPTS)?
        .clamp(1, 10);
    let initial = u64::from(rc.u32_or("retry_initial_ms", 1000)?);
    let max = u64::from(rc.u32_or("retry_max_ms", 16_000)?).max(initial);
    Ok(Settings {
        system_prompt,
        options: LoopOptions {
            model: rc.str("model")?,
            max_turns: rc.u32_or("max_turns", DEFAULT_MAX_TURNS)?.max(1),
            max_tokens: Some(rc.u32_or("max_tokens", DEFAULT_MAX_TOKENS)?.max(1)),
            temperature: rc.f32("temperature")?,
            retry: RetryPolicy::new(attempts, initial, max),
            allow_tools: rc.string_list("allowed_tools")?,
            deny_tools: rc.string_list("disallowed_tools")?,
            stream_artifact: rc
                .bool_or("stream", true)?
                .then(|| RESPONSE_ARTIFACT.to_string()),
            ..LoopOptions::default()
        },
        memory_summary: rc.bool_or("memory_summary", true)?,
    })
}

fn clip(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// The memory summary of one turn of context `context_id`.
pub fn summary(context_id: &str, request: &str, answer: &str) -> String {
    format!(
        "[claude-code conversation {context_id}] User: {} | Assistant: {}",
        clip(request, SUMMARY_REQUEST_CHARS),
        clip(answer, SUMMARY_ANSWER_CHARS)
    )
}

/// Writes the turn summary to LOCAL memory. Denied (no memory grant) is ignored quietly, other
/// failures are logged; only `cancelled` stops the task.
fn remember(
    host: &dyn AgentHost,
    context: &RequestContext,
    answer: &str,
) -> Result<(), AgentError> {
    let content = summary(&context.context_id, &context.message.text(), answer);
    match host.commit_memory(&content, Scope::Local) {
        Ok(_) => Ok(()),
        Err(HostError::Cancelled) => Err(AgentError::Cancelled),
        Err(HostError::Denied(_)) => {
            host.log(Level::Debug, "memory summary skipped: memory not granted");
            Ok(())
        }
        Err(err) => {
            let why = describe_host_error(&err);
            host.log(Level::Warn, &format!("memory summary not stored: {why}"));
            Ok(())
        }
    }
}

/// Runs one task.
pub fn run(
    host: &dyn AgentHost,
    settings: &Settings,
    context: &RequestContext,
) -> Result<(), AgentError> {
    begin(host, "claude-code", context);
    let messages = build_conversation(&settings.system_prompt, &context.history, &context.message);
    let outcome = run_tool_loop(host, messages, &settings.options, &mut NoLocalTools)?;
    let text = match outcome.stop {
        StopReason::Finished => outcome.text,
        StopReason::TurnLimit => format!(
            "{}\n\n[stopped: reached max_turns ({})]",
            outcome.text, outcome.turns
        )
        .trim_start()
        .to_string(),
    };
    if settings.memory_summary {
        remember(host, context, &text)?;
    }
    finish(host, context, &text, outcome.streamed_artifact.as_deref())
}

/// The exported adapter.
pub struct ClaudeCode;

molecule_guest_sdk::export_adapter!(ClaudeCode {
    name: "claude-code",
    settings: Settings = settings,
    run: run,
});

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_guest_sdk::agent::{test_context, FakeHost, HostEvent};
    use molecule_guest_sdk::json;
    use molecule_guest_sdk::types::{Message, TaskState};

    fn template() -> Settings {
        settings(json!({
            "system_prompt": "You are a coder.",
            "runtime_config": {"model": "sonnet", "required_env": ["CLAUDE_CODE_OAUTH_TOKEN"],
                               "models": [{"id": "sonnet"}]}
        }))
        .unwrap()
    }

    #[test]
    fn alias_and_defaults() {
        let s = template();
        assert_eq!(s.options.model.as_deref(), Some("sonnet"));
        assert_eq!(s.options.max_tokens, Some(DEFAULT_MAX_TOKENS));
        assert_eq!(s.options.retry.attempts, DEFAULT_RETRY_ATTEMPTS);
        let s = settings(json!({"runtime_config": {"allowed_tools": "read"}})).unwrap();
        assert_eq!(s.options.allow_tools, ["read"]);
        assert!(s.options.model.is_none());
    }

    #[test]
    fn retries_unavailable_then_answers_and_remembers() {
        let host = FakeHost::new()
            .reply_error(HostError::Unavailable("overloaded".into()))
            .reply_error(HostError::Unavailable("overloaded".into()))
            .reply_text("Fixed the bug.");
        let history = vec![
            Message::user_text("Look at main.rs"),
            Message::agent_text("Done."),
        ];
        run(&host, &template(), &test_context("Fix the bug", history)).unwrap();
        let requests = host.requests();
        assert_eq!(requests.len(), 3);
        assert!(requests
            .iter()
            .all(|r| r.model.as_deref() == Some("sonnet")));
        assert_eq!(requests[0].messages.len(), 4);
        let events = host.events();
        let sleeps: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                HostEvent::Sleep(ms) => Some(*ms),
                _ => None,
            })
            .collect();
        assert_eq!(sleeps, [1000, 2000]);
        let memory = events.iter().find_map(|e| match e {
            HostEvent::Memory(content, scope) => Some((content.clone(), *scope)),
            _ => None,
        });
        let (content, scope) = memory.unwrap();
        assert_eq!(scope, Scope::Local);
        assert_eq!(
            content,
            "[claude-code conversation ctx-1] User: Fix the bug | Assistant: Fixed the bug."
        );
        assert_eq!(host.last_status().unwrap().0, TaskState::Completed);
    }

    #[test]
    fn retries_are_bounded_and_memory_denied_is_ignored() {
        let mut host = FakeHost::new();
        for _ in 0..DEFAULT_RETRY_ATTEMPTS {
            host = host.reply_error(HostError::Unavailable("down".into()));
        }
        let err = run(&host, &template(), &test_context("x", vec![])).unwrap_err();
        assert_eq!(err.to_string(), "model call: unavailable: down");

        let host = FakeHost::new()
            .memory_error(HostError::Denied("grant memory".into()))
            .reply_tools("", &[("missing_tool", "{}")])
            .reply_text("done");
        run(&host, &template(), &test_context("x", vec![])).unwrap();
        assert_eq!(host.last_status().unwrap().1.unwrap().text(), "done");
        assert!(host.logs().iter().all(|(level, _)| *level != Level::Warn));

        let host = FakeHost::new()
            .memory_error(HostError::Cancelled)
            .reply_text("done");
        let err = run(&host, &template(), &test_context("x", vec![])).unwrap_err();
        assert_eq!(err, AgentError::Cancelled);
    }

    #[test]
    fn summary_is_clipped_to_one_line() {
        let long = "word ".repeat(200);
        let s = summary("c", "multi\nline", &long);
        assert!(s.contains("User: multi line |"));
        assert!(s.ends_with('…'));
    }
}
