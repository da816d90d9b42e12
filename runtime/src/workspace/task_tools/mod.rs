//! The workspace's `tools` backend for one A2A task (the capability itself is
//! `capabilities::tools`), as [`TaskTools`]: every skill tool (each call sandboxed with the
//! owning skill's grants) plus the built-ins — `commit_memory`, `search_memory` (alias
//! `recall_memory`), `send_message_to_user`, and the delegation tools, which need a platform —
//! and the Python ones: `run_skill_script` (listed when a loaded skill has `scripts/*.py`) and
//! `run_code` (listed when config.yaml's `tools:` has `run_code`). Both run in the shared
//! Python interpreter component with a per-task `/scratch` folder, removed when the task ends.
//! The built-ins' names and specs are in `specs.rs`; here is what each does, except
//! `request_approval` and the calls config.yaml's `approval.tools` holds for a human, which
//! suspend the task (`workspace::approval`).

mod record;
mod scripts;
mod specs;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use molecule_platform::{ActivityReporter, ActivityType, HeartbeatPoker};

use super::approval::{self, Gate, Suspension};
use super::peers::PlatformPeers;
use super::skills::{LoadedSkill, SkillRegistry, SkillSnapshot};
use crate::bindings::imports::molecule::runtime::memory::Scope;
use crate::bindings::imports::molecule::runtime::types::{Message, Part, Role, TaskState};
use crate::bindings::{HostError, ToolError, ToolSpec};
use crate::capabilities::a2a::A2aBackend;
use crate::capabilities::events::EventsBackend;
use crate::capabilities::memory::{
    check_query, parse_scope, scope_name, MemoryBackend, WriteBudget,
};
use crate::capabilities::tools::ToolsBackend;
use crate::python::run::{CodeRunner, Scratch};
use crate::sandbox::CallError;
use crate::skill_dir::ComponentSource;

pub use record::{ToolCallLog, METADATA_KEY as TOOL_CALLS_METADATA_KEY};
pub use specs::{
    builtin_specs, run_code_spec, run_skill_script_spec, BUILTIN_NAMES, RUN_CODE, RUN_SKILL_SCRIPT,
};

/// What the built-in tools reach.
#[derive(Clone, Default)]
pub struct Builtins {
    /// The memory backend, when the workspace has one.
    pub memory: Option<Arc<dyn MemoryBackend>>,
    /// Peers through the platform, when the workspace joined one.
    pub peers: Option<PlatformPeers>,
    /// Activity reports to the platform, when joined.
    pub activity: Option<ActivityReporter>,
    /// Pokes the heartbeat loop (a beat at once on task start and end), once it runs.
    pub heartbeat: Arc<OnceLock<HeartbeatPoker>>,
    /// A coordinator (a workspace with children) delegates: it gets the built-ins, not the
    /// skill tools, and a call to a work tool is refused. Set once the platform says so.
    pub coordinator: Arc<AtomicBool>,
    /// `run_code`, when config.yaml enables it (`tools: [run_code]`).
    pub code: Option<CodeRunner>,
    /// Where each task's `/scratch` folder is made (`<data dir>/scratch` in a workspace); the
    /// system temp folder when unset.
    pub scratch_root: Option<PathBuf>,
    /// The tools whose calls wait for a human (`approval.tools`).
    pub approval: Gate,
}

/// The tools of one task. Dropping it (when the task ends) removes the task's `/scratch`.
pub struct TaskTools {
    skills: Arc<SkillRegistry>,
    builtins: Builtins,
    events: Arc<dyn EventsBackend>,
    scratch: Scratch,
    memory_budget: WriteBudget,
    suspension: Arc<Suspension>,
    /// The task's context uploads folder, for skills granted `uploads`.
    uploads: Option<PathBuf>,
    /// The task's tool calls, for its transcript.
    calls: Arc<ToolCallLog>,
}

/// The owner the built-in memory tools write as: the adapter's entries are counted together
/// against `sandbox.memory_capability.quota`.
pub const ADAPTER_MEMORY_OWNER: &str = "adapter";

impl TaskTools {
    /// Tools for a task whose events go to `events`.
    pub fn new(
        skills: Arc<SkillRegistry>,
        builtins: Builtins,
        events: Arc<dyn EventsBackend>,
    ) -> Self {
        let scratch = Scratch::new(builtins.scratch_root.clone());
        TaskTools {
            skills,
            builtins,
            events,
            scratch,
            memory_budget: WriteBudget::new(&crate::budgets::Budgets::default()),
            suspension: Arc::default(),
            uploads: None,
            calls: Arc::default(),
        }
    }

    /// These tools for a task whose context uploads are in `dir` (skills granted `uploads`
    /// see it read-only at `/uploads`).
    pub fn with_uploads(mut self, dir: Option<PathBuf>) -> Self {
        self.uploads = dir;
        self
    }

