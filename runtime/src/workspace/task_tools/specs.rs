//! What the built-in tools look like to an adapter: their names and specs (description and
//! JSON input schema). What they do is in the parent module.

use serde_json::{json, Value};

use crate::bindings::ToolSpec;
use crate::limits::{format_bytes, format_duration};
use crate::python::run::CodeRunner;

/// The built-in tool running an Agent Skills script.
pub const RUN_SKILL_SCRIPT: &str = "run_skill_script";
/// The built-in tool running a Python snippet (enabled by `tools: [run_code]`).
pub const RUN_CODE: &str = "run_code";

/// The spec of `run_skill_script` for the skills `ids` (those with scripts).
pub fn run_skill_script_spec(ids: &[&str]) -> ToolSpec {
    let description = format!(
        "Runs a Python script of an Agent Skills skill (the file scripts/<script> of the skill's \
         folder, as its SKILL.md describes) like `python scripts/<script> ARGS...`, with `stdin` \
         as its standard input, in a sandbox: the skill's folder is read-only, /scratch is a \
         writable folder kept for this task (the working directory), no subprocesses. Returns \
         {{\"exit_code\", \"stdout\", \"stderr\"}}; read the skill's SKILL.md for its scripts \
         and options. Skills with scripts: {}.",
        ids.join(", ")
    );
    ToolSpec {
        name: RUN_SKILL_SCRIPT.into(),
        description,
        input_schema: json!({
            "type": "object",
            "properties": {
                "skill": {"type": "string", "enum": ids, "description": "The skill's id."},
                "script": {"type": "string", "description": "The file under scripts/, e.g. `stats.py`."},
                "args": {"type": "array", "items": {"type": "string"}, "description": "Command-line arguments."},
                "stdin": {"type": "string", "description": "Text given to the script on standard input."}
            },
            "required": ["skill", "script"],
            "additionalProperties": false
        })
        .to_string(),
    }
}

/// The spec of `run_code` under `runner`'s limits.
pub fn run_code_spec(runner: &CodeRunner) -> ToolSpec {
    let limits = runner.limits();
    let description = format!(
        "Runs Python 3 code and returns {{\"exit_code\", \"stdout\", \"stderr\"}}: print what \
         you need to see. It runs in a sandbox (a WebAssembly CPython: standard library only, \
         no network, no subprocesses, no host files); /scratch is a writable folder kept for \
         this task (the working directory), so later runs can read what earlier ones wrote. \
         Each run may use {} of memory and {}; stdout is cut at 512 KiB.",
        format_bytes(limits.memory_bytes),
        format_duration(limits.timeout)
    );
    ToolSpec {
        name: RUN_CODE.into(),
        description,
        input_schema: json!({
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Python source, run as __main__."},
                "stdin": {"type": "string", "description": "Text given to the code on standard input."}
            },
            "required": ["code"],
            "additionalProperties": false
        })
        .to_string(),
    }
}

/// Names of the built-in tools, as listed to adapters.
pub const BUILTIN_NAMES: [&str; 6] = [
    "commit_memory",
    "search_memory",
    "send_message_to_user",
    "delegate_task",
    "delegate_task_async",
    "check_task_status",
];

/// Specs of the built-in tools.
pub fn builtin_specs() -> Vec<ToolSpec> {
    let spec = |name: &str, description: &str, schema: Value| ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: schema.to_string(),
    };
    let scope = json!({"type": "string", "enum": ["LOCAL", "TEAM", "GLOBAL"]});
    vec![
        spec("commit_memory", "Stores a fact in long-term memory (LOCAL: this workspace, TEAM: parent and siblings, GLOBAL: everyone).",
            json!({"type": "object", "properties": {"content": {"type": "string"}, "scope": scope}, "required": ["content"]})),
        spec("search_memory", "Searches long-term memory; returns the most relevant stored facts.",
            json!({"type": "object", "properties": {"query": {"type": "string"}, "scope": scope, "limit": {"type": "integer", "minimum": 1, "maximum": 50}}, "required": ["query"]})),
        spec("send_message_to_user", "Sends a message to the user now, without ending the task.",
            json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]})),
        spec("delegate_task", "Hands a task to a peer workspace and waits for its answer.",
            json!({"type": "object", "properties": {"workspace_id": {"type": "string"}, "task": {"type": "string"}}, "required": ["workspace_id", "task"]})),
        spec("delegate_task_async", "Hands a task to a peer workspace without waiting; returns a delegation id.",
            json!({"type": "object", "properties": {"workspace_id": {"type": "string"}, "task": {"type": "string"}}, "required": ["workspace_id", "task"]})),
        spec("check_task_status", "Reports the state and result of an earlier delegate_task_async.",
            json!({"type": "object", "properties": {"delegation_id": {"type": "string"}}, "required": ["delegation_id"]})),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::skills::BUILTIN_TOOL_NAMES;

    /// Every name the built-ins answer is reserved, so no skill tool can shadow one.
    #[test]
    fn every_builtin_name_is_reserved_from_skills() {
        for name in BUILTIN_NAMES.iter().chain(&[RUN_CODE, RUN_SKILL_SCRIPT]) {
            assert!(BUILTIN_TOOL_NAMES.contains(name), "{name}");
        }
        let specs = builtin_specs();
        assert!(specs
            .iter()
            .all(|s| BUILTIN_TOOL_NAMES.contains(&s.name.as_str())));
    }
}
