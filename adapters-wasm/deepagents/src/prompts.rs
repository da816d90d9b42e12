//! The instructions deepagents adds to the workspace's system prompt: planning with
//! `write_todos`, the virtual filesystem, and delegating with `task`.

/// Base instructions of the main agent.
pub const BASE_PROMPT: &str = "In order to complete the objective that the user asks of you, \
you have access to a number of standard tools.";

/// Instructions for `write_todos`.
pub const TODOS_PROMPT: &str = "## `write_todos`

You have access to the `write_todos` tool to plan and track complex objectives. Use it for \
multi-step tasks: write the plan first, mark an item `in_progress` before working on it and \
`completed` as soon as it is done. Do not use it for simple requests that take a few steps.";

/// Instructions for the virtual-filesystem tools.
pub const FS_PROMPT: &str = "## Filesystem tools `ls`, `read_file`, `write_file`, `edit_file`

You have access to a virtual filesystem that persists across this conversation. All paths are \
absolute (start with `/`). Read a file before editing it; use it to keep notes, drafts and \
results that do not fit in a message.";

/// Instructions for the `task` tool.
pub const TASK_PROMPT: &str = "## `task` (sub-agent spawner)

You can launch short-lived sub-agents with the `task` tool for complex, independent pieces of \
work that benefit from an isolated context. Give each a complete description; you only see \
its final report. Sub-agents share the filesystem with you.";

/// The main agent's system prompt: the workspace's, the configured extra `instructions`, then
/// the deepagents sections.
pub fn main_prompt(system_prompt: &str, instructions: &str) -> String {
    [
        system_prompt,
        instructions,
        BASE_PROMPT,
        TODOS_PROMPT,
        FS_PROMPT,
        TASK_PROMPT,
    ]
    .iter()
    .map(|s| s.trim())
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("\n\n")
}
