//! The executor bridge: each A2A task runs the adapter component's `execute` in its own
//! sandboxed instance. What the adapter emits through `events` becomes A2A status, artifact
//! and message updates in order; a trap or timeout fails that task alone with a readable
//! reason; cancel reaches the adapter on a fresh instance.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use molecule_a2a::store::ListQuery;
use molecule_a2a::types as a2a;
use molecule_a2a::{AgentExecutor, EventSink, RequestContext, TaskStore};
use molecule_platform::{Activity, ActivityType};
use tracing::Instrument;

use super::convert;
use super::final_status::HoldFinal;
use super::skills::SkillRegistry;
use super::task_events::{TaskEvents, Working};
use super::task_tools::{Builtins, TaskTools};
use crate::bindings::adapter::exports::molecule::runtime::agent;
use crate::bindings::imports::molecule::runtime::types as wit;
use crate::capabilities::llm::model_access;
use crate::component::AdapterComponent;
use crate::sandbox::Sandbox;
use crate::scheduler::admission::{in_slot, nested};

/// Most earlier tasks of a context whose messages are passed as history.
const HISTORY_TASKS: usize = 50;

/// How long an adapter may run without reporting anything before the host reports WORKING
/// for it. Until then the task stays SUBMITTED and `events.reply` is the whole answer (a
/// Message, no task); the first artifact or message reports WORKING at once.
pub const WORKING_GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Runs tasks on the current adapter version.
pub struct AdapterExecutor {
    sandbox: Sandbox,
    adapter: Arc<ArcSwap<AdapterComponent>>,
    config: Arc<ArcSwap<String>>,
    skills: Arc<SkillRegistry>,
    builtins: Builtins,
    store: TaskStore,
    gateway: Result<Arc<molecule_llm::Gateway>, String>,
}

impl AdapterExecutor {
    /// An executor for `adapter` (swappable) with the adapter config JSON `config`
    /// (swappable: the system prompt changes when skills change).
    pub fn new(
        sandbox: Sandbox,
        adapter: Arc<ArcSwap<AdapterComponent>>,
        config: Arc<ArcSwap<String>>,
        skills: Arc<SkillRegistry>,
        builtins: Builtins,
        store: TaskStore,
        gateway: Result<Arc<molecule_llm::Gateway>, String>,
    ) -> Self {
        AdapterExecutor {
            sandbox,
            adapter,
            config,
            skills,
            builtins,
            store,
            gateway,
        }
    }

    /// Messages of earlier tasks in the same context, oldest first, then this task's own
    /// history before the new message. A finished task contributes its artifacts' text as an
    /// agent message when its history has no agent reply.
    async fn history(&self, ctx: &RequestContext) -> Vec<wit::Message> {
        let mut out = Vec::new();
        if ctx.new_context {
            // The server made the context up for this task: nothing earlier to find.
            return out;
        }
        let query = ListQuery {
            context_id: Some(ctx.context_id.clone()),
            page_size: HISTORY_TASKS,
            ..ListQuery::default()
        };
        if let Ok(page) = self.store.list(query).await {
            for task in page.tasks.iter().rev().filter(|t| t.id != ctx.task_id) {
                out.extend(task_messages(task));
            }
        }
        if let Some(history) = &ctx.task.history {
            out.extend(
                history
                    .iter()
                    .filter(|m| m.message_id != ctx.message.message_id)
                    .map(convert::message_to_wit),
            );
        }
        out
    }
}

fn task_messages(task: &a2a::Task) -> Vec<wit::Message> {
    let mut out: Vec<wit::Message> = task
        .history
        .iter()
        .flatten()
        .map(convert::message_to_wit)
        .collect();
    let replied = out.iter().any(|m| m.role == wit::Role::Agent);
    let text: String = task
        .artifacts
        .iter()
        .flatten()
        .map(convert::artifact_text)
        .collect::<Vec<_>>()
        .join("\n");
    if !replied && !text.is_empty() {
        out.push(wit::Message {
            message_id: format!("{}-result", task.id),
            role: wit::Role::Agent,
            parts: vec![wit::Part::Text(text)],
            context_id: Some(task.context_id.clone()),
            task_id: Some(task.id.clone()),
            metadata: None,
        });
    }
    out
}

