//! The executor bridge: each A2A task runs the adapter component's `execute` in its own
//! sandboxed instance. What the adapter emits through `events` becomes A2A status, artifact
//! and message updates in order; a trap or timeout fails that task alone with a readable
//! reason; a spent task budget fails it naming the budget's key; cancel reaches the adapter on
//! a fresh instance. Every task gets a receipt of what it cost (`molecule.receipt`), a task
//! that failed busy one of its wait. A tool call that needs a human (`workspace::approval`)
//! ends the adapter's call: the task rests INPUT_REQUIRED, holding no instance, and its
//! follow-up message is read as the answer before the adapter runs again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use molecule_a2a::store::ListQuery;
use molecule_a2a::types as a2a;
use molecule_a2a::{AgentExecutor, EventSink, IntakeError, RequestContext, TaskStore};
use molecule_platform::{Activity, ActivityReporter, ActivityType};
use tracing::Instrument;

use super::approval::{self, Pending, Resumed, Tell};
use super::cancel::{cancel_timeout, CancelCalls};
use super::continued::Continued;
use super::convert;
use super::final_status::HoldFinal;
use super::skills::SkillRegistry;
use super::task_events::{TaskEvents, Working};
use super::task_receipt::TaskReceipt;
use super::task_tools::{Builtins, TaskTools, ToolCallLog, TOOL_CALLS_METADATA_KEY};
use crate::bindings::adapter::exports::molecule::runtime::agent;
use crate::bindings::imports::molecule::runtime::types as wit;
use crate::budgets::BudgetHit;
use crate::capabilities::llm::model_access;
use crate::component::AdapterComponent;
use crate::receipt::{Receipt, Receipts};
use crate::sandbox::Sandbox;
use crate::scheduler::admission::{count_running, in_slot, nested};
use crate::uploads::Uploads;

/// Most earlier tasks of a context whose messages are passed as history.
const HISTORY_TASKS: usize = 50;

