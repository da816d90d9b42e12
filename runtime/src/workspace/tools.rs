//! The `tools` an adapter sees during one task: every skill tool (each call sandboxed with the
//! owning skill's grants) plus the built-ins — `commit_memory`, `search_memory` (alias
//! `recall_memory`), `send_message_to_user`, and the delegation tools, which need a platform.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use molecule_platform::{ActivityReporter, ActivityType, HeartbeatPoker};

use super::peers::PlatformPeers;
use super::skills::SkillRegistry;
use crate::bindings::imports::molecule::runtime::memory::Scope;
use crate::bindings::imports::molecule::runtime::types::{Message, Part, Role, TaskState};
use crate::bindings::{HostError, ToolError, ToolSpec};
use crate::capabilities::a2a::A2aBackend;
use crate::capabilities::events::EventsBackend;
use crate::capabilities::memory::{parse_scope, scope_name, MemoryBackend};
use crate::capabilities::tools::ToolsBackend;
use crate::sandbox::CallError;

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
}

/// The tools of one task.
pub struct TaskTools {
    skills: Arc<SkillRegistry>,
    builtins: Builtins,
    events: Arc<dyn EventsBackend>,
}

impl TaskTools {
    /// Tools for a task whose events go to `events`.
    pub fn new(
        skills: Arc<SkillRegistry>,
        builtins: Builtins,
        events: Arc<dyn EventsBackend>,
    ) -> Self {
        TaskTools {
            skills,
            builtins,
            events,
        }
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

#[async_trait]
impl ToolsBackend for TaskTools {
    async fn list(&self) -> Vec<ToolSpec> {
        let mut specs = builtin_specs();
        if !self.builtins.coordinator.load(Ordering::Relaxed) {
            specs.extend(self.skills.snapshot().tool_specs());
        }
        specs
    }

    async fn call(&self, name: &str, input: &str) -> Result<String, ToolError> {
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
                 calling `{name}` itself; use delegate_task with one of its children"
                )))
            }
            _ => self.skills.call(name, input).await.map_err(|e| match e {
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
        let content = crate::redact::redact(&input.content);
        let id = self
            .memory()?
            .commit(&content, scope)
            .await
            .map_err(host_error)?;

        Ok(json!({"id": id, "scope": scope_name(scope)}).to_string())
    }

    async fn search_memory(&self, input: &str) -> Result<String, ToolError> {
        let input: SearchInput = parse("search_memory", input)?;
        let scope = scope_arg(input.scope.as_deref())?;
        let limit = input.limit.unwrap_or(5).clamp(1, 50);
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
