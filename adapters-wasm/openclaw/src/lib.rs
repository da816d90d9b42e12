//! molecule-runtime adapter "openclaw": an OpenClaw gateway-style agent as a WebAssembly
//! component. Each A2A task is one session (`openclaw:<task-id>`) speaking the
//! OpenAI-compatible chat shape through the host's gateway: the workspace's markdown context
//! files (already inside the host-assembled `system_prompt`) plus any inline
//! `runtime_config.context` entries form the system message, the context's history and the new
//! message follow, and a simple tool loop runs until the model answers without tool calls.

use molecule_guest_sdk::adapter::RequestContext;
use molecule_guest_sdk::agent::{
    begin, build_conversation, finish, run_tool_loop, AgentConfig, AgentError, AgentHost,
    LoopOptions, NoLocalTools, StopReason, RESPONSE_ARTIFACT,
};
use molecule_guest_sdk::log::Level;
use molecule_guest_sdk::serde_json::Value;
use molecule_guest_sdk::types::Message;
use serde::Deserialize;

/// Model turns per session when `max_turns` is unset.
pub const DEFAULT_MAX_TURNS: u32 = 8;

/// One `runtime_config.context` entry: inline markdown, or `{name, content}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ContextEntry {
    /// Inline markdown.
    Text(String),
    /// A named document.
    Named {
        /// Its title (e.g. the file name `AGENTS.md`).
        #[serde(alias = "path", alias = "file")]
        name: String,
        /// Its markdown.
        content: String,
    },
}

/// What `setup` prepared for `execute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The session's system message.
    pub system_prompt: String,
    /// Loop settings.
    pub options: LoopOptions,
    /// Include the context's earlier messages in the session.
    pub include_history: bool,
    /// Context entries that looked like file names: a component cannot read files.
    pub unreadable: Vec<String>,
}

fn looks_like_path(text: &str) -> bool {
    let t = text.trim();
    !t.contains('\n') && !t.contains(' ') && (t.ends_with(".md") || t.contains('/'))
}

/// Reads the configuration (see the README for the keys).
pub fn settings(config: Value) -> Result<Settings, String> {
    let config = AgentConfig::from_value(config)?;
    let rc = &config.runtime_config;
    let entries: Vec<ContextEntry> = match rc.get("context") {
        Some(Value::String(s)) => vec![ContextEntry::Text(s.clone())],
        _ => rc.parse("context")?.unwrap_or_default(),
    };
    let mut sections = vec![config.system_prompt.trim().to_string()];
    let mut unreadable = Vec::new();
    for entry in entries {
        match entry {
            ContextEntry::Text(text) if looks_like_path(&text) => unreadable.push(text),
            ContextEntry::Text(text) => sections.push(text.trim().to_string()),
            ContextEntry::Named { name, content } => {
                sections.push(format!("## {name}\n\n{}", content.trim()))
            }
        }
    }
    let system_prompt = sections
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    Ok(Settings {
        system_prompt,
        options: LoopOptions {
            max_turns: rc.u32_or("max_turns", DEFAULT_MAX_TURNS)?.max(1),
            temperature: rc.f32("temperature")?,
            max_tokens: rc.u32("max_tokens")?,
            stream_artifact: rc
                .bool_or("stream", false)?
                .then(|| RESPONSE_ARTIFACT.to_string()),
            ..LoopOptions::default()
        },
        include_history: rc.bool_or("include_history", true)?,
        unreadable,
    })
}

/// The session key of a task.
pub fn session_key(context: &RequestContext) -> String {
    format!("openclaw:{}", context.task_id)
}

/// Runs one task as one session.
pub fn run(
    host: &dyn AgentHost,
    settings: &Settings,
    context: &RequestContext,
) -> Result<(), AgentError> {
    begin(host, "openclaw", context);
    let session = session_key(context);
    host.log(Level::Debug, &format!("session {session} started"));
    for name in &settings.unreadable {
        host.log(
            Level::Warn,
            &format!(
                "runtime_config.context entry `{name}` looks like a file path; an adapter \
                 component cannot read files — list it in prompt_files or inline its content"
            ),
        );
    }
    let history: &[Message] = if settings.include_history {
        &context.history
    } else {
        &[]
    };
    let messages = build_conversation(&settings.system_prompt, history, &context.message);
    let outcome = run_tool_loop(host, messages, &settings.options, &mut NoLocalTools)?;
    let text = match outcome.stop {
        StopReason::Finished => outcome.text,
        StopReason::TurnLimit => format!(
            "{}\n\n[session {session} stopped after {} turns]",
            outcome.text, outcome.turns
        )
        .trim_start()
        .to_string(),
    };
    host.log(
        Level::Debug,
        &format!("session {session} ended after {} turns", outcome.turns),
    );
    finish(host, context, &text, outcome.streamed_artifact.as_deref())
}

/// The exported adapter.
pub struct OpenClaw;

molecule_guest_sdk::export_adapter!(OpenClaw {
    name: "openclaw",
    settings: Settings = settings,
    run: run,
});

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_guest_sdk::agent::{test_context, FakeHost};
    use molecule_guest_sdk::json;
    use molecule_guest_sdk::types::{HostError, TaskState};

    #[test]
    fn context_entries_join_the_system_prompt() {
        let s = settings(json!({
            "system_prompt": "# SOUL.md\nBe kind.",
            "runtime_config": {"context": [
                "Inline rule.", {"name": "TOOLS.md", "content": "Use tools."}, "AGENTS.md"
            ]}
        }))
        .unwrap();
        assert_eq!(
            s.system_prompt,
            "# SOUL.md\nBe kind.\n\nInline rule.\n\n## TOOLS.md\n\nUse tools."
        );
        assert_eq!(s.unreadable, ["AGENTS.md"]);
        let s = settings(json!({"runtime_config": {"context": "Only this."}})).unwrap();
        assert_eq!(s.system_prompt, "Only this.");
        let err = settings(json!({"runtime_config": {"context": [3]}})).unwrap_err();
        assert!(err.starts_with("runtime_config.context"), "{err}");
    }

    #[test]
    fn session_tool_loop() {
        let host = FakeHost::new()
            .tool("search", |_| Ok("[]".into()))
            .reply_tools("", &[("search", r#"{"q":"x"}"#)])
            .reply_text("Nothing found.");
        let s = settings(json!({"system_prompt": "ctx"})).unwrap();
        let history = vec![Message::user_text("earlier"), Message::agent_text("reply")];
        run(&host, &s, &test_context("find x", history.clone())).unwrap();
        assert_eq!(host.requests()[0].messages.len(), 4);
        let (state, msg) = host.last_status().unwrap();
        assert_eq!(state, TaskState::Completed);
        assert_eq!(msg.unwrap().text(), "Nothing found.");
        assert!(host
            .logs()
            .iter()
            .any(|(_, l)| l.contains("session openclaw:task-1")));

        let s = settings(json!({"runtime_config": {"include_history": false}})).unwrap();
        let host = FakeHost::new().reply_text("ok");
        run(&host, &s, &test_context("find x", history)).unwrap();
        assert_eq!(host.requests()[0].messages.len(), 1);
    }

    #[test]
    fn host_errors_fail_the_task() {
        let s = settings(json!({})).unwrap();
        let host = FakeHost::new().reply_error(HostError::Denied("llm not granted".into()));
        let err = run(&host, &s, &test_context("x", vec![])).unwrap_err();
        assert_eq!(err.to_string(), "model call: denied: llm not granted");
    }
}
