//! molecule-runtime adapter "deepagents": a deep agent as a WebAssembly component — a ReAct
//! loop (streamed) with planning (`write_todos`, reported as the `todos` data artifact), a
//! virtual filesystem (`ls`, `read_file`, `write_file`, `edit_file`, never the host's disk) and
//! sub-agents (`task`, a nested loop with a sub-agent prompt). The filesystem and the plan are
//! persisted in the task's completion message and seeded from the context's history, so they
//! carry over between the tasks of a conversation (see `state.rs`).

pub mod prompts;
pub mod state;
pub mod tools;
pub mod vfs;

use molecule_guest_sdk::adapter::RequestContext;
use molecule_guest_sdk::agent::{
    begin, best_effort, build_conversation, finish_with_parts, run_tool_loop, AgentConfig,
    AgentError, AgentHost, LoopOptions, StopReason, RESPONSE_ARTIFACT,
};
use molecule_guest_sdk::serde_json::Value;
use std::collections::BTreeMap;
use tools::{general_purpose, DeepTools, SubAgent};

/// Main-agent model turns when `max_turns` is unset.
pub const DEFAULT_MAX_TURNS: u32 = 25;
/// Sub-agent model turns when `subagent_max_turns` is unset.
pub const DEFAULT_SUBAGENT_MAX_TURNS: u32 = 10;

/// What `setup` prepared for `execute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The main agent's full system prompt.
    pub prompt: String,
    /// Main loop settings.
    pub options: LoopOptions,
    /// Sub-agent loop settings.
    pub subagent_options: LoopOptions,
    /// Sub-agents for `task` (the built-in general-purpose one included).
    pub subagents: Vec<SubAgent>,
    /// Files every new conversation starts with.
    pub files: BTreeMap<String, String>,
}

/// Reads the configuration (see the README for the keys).
pub fn settings(config: Value) -> Result<Settings, String> {
    let config = AgentConfig::from_value(config)?;
    let rc = &config.runtime_config;
    let instructions = rc.str_or("instructions", "")?;
    let mut subagents: Vec<SubAgent> = rc.parse("subagents")?.unwrap_or_default();
    if let Some(bad) = subagents.iter().position(|s| s.name.trim().is_empty()) {
        return Err(format!(
            "runtime_config.subagents[{bad}].name: must not be empty"
        ));
    }
    if !subagents.iter().any(|s| s.name == tools::GENERAL_PURPOSE) {
        subagents.insert(0, general_purpose(&config.system_prompt));
    }
    let base = LoopOptions {
        temperature: rc.f32("temperature")?,
        max_tokens: rc.u32("max_tokens")?,
        ..LoopOptions::default()
    };
    let stream = rc.bool_or("stream", true)?;
    Ok(Settings {
        prompt: prompts::main_prompt(&config.system_prompt, &instructions),
        options: LoopOptions {
            max_turns: rc.u32_or("max_turns", DEFAULT_MAX_TURNS)?.max(1),
            stream_artifact: stream.then(|| RESPONSE_ARTIFACT.to_string()),
            ..base.clone()
        },
        subagent_options: LoopOptions {
            max_turns: rc
                .u32_or("subagent_max_turns", DEFAULT_SUBAGENT_MAX_TURNS)?
                .max(1),
            ..base
        },
        subagents,
        files: state::initial_files(rc.get("files"))?,
    })
}

/// Runs one task.
pub fn run(
    host: &dyn AgentHost,
    settings: &Settings,
    context: &RequestContext,
) -> Result<(), AgentError> {
    begin(host, "deepagents", context);
    let (vfs, todos) = state::seed(&settings.files, &context.history, &context.message);
    let mut tools = DeepTools {
        vfs,
        todos,
        todos_artifact_id: format!("todos-{}", context.task_id),
        subagents: settings.subagents.clone(),
        subagent_options: settings.subagent_options.clone(),
    };
    let messages = build_conversation(&settings.prompt, &context.history, &context.message);
    let outcome = run_tool_loop(host, messages, &settings.options, &mut tools)?;
    if tools.vfs.changed {
        let artifact = state::files_artifact(&tools.vfs);
        best_effort(host, "events.add-artifact", host.add_artifact(&artifact))?;
    }
    let text = match outcome.stop {
        StopReason::Finished => outcome.text,
        StopReason::TurnLimit => format!(
            "{}\n\n[stopped after {} model turns without a final answer]",
            outcome.text, outcome.turns
        )
        .trim_start()
        .to_string(),
    };
    let snapshot = state::snapshot_part(&tools.vfs, &tools.todos);
    finish_with_parts(
        host,
        context,
        &text,
        outcome.streamed_artifact.as_deref(),
        vec![snapshot],
    )
}

/// The exported adapter.
pub struct DeepAgents;

molecule_guest_sdk::export_adapter!(DeepAgents {
    name: "deepagents",
    settings: Settings = settings,
    run: run,
});

#[cfg(test)]
mod tests;