/// Most time a task paused for a human waits for its dropped adapter call's receipt (the
/// guest pool drops the call at its next poll; this bounds a pool that is stopping).
const RECEIPT_SETTLE: Duration = Duration::from_secs(2);

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
    /// One adapter `cancel` call per task at a time, each with its own deadline.
    cancels: Arc<CancelCalls>,
    /// Where the file parts clients send are stored (none: kept only in the task store).
    uploads: Option<Uploads>,
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
            cancels: Arc::default(),
            uploads: None,
        }
    }

    /// This executor storing the file parts of incoming messages in `uploads` (before their
    /// task is stored) and offering each task's context uploads to skills granted `uploads`.
    pub fn with_uploads(mut self, uploads: Uploads) -> Self {
        self.uploads = Some(uploads);
        self
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
        // A client's imitation of the host's decision never reaches the adapter.
        let withheld: usize = out.iter_mut().map(approval::neutralise).sum();
        if withheld > 0 {
            tracing::warn!(
                withheld,
                "withheld approval-shaped client data in the history"
            );
        }
        out
    }
    /// Where the platform is told of a question for a human.
    fn tell(&self) -> Tell {
        Tell {
            activity: self.builtins.activity.clone(),
            platform: self.builtins.peers.as_ref().map(|p| p.client().clone()),
        }
    }

    /// Runs the admitted task: the answer to a pending approval first, then the adapter's
    /// call with the task's events, tools and model, then its receipt, then its final status
    /// (held until then; a spent task budget fails the task instead). `Ok(Some)`: the task
    /// rests INPUT_REQUIRED for a human.
    async fn run(
        &self,
        ctx: &RequestContext,
        events: &EventSink,
        waited: Duration,
    ) -> Result<Option<Pending>, String> {
        let adapter = self.adapter.load_full();
        let config = self.config.load_full();
        let budgets = &adapter.grants().limits().budgets;
        let max_output = adapter.grants().limits().max_output_bytes;
        // The adapter's final status waits until its call ended and the receipt is in.
        let working = Working::new(events.clone());
        let task_events = HoldFinal::new(TaskEvents::budgeted_lazy(
            working.clone(),
            budgets,
            Continued::of(&ctx.task),
        ));
        let tools = Arc::new(
            TaskTools::new(
                self.skills.clone(),
                self.builtins.clone(),
                Arc::new(task_events.clone()),
            )
            .with_memory_budgets(budgets)
            .with_uploads(
                self.uploads
                    .as_ref()
                    .and_then(|u| u.existing_files_dir(&ctx.context_id)),
            )
            .with_call_log(ToolCallLog::for_run(
                ctx.task
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get(TOOL_CALLS_METADATA_KEY)),
                &ctx.message.message_id,
            )),
        );
        let receipts = Receipts::new();
        let (held, sink) = (tools.clone(), receipts.clone());
        // An approved held call counts in the task's receipt as a nested tool call.
        let run_held = |tool: String, input: String| async move {
            let meter = crate::receipt::Meter::default();
            let call = Box::pin(held.call_unguarded(&tool, &input));
            crate::receipt::Metered::new(call, &meter, Some(sink)).await
        };
        let decision = match approval::resume(ctx, events, run_held).await {
            Resumed::Run(decision) => decision,
            Resumed::AskAgain(pending, lead) => {
                approval::suspend_task(events, &pending, Some(&lead), &self.tell());
                return Ok(Some(pending));
            }
            Resumed::Failed(reason) => return Err(reason),
        };
        let suspension = tools.suspension();
        let calls = tools.call_log();
        let llm = Some(model_access(&self.gateway, ctx.task_id.clone()));
        let grants = adapter
            .grants()
            .for_task(Arc::new(task_events.clone()), tools, llm);
        let (message, metadata) = approval::adapter_view(ctx, decision.as_ref());
        let context = agent::RequestContext {
            task_id: ctx.task_id.clone(),
            context_id: ctx.context_id.clone(),
            message,
            history: self.history(ctx).await,
            metadata: metadata_json(&metadata),
        };
        let span =
            crate::receipt::task_span(&ctx.task_id, &super::adapter::shown_name(&adapter.name));
        let mut receipt = TaskReceipt::new(ctx, events, receipts.clone(), span, waited);
        // Dropped unfinished when a cancel aborts this future: counted as canceled.
        let metrics = crate::metrics::global().task_started();
        let sandbox = self.sandbox.with_receipts(receipts.clone());
        let run = in_slot(sandbox.execute_task(&adapter, &grants, &config, context))
            .instrument(receipt.span().clone());
        let mut run = Box::pin(run);
        let asked = suspension.wait();
        tokio::pin!(asked);
        let grace = tokio::time::sleep(WORKING_GRACE);
        tokio::pin!(grace);
        let mut graced = false;
        // WORKING is reported lazily: by the first status, artifact or message, or after
        // the grace, so a quick bare-Message reply is the whole answer (A2A 1.0 §3.1.1).
        // A tool call asking for a human ends the call: its instance is dropped here.
        let ended = loop {
            tokio::select! {
                done = &mut run => break done,
                pending = &mut asked => {
                    drop(run);
                    // The dropped call adds its receipt as the guest pool drops it.
                    let _ = tokio::time::timeout(RECEIPT_SETTLE, receipts.settled()).await;
                    // The calls made before the pause stay in the transcript.
                    if let Some(calls) = calls.to_json() {
                        let _ = events.metadata(TOOL_CALLS_METADATA_KEY, calls);
                    }
                    return Ok(Some(self.rest(events, &task_events, metrics, receipt, pending)));
                }
                _ = &mut grace, if !graced => {
                    graced = true;
                    working.ensure();
                }
            }
        };
        let result = match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(crate::call_text::cap_error_text(reason, max_output)),
            Err(err) => Err(format!("{}: {err}", adapter.label)),
        };
        let spent = task_events.inner().spent();
        if spent.is_some() {
            task_events.discard();
        }
        let result = outcome(spent, result);
        metrics.finish(if result.is_ok() { "ok" } else { "failed" });
        if let Some(calls) = calls.to_json() {
            let _ = events.metadata(TOOL_CALLS_METADATA_KEY, calls);
        }
        receipt.report(&receipts.total());
        task_events.release().await;
        result.map(|()| None)
    }

    /// Puts a task whose adapter asked for a human to rest: its call already dropped, the
    /// receipt reported, then INPUT_REQUIRED with the question.
    fn rest<B: crate::capabilities::events::EventsBackend>(
        &self,
        events: &EventSink,
        task_events: &HoldFinal<B>,
        metrics: crate::metrics::TaskGuard,
        receipt: TaskReceipt,
        pending: Pending,
    ) -> Pending {
        task_events.discard();
        metrics.finish("input_required");
        // Reported as for a stopped call: what was spent, and the wall time until now.
        drop(receipt);
        approval::suspend_task(events, &pending, None, &self.tell());
        pending
    }
}