    /// These tools recording their calls in `log` (see [`ToolCallLog::for_run`]).
    pub fn with_call_log(mut self, log: ToolCallLog) -> Self {
        self.calls = Arc::new(log);
        self
    }

    /// The log of this task's tool calls (shared: the executor stores it when the task ends).
    pub fn call_log(&self) -> Arc<ToolCallLog> {
        self.calls.clone()
    }

    /// These tools with the memory budgets of `budgets` (the adapter's) for the built-in
    /// `commit_memory`; without it the default budgets apply. Writes are counted per task.
    pub fn with_memory_budgets(mut self, budgets: &crate::budgets::Budgets) -> Self {
        self.memory_budget = WriteBudget::new(budgets);
        self
    }

    /// Where this task's tool calls stop for a human (the executor waits on it).
    pub fn suspension(&self) -> Arc<Suspension> {
        self.suspension.clone()
    }

    /// The task's scratch folder, once a script or snippet made it (for tests).
    pub fn scratch_dir(&self) -> Option<PathBuf> {
        self.scratch.existing()
    }
}

/// The loaded Python skills with `scripts/*.py`, by id (known per skill version: no folder
/// is read here).
fn script_skills(snapshot: &SkillSnapshot) -> Vec<(&str, &Arc<LoadedSkill>)> {
    snapshot
        .script_skills()
        .iter()
        .filter_map(|id| snapshot.skills.get_key_value(id))
        .map(|(id, skill)| (id.as_str(), skill))
        .collect()
}

/// The folder of a loaded Python skill that has `scripts/*.py`.
fn script_folder(skill: &LoadedSkill) -> Option<&std::path::Path> {
    match &skill.dir.source {
        ComponentSource::Python(dir) if skill.has_scripts => Some(dir),
        _ => None,
    }
}

#[async_trait]
impl ToolsBackend for TaskTools {
    async fn list(&self) -> Vec<ToolSpec> {
        let mut specs = builtin_specs();
        specs.push(approval::request_approval_spec());
        if !self.builtins.coordinator.load(Ordering::Relaxed) {
            // Everything here was indexed when the snapshot was built: no scan, no search.
            // No skill tool takes a built-in's name (the index refuses it), so none repeats.
            let snapshot = self.skills.snapshot();
            let ids: Vec<&str> = snapshot
                .script_skills()
                .iter()
                .map(String::as_str)
                .collect();
            if !ids.is_empty() {
                specs.push(run_skill_script_spec(&ids));
            }
            if let Some(runner) = &self.builtins.code {
                specs.push(run_code_spec(runner));
            }
            specs.extend_from_slice(snapshot.tool_specs_ref());
        }
        specs
    }

    async fn call(&self, name: &str, input: &str) -> Result<String, ToolError> {
        let gate = &self.builtins.approval;
        if let Some(held) = approval::intercept(gate, &self.suspension, name, input).await {
            return held;
        }
        self.call_unguarded(name, input).await
    }
}

impl TaskTools {
    /// Calls `name` without the approval gate (for a held call a human approved), recorded
    /// for the task's transcript.
    pub async fn call_unguarded(&self, name: &str, input: &str) -> Result<String, ToolError> {
        let result = self.dispatch(name, input).await;
        self.calls.record(name, input, &result);
        result
    }

    /// Runs the tool `name` (a built-in, or a skill's tool in its sandbox).
    async fn dispatch(&self, name: &str, input: &str) -> Result<String, ToolError> {
        match name {
            "commit_memory" => self.commit_memory(input).await,
            "search_memory" | "recall_memory" => self.search_memory(input).await,
            "send_message_to_user" => self.send_message(input).await,
            "delegate_task" | "delegate_task_async" | "check_task_status" => {
                self.delegation(name, input).await
            }
            _ if self.builtins.coordinator.load(Ordering::Relaxed) => {
                Err(ToolError::Denied(format!(
                    "this workspace is a coordinator: it delegates work to its team instead of \
                 calling `{}` itself; use delegate_task with one of its children",
                    crate::describe::quote_name(name)
                )))
            }
            RUN_SKILL_SCRIPT => self.run_skill_script(input).await,
            RUN_CODE => self.run_code(input).await,
            _ => self
                .skills
                .call_in_context(name, input, self.uploads.as_deref())
                .await
                .map_err(|e| match e {
                    CallError::Tool(tool_error) => tool_error,
                    other => ToolError::Failed(other.to_string()),
                }),
        }
    }
}