/// Reports what the task cost: in its span, in `/metrics` and in the task's A2A metadata
/// (`molecule.receipt`; a task the adapter already closed gets it in the stored task).
fn report_receipt(receipt: &crate::receipt::Receipt, span: &tracing::Span, events: &EventSink) {
    receipt.record(span);
    crate::metrics_receipts::observe(crate::metrics_receipts::Kind::Task, receipt);
    let _ = events.metadata(crate::receipt::METADATA_KEY, receipt.to_json());
}

fn metadata_json(metadata: &HashMap<String, serde_json::Value>) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into())
}

#[async_trait]
impl AgentExecutor for AdapterExecutor {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        // A sandbox slot first: while it waits the task stays SUBMITTED and holds no instance;
        // its adapter call and the tool calls made in it then share this one slot.
        let _slot = self
            .sandbox
            .admit()
            .await
            .map_err(|busy| busy.to_string())?;
        let adapter = self.adapter.load_full();
        let config = self.config.load_full();
        let budgets = &adapter.grants().limits().budgets;
        // The adapter's final status waits until its call ended and the receipt is in.
        let working = Working::new(events.clone());
        let task_events = HoldFinal::new(TaskEvents::budgeted_lazy(working.clone(), budgets));
        let tools = Arc::new(TaskTools::new(
            self.skills.clone(),
            self.builtins.clone(),
            Arc::new(task_events.clone()),
        ));
        let llm = Some(model_access(&self.gateway, ctx.task_id.clone()));
        let grants = adapter
            .grants()
            .for_task(Arc::new(task_events.clone()), tools, llm);
        let context = agent::RequestContext {
            task_id: ctx.task_id.clone(),
            context_id: ctx.context_id.clone(),
            message: convert::message_to_wit(&ctx.message),
            history: self.history(&ctx).await,
            metadata: metadata_json(&ctx.metadata),
        };
        if let Some(activity) = &self.builtins.activity {
            let head: String = ctx.user_text().chars().take(80).collect();
            activity.submit(Activity::new(ActivityType::A2aReceive, head).method("message/send"));
        }
        let started = std::time::Instant::now();
        if let Some(poker) = self.builtins.heartbeat.get() {
            poker.poke();
        }
        let span = crate::receipt::task_span(&ctx.task_id, &adapter.name);
        let receipts = crate::receipt::Receipts::new();
        // Dropped unfinished when a cancel aborts this future: counted as canceled.
        let metrics = crate::metrics::global().task_started();
        let sandbox = self.sandbox.with_receipts(receipts.clone());
        let run = in_slot(sandbox.execute_task(&adapter, &grants, &config, context))
            .instrument(span.clone());
        tokio::pin!(run);
        // WORKING is reported lazily: by the first artifact or message, or after the grace.
        let outcome = tokio::select! {
            done = &mut run => done,
            _ = tokio::time::sleep(WORKING_GRACE) => {
                working.ensure();
                run.await
            }
        };
        let result = match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(reason),
            Err(err) => Err(format!("{}: {err}", adapter.label)),
        };
        metrics.finish(if result.is_ok() { "ok" } else { "failed" });
        report_receipt(&receipts.total(), &span, &events);
        task_events.release().await;
        if let Some(poker) = self.builtins.heartbeat.get() {
            poker.poke();
        }
        if let Some(activity) = &self.builtins.activity {
            let status = if result.is_ok() {
                "completed"
            } else {
                "failed"
            };
            let mut report = Activity::new(ActivityType::TaskUpdate, format!("task {status}"))
                .status(status)
                .duration(started.elapsed());
            if let Err(reason) = &result {
                let reason = crate::redact::redact(reason);
                report = report.error(reason.clone());
                activity.submit(
                    Activity::new(ActivityType::Error, format!("task {} failed", ctx.task_id))
                        .error(reason),
                );
            }
            activity.submit(report);
        }
        result
    }

    async fn cancel(&self, task_id: &str) -> Result<(), String> {
        let adapter = self.adapter.load_full();
        // Short, and must not queue behind the tasks it may be meant to stop: no slot.
        nested(
            self.sandbox
                .cancel_task(&adapter, adapter.grants(), task_id),
        )
        .await
        .map_err(|e| e.to_string())
    }
}
