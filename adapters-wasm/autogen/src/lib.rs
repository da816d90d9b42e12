//! molecule-runtime adapter "autogen": an AutoGen-style round-robin group chat as a WebAssembly
//! component. Two participants take turns: the assistant (the model, with every host tool) and
//! a tool executor that runs the assistant's tool calls and answers with their results — or,
//! when the assistant called no tools and did not finish, asks it to continue. The chat ends
//! when the assistant says the termination keyword (`TERMINATE`) or after `max_turns`
//! participant turns (default 10). The answer is the assistant's last text without the keyword.

use molecule_guest_sdk::adapter::RequestContext;
use molecule_guest_sdk::agent::{
    begin, build_conversation, execute_tool_calls, finish, model_turn, offered_tools, AgentConfig,
    AgentError, AgentHost, LoopOptions, NoLocalTools,
};
use molecule_guest_sdk::llm::{ChatMessage, ChatRequest, ChatRole};
use molecule_guest_sdk::serde_json::Value;

/// Participant turns when `max_turns` is unset.
pub const DEFAULT_MAX_TURNS: u32 = 10;
/// Termination keyword when `termination_keyword` is unset.
pub const DEFAULT_KEYWORD: &str = "TERMINATE";

/// What `setup` prepared for `execute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The assistant's system message.
    pub system_prompt: String,
    /// Model settings (model, temperature, max_tokens).
    pub options: LoopOptions,
    /// Participant turns (assistant + executor) before the chat stops.
    pub max_turns: u32,
    /// The assistant ends the chat by saying this.
    pub keyword: String,
}

/// Reads the configuration (see the README for the keys).
pub fn settings(config: Value) -> Result<Settings, String> {
    let config = AgentConfig::from_value(config)?;
    let rc = &config.runtime_config;
    let keyword = rc.str_or("termination_keyword", DEFAULT_KEYWORD)?;
    let default_message = format!(
        "You are a helpful AI assistant. Solve tasks using your tools. Reply with {keyword} \
         when the task has been completed."
    );
    let system_message = rc.str("system_message")?.unwrap_or(default_message);
    let system_prompt = [config.system_prompt.trim(), system_message.trim()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n\n");
    Ok(Settings {
        system_prompt,
        options: LoopOptions {
            temperature: rc.f32("temperature")?,
            max_tokens: rc.u32("max_tokens")?,
            ..LoopOptions::default()
        },
        max_turns: rc.u32_or("max_turns", DEFAULT_MAX_TURNS)?.max(1),
        keyword,
    })
}

/// `text` without the termination keyword, trimmed.
pub fn strip_keyword(text: &str, keyword: &str) -> String {
    text.replace(keyword, "").trim().to_string()
}

/// The executor's reply when the assistant neither called tools nor terminated.
pub fn nudge(keyword: &str) -> String {
    format!(
        "No tool calls to execute. If the task is complete, give your final answer and end it \
         with {keyword}. Otherwise, continue working on the task."
    )
}

/// How the group chat ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResult {
    /// The assistant's last text without the keyword.
    pub text: String,
    /// Participant turns taken.
    pub turns: u32,
    /// True when the assistant said the keyword.
    pub terminated: bool,
}

/// Runs the round-robin chat over `messages`.
pub fn group_chat(
    host: &dyn AgentHost,
    settings: &Settings,
    mut messages: Vec<ChatMessage>,
) -> Result<ChatResult, AgentError> {
    let tools = offered_tools(host, &settings.options, &NoLocalTools);
    let mut last = String::new();
    let mut turns = 0;
    while turns < settings.max_turns {
        // The assistant's turn.
        turns += 1;
        host.set_current_task(&format!("autogen turn {turns}: assistant"));
        let request = ChatRequest {
            model: settings.options.model.clone(),
            messages: messages.clone(),
            tools: tools.clone(),
            max_tokens: settings.options.max_tokens,
            temperature: settings.options.temperature,
        };
        let mut reply = model_turn(host, &request, settings.options.retry, None)?.message;
        reply.role = ChatRole::Assistant;
        let cleaned = strip_keyword(&reply.content, &settings.keyword);
        if !cleaned.is_empty() {
            last = cleaned;
        }
        let said_keyword = reply.content.contains(&settings.keyword);
        let calls = reply.tool_calls.clone();
        messages.push(reply);
        if said_keyword && calls.is_empty() {
            return Ok(ChatResult {
                text: last,
                turns,
                terminated: true,
            });
        }
        if turns >= settings.max_turns {
            break;
        }
        // The executor's turn.
        turns += 1;
        host.set_current_task(&format!("autogen turn {turns}: executor"));
        if calls.is_empty() {
            messages.push(ChatMessage::user(nudge(&settings.keyword)));
        } else {
            messages.extend(execute_tool_calls(host, &calls, &mut NoLocalTools)?);
        }
    }
    Ok(ChatResult {
        text: last,
        turns,
        terminated: false,
    })
}