#[derive(Deserialize)]
struct CommitInput {
    content: String,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct SearchInput {
    query: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct DelegateInput {
    workspace_id: String,
    task: String,
}

#[derive(Deserialize)]
struct StatusInput {
    delegation_id: String,
}

#[derive(Deserialize)]
struct MessageInput {
    message: String,
}

fn parse<T: for<'de> Deserialize<'de>>(tool: &str, input: &str) -> Result<T, ToolError> {
    serde_json::from_str(input).map_err(|e| ToolError::InvalidInput(format!("{tool}: {e}")))
}

fn scope_arg(scope: Option<&str>) -> Result<Option<Scope>, ToolError> {
    scope
        .map(|s| {
            parse_scope(s).ok_or_else(|| {
                ToolError::InvalidInput(format!("scope `{s}`: use LOCAL, TEAM or GLOBAL"))
            })
        })
        .transpose()
}

/// The 0.3 spelling of a task state (`completed`, `input-required`, ...).
fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Submitted => "submitted",
        TaskState::Working => "working",
        TaskState::InputRequired => "input-required",
        TaskState::AuthRequired => "auth-required",
        TaskState::Completed => "completed",
        TaskState::Canceled => "canceled",
        TaskState::Failed => "failed",
        TaskState::Rejected => "rejected",
    }
}

fn host_error(e: HostError) -> ToolError {
    match e {
        HostError::Denied(m) => ToolError::Denied(m),
        HostError::InvalidInput(m) => ToolError::InvalidInput(m),
        HostError::Unavailable(m) | HostError::Failed(m) => ToolError::Failed(m),
        HostError::Cancelled => ToolError::Failed("the task was cancelled".into()),
    }
}

impl TaskTools {
    /// Reports an activity to the platform, when joined.
    fn report(&self, kind: ActivityType, summary: impl FnOnce() -> String) {
        if let Some(activity) = &self.builtins.activity {
            activity.report(kind, summary());
        }
    }

    fn memory(&self) -> Result<&Arc<dyn MemoryBackend>, ToolError> {
        self.builtins.memory.as_ref().ok_or_else(|| {
            ToolError::Failed("this workspace has no memory backend configured".into())
        })
    }

    async fn commit_memory(&self, input: &str) -> Result<String, ToolError> {
        let input: CommitInput = parse("commit_memory", input)?;
        let scope = scope_arg(input.scope.as_deref())?.unwrap_or(Scope::Local);
        let id = self
            .memory_budget
            .commit(
                self.memory()?.as_ref(),
                ADAPTER_MEMORY_OWNER,
                &input.content,
                scope,
            )
            .await
            .map_err(host_error)?;

        Ok(json!({"id": id, "scope": scope_name(scope)}).to_string())
    }

    async fn search_memory(&self, input: &str) -> Result<String, ToolError> {
        let input: SearchInput = parse("search_memory", input)?;
        let scope = scope_arg(input.scope.as_deref())?;
        let limit = input.limit.unwrap_or(5).clamp(1, 50);
        check_query(&input.query).map_err(host_error)?;
        let hits = self
            .memory()?
            .search(&input.query, scope, limit)
            .await
            .map_err(host_error)?;
        let hits: Vec<Value> = hits
            .into_iter()
            .map(|m| {
                json!({"id": m.id, "content": m.content, "scope": scope_name(m.scope),
                       "created_at": m.created_at, "score": m.score})
            })
            .collect();
        Ok(json!({"memories": hits}).to_string())
    }

    async fn delegation(&self, name: &str, input: &str) -> Result<String, ToolError> {
        let peers = self.builtins.peers.as_ref().ok_or_else(|| {
            ToolError::Failed(format!(
                "`{name}` needs the Molecule platform: this workspace runs standalone \
                 (set PLATFORM_URL to join one)"
            ))
        })?;
        match name {
            "delegate_task" => {
                let input: DelegateInput = parse(name, input)?;
                self.report(ActivityType::A2aSend, || {
                    format!("delegate_task to {}", input.workspace_id)
                });
                let answer = peers
                    .ask(&input.workspace_id, &input.task)
                    .await
                    .map_err(host_error)?;
                Ok(json!({"state": state_name(answer.state), "result": answer.text}).to_string())
            }
            "delegate_task_async" => {
                let input: DelegateInput = parse(name, input)?;
                let id = peers
                    .delegate(&input.workspace_id, &input.task)
                    .await
                    .map_err(host_error)?;
                Ok(json!({"delegation_id": id}).to_string())
            }
            _ => {
                let input: StatusInput = parse(name, input)?;
                let status = peers
                    .delegation_status(&input.delegation_id)
                    .await
                    .map_err(host_error)?;
                Ok(
                    json!({"delegation_id": status.id, "workspace_id": status.peer_id,
                          "state": state_name(status.state),
                          "result": status.result})
                    .to_string(),
                )
            }
        }
    }

    async fn send_message(&self, input: &str) -> Result<String, ToolError> {
        let input: MessageInput = parse("send_message_to_user", input)?;
        let message = Message {
            message_id: String::new(),
            role: Role::Agent,
            parts: vec![Part::Text(input.message)],
            context_id: None,
            task_id: None,
            metadata: None,
        };
        self.events.message(message).await.map_err(host_error)?;
        Ok(json!({"sent": true}).to_string())
    }
}
