//! The task tools that run Python: `run_skill_script` (a skill's `scripts/*.py`, in the
//! shared CPython component with the skill folder as data) and `run_code` (a snippet, when
//! config.yaml `tools:` enables it), their inputs, errors and metrics.

use serde::Deserialize;
use tracing::Instrument as _;

use super::{parse, script_folder, script_skills, TaskTools, RUN_CODE, RUN_SKILL_SCRIPT};
use crate::bindings::ToolError;
use crate::python::run::{self as python_run, RunError};
use crate::sandbox::CallError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptInput {
    skill: String,
    script: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    stdin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeInput {
    code: String,
    #[serde(default)]
    stdin: String,
}

/// A script's or snippet's failure as a tool error (a limit or crash is `failed`).
fn run_error(err: RunError) -> ToolError {
    match err {
        RunError::Call(CallError::Tool(tool_error)) => tool_error,
        other => ToolError::Failed(other.to_string()),
    }
}

/// Records a Python run in the tool-call metrics and logs a limit or crash.
fn record(tool: &str, result: &Result<String, RunError>, started: std::time::Instant) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(RunError::Call(err)) => {
            if matches!(err, CallError::Trap { .. } | CallError::Limit(_)) {
                let error = crate::redact::escape(&err.to_string());
                tracing::warn!(tool = %tool, error = %error, "Python run stopped");
            }
            err.outcome()
        }
        Err(_) => "tool_error",
    };
    crate::metrics::global().tool_call(tool, outcome, started.elapsed());
}

impl TaskTools {
    pub(super) async fn run_skill_script(&self, input: &str) -> Result<String, ToolError> {
        let input: ScriptInput = parse(RUN_SKILL_SCRIPT, input)?;
        let snapshot = self.skills.snapshot();
        let with_scripts = script_skills(&snapshot);
        let Some((_, skill)) = with_scripts.iter().find(|(id, _)| *id == input.skill) else {
            let ids: Vec<&str> = with_scripts.iter().map(|(id, _)| *id).collect();
            let why = if snapshot.skills.contains_key(&input.skill) {
                format!("skill `{}` has no scripts/*.py", input.skill)
            } else {
                format!("no skill `{}` is loaded", input.skill)
            };
            let ids = if ids.is_empty() {
                "none".to_owned()
            } else {
                ids.join(", ")
            };
            return Err(ToolError::NotFound(format!(
                "{why}; skills with scripts: {ids}"
            )));
        };
        let skill = (*skill).clone();
        drop(snapshot);
        let folder = script_folder(&skill).unwrap_or(&skill.dir.dir).to_owned();
        let available = python_run::scripts(&folder);
        let Some(script) = python_run::script_name(&input.script) else {
            return Err(ToolError::InvalidInput(format!(
                "field `script`: `{}` is not a file inside scripts/ of skill `{}`; its scripts: {}",
                input.script,
                input.skill,
                available.join(", ")
            )));
        };
        if !available.contains(&script) {
            return Err(ToolError::NotFound(format!(
                "skill `{}` has no script `scripts/{script}`; its scripts: {}",
                input.skill,
                available.join(", ")
            )));
        }
        let span = tracing::info_span!("tool_call", tool = RUN_SKILL_SCRIPT, skill = %skill.dir.id, script = %script);
        let started = std::time::Instant::now();
        let result = python_run::run_script(
            self.skills.sandbox(),
            &skill.component,
            &self.scratch,
            &script,
            &input.args,
            &input.stdin,
        )
        .instrument(span)
        .await;
        record(RUN_SKILL_SCRIPT, &result, started);
        result.map_err(run_error)
    }

    pub(super) async fn run_code(&self, input: &str) -> Result<String, ToolError> {
        let input: CodeInput = parse(RUN_CODE, input)?;
        let Some(runner) = &self.builtins.code else {
            return Err(ToolError::NotFound(format!(
                "`{RUN_CODE}` is not enabled: add it to `tools:` in config.yaml"
            )));
        };
        let span = tracing::info_span!("tool_call", tool = RUN_CODE);
        let started = std::time::Instant::now();
        let result = runner
            .run(&self.scratch, &input.code, &input.stdin)
            .instrument(span)
            .await;
        record(RUN_CODE, &result, started);
        result.map_err(run_error)
    }
}