/// Runs one task.
pub fn run(
    host: &dyn AgentHost,
    settings: &Settings,
    context: &RequestContext,
) -> Result<(), AgentError> {
    begin(host, "autogen", context);
    let messages = build_conversation(&settings.system_prompt, &context.history, &context.message);
    let result = group_chat(host, settings, messages)?;
    let text = if result.terminated || !result.text.is_empty() {
        result.text
    } else {
        format!(
            "[stopped after {} turns without an answer or {}]",
            result.turns, settings.keyword
        )
    };
    finish(host, context, &text, None)
}

/// The exported adapter.
pub struct AutoGen;

molecule_guest_sdk::export_adapter!(AutoGen {
    name: "autogen",
    settings: Settings = settings,
    run: run,
});

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_guest_sdk::agent::{test_context, FakeHost};
    use molecule_guest_sdk::json;
    use molecule_guest_sdk::types::{HostError, ToolError};

    fn defaults() -> Settings {
        settings(json!({"system_prompt": "Team rules."})).unwrap()
    }

    fn final_text(host: &FakeHost) -> String {
        host.last_status().unwrap().1.unwrap().text()
    }

    #[test]
    fn config() {
        let s = defaults();
        assert_eq!(s.max_turns, 10);
        assert!(s
            .system_prompt
            .starts_with("Team rules.\n\nYou are a helpful AI assistant."));
        assert!(s
            .system_prompt
            .ends_with("Reply with TERMINATE when the task has been completed."));
        let s =
            settings(json!({"runtime_config": {"max_turns": 4, "termination_keyword": "DONE"}}));
        let s = s.unwrap();
        assert_eq!((s.max_turns, s.keyword.as_str()), (4, "DONE"));
    }

    #[test]
    fn tools_then_terminate() {
        let host = FakeHost::new()
            .tool("calc", |_| Ok("42".into()))
            .tool("broken", |_| Err(ToolError::Failed("oops".into())))
            .reply_tools("Let me compute.", &[("calc", "{}"), ("broken", "{}")])
            .reply_text("The answer is 42. TERMINATE");
        run(&host, &defaults(), &test_context("6*7?", vec![])).unwrap();
        let fed = &host.requests()[1].messages;
        let n = fed.len();
        assert_eq!(fed[n - 2].content, "42");
        assert_eq!(fed[n - 1].content, "Error (failed): oops");
        assert_eq!(final_text(&host), "The answer is 42.");
    }

    #[test]
    fn nudges_until_terminate_and_keeps_earlier_text() {
        let host = FakeHost::new()
            .reply_text("Here is the plan.")
            .reply_text("Final answer: yes.")
            .reply_text("TERMINATE");
        run(&host, &defaults(), &test_context("q", vec![])).unwrap();
        let second = &host.requests()[1].messages;
        assert_eq!(second.last().unwrap().content, nudge("TERMINATE"));
        assert_eq!(second.last().unwrap().role, ChatRole::User);
        assert_eq!(final_text(&host), "Final answer: yes.");
    }

    #[test]
    fn turn_limit_and_host_errors() {
        let s = settings(json!({"runtime_config": {"max_turns": 3}})).unwrap();
        let host = FakeHost::new()
            .reply_text("a")
            .reply_text("b")
            .reply_text("unused");
        run(&host, &s, &test_context("q", vec![])).unwrap();
        assert_eq!(host.requests().len(), 2);
        assert_eq!(final_text(&host), "b");

        let s = settings(json!({"runtime_config": {"max_turns": 1}})).unwrap();
        let host = FakeHost::new().reply_tools("", &[("x", "{}")]);
        run(&host, &s, &test_context("q", vec![])).unwrap();
        assert_eq!(
            final_text(&host),
            "[stopped after 1 turns without an answer or TERMINATE]"
        );

        let host = FakeHost::new().reply_error(HostError::Cancelled);
        let err = run(&host, &defaults(), &test_context("q", vec![])).unwrap_err();
        assert_eq!(err, AgentError::Cancelled);
    }
}
