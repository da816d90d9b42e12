//! The stub `execute` of smoke mode: `setup` + `execute` once on the stub request under the
//! smoke time limit, with the workspace's built-in tools and config.yaml's approval gate, and
//! the mapping of how it ended to an [`Outcome`]. A call that asks for a human
//! (`request_approval`, or a tool listed in `approval.tools`) ends the run at once as a pass,
//! "reached an approval request": there is no human to wait for in a smoke run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{Outcome, SMOKE_TEXT};
use crate::bindings::adapter::exports::molecule::runtime::agent;
use crate::bindings::imports::molecule::runtime::types::{
    Artifact, Message, Part, Role, TaskState,
};
use crate::bindings::HostError;
use crate::capabilities::events::EventsBackend;
use crate::capabilities::heartbeat::HeartbeatBackend;
use crate::capabilities::llm::model_access;
use crate::capabilities::memory::MemoryBackend;
use crate::component::AdapterComponent;
use crate::limits::{LimitHit, LimitKeys};
use crate::sandbox::{CallError, Sandbox};
use crate::workspace::approval::{Gate, Pending};
use crate::workspace::deps::BootDeps;
use crate::workspace::skills::SkillRegistry;
use crate::workspace::task_tools::{Builtins, TaskTools};

/// What the stub execute is run with.
pub(super) struct StubRun<'a> {
    /// The host, builder and model gateway.
    pub deps: &'a BootDeps,
    /// The loaded adapter.
    pub adapter: &'a AdapterComponent,
    /// The loaded skills.
    pub skills: Arc<SkillRegistry>,
    /// The in-memory memory store.
    pub memory: Arc<dyn MemoryBackend>,
    /// The adapter's setup config (JSON text).
    pub config: &'a str,
    /// The smoke time limit.
    pub timeout: Duration,
    /// Where a component's `report-wedged` is kept.
    pub watch: Arc<WedgeWatch>,
    /// config.yaml's `approval.tools`.
    pub gate: Gate,
}

/// How the stub execute ended.
pub(super) enum Ended {
    /// The call returned (or the sandbox ended it).
    Call(Result<Result<(), String>, CallError>),
    /// A tool call asked for a human: the call was dropped at once.
    Approval(Pending),
}

impl StubRun<'_> {
    /// Runs `setup` + `execute` once on the stub request; a tool call that asks for a human
    /// ends it at once ([`Ended::Approval`]), its instance dropped.
    pub(super) async fn run(self) -> Ended {
        let events: Arc<dyn EventsBackend> = Arc::new(DropEvents);
        let builtins = Builtins {
            memory: Some(self.memory),
            approval: self.gate,
            ..Builtins::default()
        };
        let tools = Arc::new(TaskTools::new(self.skills, builtins, events.clone()));
        let suspension = tools.suspension();
        let llm = Some(model_access(&self.deps.gateway, "smoke"));
        let mut grants = (*self.adapter.grants().for_task(events, tools, llm)).clone();
        grants.limits.timeout = self.timeout;
        grants.heartbeat = Some(self.watch.clone());
        let sandbox = Sandbox::new(self.deps.host.engine().clone());
        let grants = Arc::new(grants);
        let call = sandbox.execute_task(self.adapter, &grants, self.config, stub());
        tokio::select! {
            ended = call => Ended::Call(ended),
            pending = suspension.wait() => Ended::Approval(pending),
        }
    }
}

/// The stub request.
fn stub() -> agent::RequestContext {
    agent::RequestContext {
        task_id: "fake-smoke-task".into(),
        context_id: "fake-smoke-context".into(),
        message: Message {
            message_id: "fake-smoke-message".into(),
            role: Role::User,
            parts: vec![Part::Text(SMOKE_TEXT.into())],
            context_id: Some("fake-smoke-context".into()),
            task_id: Some("fake-smoke-task".into()),
            metadata: None,
        },
        history: Vec::new(),
        metadata: "{}".into(),
    }
}

/// Maps how the execute ended to an outcome: reaching an approval request or the time limit
/// is a PASS, a trap or another limit is a crash of the component.
pub(super) fn classify(ended: Ended) -> (Outcome, Option<String>) {
    let result = match ended {
        Ended::Approval(pending) => {
            let asked = pending.question();
            let first = asked.lines().next().unwrap_or_default();
            return (
                Outcome::Approval,
                Some(format!("reached an approval request ({first})")),
            );
        }
        Ended::Call(result) => result,
    };
    match result {
        Ok(Ok(())) => (Outcome::Clean, None),
        Ok(Err(reason)) => (Outcome::Error, Some(reason)),
        Err(CallError::Limit(hit @ LimitHit::Time { .. })) => {
            let keys = LimitKeys {
                timeout: "MOLECULE_SMOKE_TIMEOUT_SECS",
                ..LimitKeys::CONFIG
            };
            (Outcome::Timeout, Some(hit.message(&keys)))
        }
        Err(err @ (CallError::Limit(_) | CallError::Trap { .. })) => {
            (Outcome::Crash, Some(err.to_string()))
        }
        Err(err @ (CallError::Unavailable(_) | CallError::InvalidInput(_))) => {
            (Outcome::Broken, Some(err.to_string()))
        }
        Err(err) => (Outcome::Error, Some(err.to_string())),
    }
}

/// Remembers whether a component reported itself wedged.
#[derive(Default)]
pub(super) struct WedgeWatch(Mutex<Option<String>>);

impl WedgeWatch {
    pub(super) fn reason(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl HeartbeatBackend for WedgeWatch {
    fn set_current_task(&self, _component: &str, _summary: &str) {}

    fn report_wedged(&self, component: &str, reason: &str) {
        tracing::error!(component, reason, "smoke: component reports itself wedged");
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{component}: {reason}"));
    }
}

/// The stub event queue: accepts everything, and nobody drains it.
struct DropEvents;

#[async_trait]
impl EventsBackend for DropEvents {
    async fn status(&self, _state: TaskState, _message: Option<Message>) -> Result<(), HostError> {
        Ok(())
    }

    async fn artifact(&self, _artifact: Artifact) -> Result<(), HostError> {
        Ok(())
    }

    async fn message(&self, _message: Message) -> Result<(), HostError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::approval::Asked;

    #[test]
    fn time_limit_passes_and_trap_fails() {
        let time = Err(CallError::Limit(LimitHit::Time {
            limit: Duration::from_secs(5),
        }));
        let (outcome, detail) = classify(Ended::Call(time));
        assert_eq!(outcome, Outcome::Timeout);
        let detail = detail.unwrap_or_default();
        assert!(
            detail.ends_with("(raise MOLECULE_SMOKE_TIMEOUT_SECS)"),
            "{detail}"
        );
        let trap = Err(CallError::Trap {
            reason: "unreachable".into(),
            stderr: String::new(),
        });
        assert_eq!(classify(Ended::Call(trap)).0, Outcome::Crash);
        assert_eq!(
            classify(Ended::Call(Ok(Err("no model".into())))).0,
            Outcome::Error
        );
        assert_eq!(classify(Ended::Call(Ok(Ok(())))).0, Outcome::Clean);
    }

    #[test]
    fn an_approval_request_passes() {
        let pending = Pending::new(Asked::Request {
            action: "deploy".into(),
            reason: String::new(),
        });
        let (outcome, detail) = classify(Ended::Approval(pending));
        assert_eq!(outcome, Outcome::Approval);
        assert!(!outcome.fails());
        let detail = detail.unwrap_or_default();
        assert!(
            detail.starts_with("reached an approval request"),
            "{detail}"
        );
    }
}