/// Reports the task's end to the platform's activity feed.
fn report_activity(
    activity: &ActivityReporter,
    task_id: &str,
    result: &Result<(), String>,
    took: Duration,
) {
    let status = if result.is_ok() {
        "completed"
    } else {
        "failed"
    };
    let mut report = Activity::new(ActivityType::TaskUpdate, format!("task {status}"))
        .status(status)
        .duration(took);
    if let Err(reason) = result {
        let reason = crate::redact::redact(reason);
        report = report.error(reason.clone());
        activity.submit(
            Activity::new(ActivityType::Error, format!("task {task_id} failed")).error(reason),
        );
    }
    activity.submit(report);
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

/// A task that got no admission slot: counted (`busy`) and given a receipt of its wait alone,
/// then failed with the busy error's text.
fn fail_busy(events: &EventSink, waited: Duration, busy: impl std::fmt::Display) -> String {
    crate::metrics::global().task_busy();
    let receipt = Receipt::default().to_task_json(waited);
    let _ = events.metadata(crate::receipt::METADATA_KEY, receipt);
    busy.to_string()
}

/// The task's outcome once its adapter call ended: a spent task budget fails it (events past
/// the budget were refused, so its answer is incomplete) whatever the adapter reported;
/// otherwise the adapter's result.
fn outcome(spent: Option<BudgetHit>, result: Result<(), String>) -> Result<(), String> {
    let Some(hit) = spent else {
        return result;
    };
    let mut reason = format!("{hit}; the task's output past it was refused, so it is incomplete");
    if let Err(adapter) = result.as_ref().map_err(|e| e.as_str()) {
        if !adapter.contains("budget spent") {
            reason.push_str(&format!(" (the adapter also failed: {adapter})"));
        }
    }
    Err(reason)
}

fn metadata_json(metadata: &HashMap<String, serde_json::Value>) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into())
}

/// Forgets a task's token usage in the model gateway when dropped.
struct ForgetUsage {
    gateway: Option<Arc<molecule_llm::Gateway>>,
    task_id: String,
}

impl Drop for ForgetUsage {
    fn drop(&mut self) {
        if let Some(gateway) = &self.gateway {
            gateway.take_usage(&self.task_id);
        }
    }
}

#[async_trait]
impl AgentExecutor for AdapterExecutor {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        // A sandbox slot first: while it waits the task stays SUBMITTED and holds no instance;
        // its adapter call and the tool calls made in it then share this one slot.
        let queued = Instant::now();
        let admitted = self.sandbox.admit().await;
        let waited = queued.elapsed();
        let _slot = admitted.map_err(|busy| fail_busy(&events, waited, busy))?;
        let started = Instant::now();
        // The gateway keeps the task's token usage under its id: forget it when the task
        // ends, even when a cancel aborts this future (else it grows by one entry per task).
        let _usage = ForgetUsage {
            gateway: self.gateway.as_ref().ok().cloned(),
            task_id: ctx.task_id.clone(),
        };
        if let Some(activity) = &self.builtins.activity {
            let head: String = ctx.user_text().chars().take(80).collect();
            activity.submit(Activity::new(ActivityType::A2aReceive, head).method("message/send"));
        }
        if let Some(poker) = self.builtins.heartbeat.get() {
            poker.poke();
        }
        let result = self.run(&ctx, &events, waited).await;
        if let Some(poker) = self.builtins.heartbeat.get() {
            poker.poke();
        }
        match (&self.builtins.activity, result) {
            // Waiting for a human: the approval request was the activity.
            (_, Ok(Some(_))) => Ok(()),
            (Some(activity), result) => {
                let result = result.map(|_| ());
                report_activity(activity, &ctx.task_id, &result, started.elapsed());
                result
            }
            (None, result) => result.map(|_| ()),
        }
    }

    async fn intake(&self, message: &mut a2a::Message) -> Result<(), IntakeError> {
        // Only the host marks its approval messages; a client's mark is removed before storing.
        approval::strip_client_marks(message);
        match &self.uploads {
            Some(uploads) => uploads.take_in(message).await,
            None => Ok(()),
        }
    }

    async fn cancel(&self, task_id: &str) -> Result<(), String> {
        let adapter = self.adapter.load_full();
        // Must not queue behind the tasks it may be meant to stop: no slot, but one call per
        // task at a time, cut (spare-instance wait included) at its own deadline.
        let timeout = cancel_timeout(adapter.grants().limits().timeout);
        let (sandbox, id) = (self.sandbox.clone(), task_id.to_owned());
        let call = nested(async move {
            // In the running gauge while it waits for a spare instance and runs.
            let _running = count_running();
            sandbox
                .cancel_task(&adapter, adapter.grants(), &id)
                .await
                .map_err(|e| e.to_string())
        });
        self.cancels.cancel(task_id, timeout, call).await
    }
}
