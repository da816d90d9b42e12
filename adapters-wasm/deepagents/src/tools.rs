//! The deepagents pseudo-tools, run inside the adapter: `write_todos` (the plan, reported to
//! the client as the `todos` data artifact), the virtual-filesystem tools, and `task`, which
//! runs a sub-agent: a nested tool loop with the sub-agent's prompt, the host's tools (optionally
//! restricted) and the same virtual filesystem, whose final answer is the tool result.
//! Sub-agents cannot plan or spawn further sub-agents.

use crate::state::{parse_todos, todos_artifact, Todo};
use crate::vfs::Vfs;
use molecule_guest_sdk::agent::{
    best_effort, run_tool_loop, AgentError, AgentHost, LocalTools, LoopOptions, StopReason,
    ToolOutput,
};
use molecule_guest_sdk::llm::ChatMessage;
use molecule_guest_sdk::types::ToolSpec;
use serde::Deserialize;
use serde_json::json;

/// Name of the built-in sub-agent.
pub const GENERAL_PURPOSE: &str = "general-purpose";

/// A sub-agent the `task` tool can start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubAgent {
    /// Name the model passes as `subagent_type`.
    pub name: String,
    /// When to use it, shown to the model.
    pub description: String,
    /// Its system prompt.
    pub prompt: String,
    /// Host tools it may use (empty = all).
    #[serde(default)]
    pub tools: Vec<String>,
}

/// The built-in general-purpose sub-agent, prompted with the workspace's system prompt.
pub fn general_purpose(system_prompt: &str) -> SubAgent {
    let mut prompt = String::from(
        "You are a sub-agent handling one isolated task for a main agent. Complete the task \
         with the tools available, then reply with a complete, self-contained report: the main \
         agent sees only your final message.",
    );
    if !system_prompt.trim().is_empty() {
        prompt = format!("{system_prompt}\n\n{prompt}");
    }
    SubAgent {
        name: GENERAL_PURPOSE.to_string(),
        description: "General-purpose agent for researching complex questions, searching for \
                      files and content, and executing multi-step tasks in isolation."
            .to_string(),
        prompt,
        tools: Vec::new(),
    }
}

/// Only the virtual-filesystem tools (what a sub-agent gets locally).
pub struct FsTools<'a>(pub &'a mut Vfs);

impl LocalTools for FsTools<'_> {
    fn specs(&self) -> Vec<ToolSpec> {
        Vfs::specs()
    }

    fn call(
        &mut self,
        _host: &dyn AgentHost,
        name: &str,
        arguments: &str,
    ) -> Result<Option<ToolOutput>, AgentError> {
        Ok(self.0.call(name, arguments))
    }
}

/// The main agent's local tools.
pub struct DeepTools {
    /// The virtual filesystem.
    pub vfs: Vfs,
    /// The current plan.
    pub todos: Vec<Todo>,
    /// Id of the `todos` artifact of this task.
    pub todos_artifact_id: String,
    /// Sub-agents available to `task`.
    pub subagents: Vec<SubAgent>,
    /// Loop settings of a sub-agent run (turn limit, model…).
    pub subagent_options: LoopOptions,
}

#[derive(Deserialize)]
struct TaskArgs {
    description: String,
    #[serde(default)]
    subagent_type: Option<String>,
}

impl DeepTools {
    fn task_spec(&self) -> ToolSpec {
        let catalogue = self
            .subagents
            .iter()
            .map(|s| format!("- {}: {}", s.name, s.description))
            .collect::<Vec<_>>()
            .join("\n");
        ToolSpec {
            name: "task".to_string(),
            description: format!(
                "Launches a short-lived sub-agent for a complex, multi-step, independent task \
                 with an isolated context. It shares the virtual filesystem. Give a detailed \
                 description; its final report is returned. Available sub-agent types:\n{catalogue}"
            ),
            input_schema: json!({"type": "object", "properties": {
                "description": {"type": "string", "description": "The task, in full detail."},
                "subagent_type": {"type": "string", "enum": self.subagents.iter().map(|s| &s.name).collect::<Vec<_>>()}
            }, "required": ["description"]})
            .to_string(),
        }
    }

    fn write_todos(
        &mut self,
        host: &dyn AgentHost,
        arguments: &str,
    ) -> Result<ToolOutput, AgentError> {
        let todos = match parse_todos(arguments) {
            Ok(todos) => todos,
            Err(e) => return Ok(Err(e)),
        };
        self.todos = todos;
        let artifact = todos_artifact(&self.todos_artifact_id, &self.todos);
        best_effort(host, "events.add-artifact", host.add_artifact(&artifact))?;
        let list = serde_json::to_string(&self.todos).unwrap_or_default();
        Ok(Ok(format!("Updated todo list to {list}")))
    }

    fn task(&mut self, host: &dyn AgentHost, arguments: &str) -> Result<ToolOutput, AgentError> {
        let args: TaskArgs = match serde_json::from_str(arguments) {
            Ok(args) => args,
            Err(e) => return Ok(Err(format!("invalid arguments for `task`: {e}"))),
        };
        let kind = args.subagent_type.as_deref().unwrap_or(GENERAL_PURPOSE);
        let Some(agent) = self.subagents.iter().find(|s| s.name == kind).cloned() else {
            let names: Vec<_> = self.subagents.iter().map(|s| s.name.as_str()).collect();
            return Ok(Err(format!(
                "unknown subagent_type `{kind}`; available: {}",
                names.join(", ")
            )));
        };
        host.set_current_task(&format!("sub-agent {}", agent.name));
        let messages = vec![
            ChatMessage::system(format!("{}\n\n{}", agent.prompt, crate::prompts::FS_PROMPT)),
            ChatMessage::user(args.description),
        ];
        let options = LoopOptions {
            allow_tools: agent.tools.clone(),
            stream_artifact: None,
            ..self.subagent_options.clone()
        };
        let outcome = run_tool_loop(host, messages, &options, &mut FsTools(&mut self.vfs))?;
        Ok(Ok(match outcome.stop {
            StopReason::Finished => outcome.text,
            StopReason::TurnLimit => format!(
                "{}\n[the sub-agent stopped after {} turns without finishing]",
                outcome.text, outcome.turns
            ),
        }))
    }
}

impl LocalTools for DeepTools {
    fn specs(&self) -> Vec<ToolSpec> {
        let mut specs = vec![ToolSpec {
            name: "write_todos".to_string(),
            description: "Creates or replaces the todo list that plans this task. Use it for \
                          multi-step work; mark items in_progress / completed as you go."
                .to_string(),
            input_schema: json!({"type": "object", "properties": {"todos": {"type": "array",
                "items": {"type": "object", "properties": {
                    "content": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]}
                }, "required": ["content", "status"]}}}, "required": ["todos"]})
            .to_string(),
        }];
        specs.extend(Vfs::specs());
        specs.push(self.task_spec());
        specs
    }

    fn call(
        &mut self,
        host: &dyn AgentHost,
        name: &str,
        arguments: &str,
    ) -> Result<Option<ToolOutput>, AgentError> {
        match name {
            "write_todos" => self.write_todos(host, arguments).map(Some),
            "task" => self.task(host, arguments).map(Some),
            _ => Ok(self.vfs.call(name, arguments)),
        }
    }
}
