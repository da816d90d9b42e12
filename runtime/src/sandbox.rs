//! Where a tool call is sandboxed: every call gets a fresh `Store` with the component's
//! limits (memory, tables, instances, wall-clock time via epochs, output size) and only the
//! capabilities its grants allow. A trap, a limit or a bad output ends that call alone with a
//! [`CallError`] that says what happened and what to change.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use crate::bindings::adapter::exports::molecule::runtime::agent::RequestContext;
use crate::bindings::adapter::{Adapter, AdapterPre};
use crate::bindings::skill::{Skill, SkillPre};
use crate::bindings::{ToolError, ToolSpec};
use crate::engine::WasmEngine;
use crate::grants::Grants;
use crate::limits::{format_bytes, LimitHit, LimitKeys};
use crate::loaded::{AdapterComponent, SkillComponent};
use crate::scheduler::admission::{self, Scope};
use crate::scheduler::start_here::{self, HostWork};
use crate::scheduler::{pool, Busy, Permit};
use crate::state::HostState;

/// Extra wall-clock time granted beyond the epoch deadline before the host abandons a call
/// that is stuck in a host import (epochs only interrupt running wasm).
const HOST_CALL_GRACE: Duration = Duration::from_millis(250);

/// A boxed future borrowing a store.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a call did not return a result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The tool itself reported an error.
    Tool(ToolError),
    /// A sandbox limit stopped the guest.
    Limit(LimitHit),
    /// The guest crashed (trap, panic, stack overflow).
    Trap {
        /// What wasmtime reported.
        reason: String,
        /// The last lines the guest wrote to stderr, e.g. a panic message.
        stderr: String,
    },
    /// The tool's output exceeded the output limit.
    OutputTooLarge {
        /// Output size in bytes.
        bytes: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The tool returned text that is not JSON.
    InvalidOutput(String),
    /// The input was not JSON; the call never reached the guest.
    InvalidInput(String),
    /// The sandbox could not start (for example every pool slot is in use).
    Unavailable(String),
}

impl CallError {
    /// This error's label in metrics (`molecule_tool_calls_total{outcome}`): `tool_error`,
    /// `limit`, `trap`, `output_too_large`, `invalid_output`, `invalid_input` or
    /// `unavailable` (a successful call is `ok`).
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::Tool(_) => "tool_error",
            CallError::Limit(_) => "limit",
            CallError::Trap { .. } => "trap",
            CallError::OutputTooLarge { .. } => "output_too_large",
            CallError::InvalidOutput(_) => "invalid_output",
            CallError::InvalidInput(_) => "invalid_input",
            CallError::Unavailable(_) => "unavailable",
        }
    }

    /// The metrics label of a call's result: `ok`, or [`CallError::outcome`].
    pub fn outcome_of(result: &Result<String, CallError>) -> &'static str {
        result.as_ref().map_or_else(CallError::outcome, |_| "ok")
    }

    /// The message, with limit hints naming where each limit is set according to `keys`
    /// ([`Display`](fmt::Display) uses [`LimitKeys::CONFIG`]).
    pub fn message(&self, keys: &LimitKeys) -> String {
        match self {
            CallError::Tool(e) => crate::call_text::with_keys(tool_error_text(e), keys.max_output),
            CallError::Limit(hit) => hit.message(keys),
            CallError::Trap { reason, stderr } if stderr.is_empty() => {
                format!("the component crashed: {reason}")
            }
            CallError::Trap { reason, stderr } => format!(
                "the component crashed: {reason}; it printed: {}",
                crate::redact::escape_keep_lines(stderr)
            ),
            CallError::OutputTooLarge { bytes, limit } => format!(
                "output too large: {} exceeds the {} limit (raise {})",
                format_bytes(*bytes),
                format_bytes(*limit),
                keys.max_output
            ),
            CallError::InvalidOutput(e) => format!("the tool returned invalid JSON: {e}"),
            CallError::InvalidInput(e) => format!("invalid input: {e}"),
            CallError::Unavailable(e) => format!("sandbox unavailable: {e}"),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(&LimitKeys::CONFIG))
    }
}

impl std::error::Error for CallError {}

/// Human text for a tool's own error.
pub fn tool_error_text(e: &ToolError) -> String {
    match e {
        ToolError::InvalidInput(m) => format!("invalid input: {m}"),
        ToolError::Failed(m) => format!("tool failed: {m}"),
        ToolError::Denied(m) => format!("denied: {m}"),
        ToolError::NotFound(m) => format!("no such tool: {m}"),
    }
}

/// One call's store and CPU meter; on drop (the call ended, or was dropped unfinished) its
/// receipt, read from the store, goes to the sandbox's sink through `open`.
struct Receipted {
    store: Store<HostState>,
    meter: crate::receipt::Meter,
    open: Option<crate::receipt::OpenCall>,
}

impl Drop for Receipted {
    fn drop(&mut self) {
        if let Some(open) = &mut self.open {
            open.receipt = self.store.data().receipt(&self.meter);
        }
    }
}

/// Runs calls into components, each in its own store.
#[derive(Clone)]
pub struct Sandbox {
    engine: Arc<WasmEngine>,
    /// Where each call's receipt goes (see [`Sandbox::with_receipts`]).
    receipts: Option<Arc<crate::receipt::Receipts>>,
}

impl Sandbox {
    /// A sandbox on `engine`.
    pub fn new(engine: Arc<WasmEngine>) -> Self {
        crate::call_text::set_wasm_stack(engine.options().max_wasm_stack);
        Sandbox {
            engine,
            receipts: None,
        }
    }

    /// This sandbox, adding the receipt of every call it runs to `receipts` (e.g. a task's,
    /// or one tool call's); calls made inside those calls add theirs as nested.
    pub fn with_receipts(&self, receipts: Arc<crate::receipt::Receipts>) -> Sandbox {
        Sandbox {
            receipts: Some(receipts),
            ..self.clone()
        }
    }

    /// A fresh store for one call under `grants`, with every limit set; its linear memory
    /// also counts against the workspace's guest-memory budget until it drops.
    pub fn store(&self, grants: &Arc<Grants>) -> Store<HostState> {
        let mut store = Store::new(self.engine.engine(), HostState::new(grants.clone()));
        let lease = self.engine.admission().memory().lease();
        store.data_mut().limiter.share_workspace_memory(lease);
        store.limiter(|state| &mut state.limiter);
        crate::state::count_host_calls(&mut store);
        // Check the wall clock on every epoch tick: yield to other tasks while time is left
        // (a spinning guest must not hold a worker thread), trap once it is spent. The guest
        // pool counts the yields to move CPU-bound calls to its batch lane.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            if Instant::now() >= ctx.data().deadline {
                let hit = ctx.data_mut().limiter.record_timeout();
                return Err(wasmtime::Error::new(hit));
            }
            pool::note_epoch_yield();
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// Waits (FIFO) for one of the workspace's call slots (`sandbox.admission.*`). A task
    /// takes one before it reports WORKING and runs its adapter call inside
    /// [`admission::in_slot`]; the tools that call makes take spare instances, no slot.
    pub async fn admit(&self) -> Result<Permit, Busy> {
        self.engine.admission().admit().await
    }

    /// Runs `f` on a fresh store for `grants` on the guest pool (never on the caller's
    /// threads, except the first poll of a call inside [`start_here::starting_here`]), bounded
    /// by the grants' time limit. A top-level call first waits for a slot
    /// ([`Self::admit`]); a nested one (made inside an admitted call) runs in its caller's,
    /// on one of the pool's spare instances.
    async fn run<R: Send + 'static>(
        &self,
        grants: &Arc<Grants>,
        f: impl for<'a> FnOnce(&'a mut Store<HostState>) -> BoxFuture<'a, wasmtime::Result<R>>
            + Send
            + 'static,
    ) -> Result<R, CallError> {
        let _slot = match admission::scope() {
            Scope::Slot => None,
            Scope::Nested => self.engine.admission().spare_instance().await,
            Scope::Outside => Some(
                self.admit()
                    .await
                    .map_err(|busy| CallError::Unavailable(busy.to_string()))?,
            ),
        };
        // Folders (granted, or uploads mounted): WASI file operations block the polling thread.
        let work = if grants.dirs.is_empty() {
            HostWork::NonBlocking
        } else {
            HostWork::MayBlock
        };
        let (sandbox, owned) = (self.clone(), grants.clone());
        let call = admission::nested(async move { sandbox.run_here(&owned, f).await });
        if pool::on_guest_thread() {
            // Already on the guest pool (a tool call made by an adapter): no second hop; the
            // call is part of its caller's future and moves lanes with it.
            return call.await;
        }
        let ran = if start_here::may_start_here() {
            // A single call its caller waits for (MCP): its first poll may run here.
            start_here::run_starting_here(call, grants.component(), work).await
        } else {
            pool::run(call).await
        };
        ran.unwrap_or_else(|| {
            Err(CallError::Unavailable(
                "the call was lost: it panicked in the host, or the guest pool is stopping".into(),
            ))
        })
    }

    /// [`Self::run`]'s body, on the thread that polls it: the store lives and dies here.
    async fn run_here<R>(
        &self,
        grants: &Arc<Grants>,
        f: impl for<'a> FnOnce(&'a mut Store<HostState>) -> BoxFuture<'a, wasmtime::Result<R>>,
    ) -> Result<R, CallError> {
        // Its receipt goes to the sink when `call` drops: at the end, or when this future is
        // dropped unfinished (a task paused for a human drops its adapter call).
        let mut call = Receipted {
            store: self.store(grants),
            meter: crate::receipt::Meter::default(),
            open: self.receipts.as_ref().map(|sink| sink.open()),
        };
        let timeout = grants.limits().timeout + HOST_CALL_GRACE;
        let sink = self.receipts.clone();
        let metered = crate::receipt::Metered::new(f(&mut call.store), &call.meter, sink);
        let result = match tokio::time::timeout(timeout, metered).await {
            Err(_) => Err(CallError::Limit(
                call.store.data_mut().limiter.record_timeout(),
            )),
            Ok(Err(err)) => match call.store.data().limiter.budget_hit() {
                // The workspace's guest memory is spent: not this guest's fault alone.
                Some(hit) => Err(CallError::Unavailable(hit.to_string())),
                None => Err(classify(err, &call.store)),
            },
            Ok(Ok(value)) => Ok(value),
        };
        if let Err(CallError::Limit(hit)) = &result {
            crate::metrics::global().limit_hit(hit);
        }
        result
    }

    /// The one path of every call: a fresh store for `grants` (see [`Self::run`]), a fresh
    /// instance from `pre`, then `f` on that instance.
    async fn on_instance<P: PreInstance, R: Send + 'static>(
        &self,
        grants: &Arc<Grants>,
        pre: &P,
        f: impl for<'a> FnOnce(
                P::Instance,
                &'a mut Store<HostState>,
            ) -> BoxFuture<'a, wasmtime::Result<R>>
            + Send
            + 'static,
    ) -> Result<R, CallError> {
        let pre = pre.clone();
        self.run(grants, move |store| {
            Box::pin(async move {
                let instance = pre.instantiate(&mut *store).await?;
                f(instance, store).await
            })
        })
        .await
    }

    /// Calls `describe` on a skill.
    pub async fn describe(&self, skill: &SkillComponent) -> Result<Vec<ToolSpec>, CallError> {
        self.on_instance(&skill.grants, &skill.pre, |skill, store| {
            Box::pin(async move { skill.molecule_runtime_tool().call_describe(store).await })
        })
        .await
    }

    /// Calls tool `tool` of `skill` with JSON `input` and returns its JSON output.
    pub async fn call_tool(
        &self,
        skill: &SkillComponent,
        tool: &str,
        input: &str,
    ) -> Result<String, CallError> {
        serde_json::from_str::<serde::de::IgnoredAny>(input)
            .map_err(|e| CallError::InvalidInput(format!("input is not JSON: {e}")))?;
        let limit = skill.grants.limits().max_output_bytes;
        let (tool, input) = (tool.to_owned(), input.to_owned());
        let output = self
            .on_instance(&skill.grants, &skill.pre, move |skill, store| {
                Box::pin(async move {
                    let tools = skill.molecule_runtime_tool();
                    tools.call_call(store, &tool, &input).await
                })
            })
            .await?
            .map_err(|err| CallError::Tool(crate::call_text::cap_tool_error(err, limit)))?;
        if output.len() > limit {
            return Err(CallError::OutputTooLarge {
                bytes: output.len(),
                limit,
            });
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&output)
            .map_err(|e| CallError::InvalidOutput(e.to_string()))?;
        Ok(output)
    }

    /// Asks an adapter for its runtime name.
    pub async fn adapter_name(&self, adapter: &AdapterComponent) -> Result<String, CallError> {
        self.on_instance(&adapter.grants, &adapter.pre, |adapter, store| {
            Box::pin(async move { adapter.molecule_runtime_agent().call_name(store).await })
        })
        .await
    }

    /// Runs `setup` only, as the boot sequence does to learn whether the workspace is
    /// configured. `Ok(Err(reason))` is the adapter's own refusal.
    pub async fn setup_adapter(
        &self,
        adapter: &AdapterComponent,
        grants: &Arc<Grants>,
        config: &str,
    ) -> Result<Result<(), String>, CallError> {
        let config = config.to_owned();
        self.on_instance(grants, &adapter.pre, move |adapter, store| {
            Box::pin(async move {
                let agent = adapter.molecule_runtime_agent();
                agent.call_setup(store, &config).await
            })
        })
        .await
    }

    /// Runs one task: a fresh instance, `setup(config)`, then `execute(context)` on it.
    /// `Ok(Err(reason))` is the adapter's own failure (setup or execute).
    pub async fn execute_task(
        &self,
        adapter: &AdapterComponent,
        grants: &Arc<Grants>,
        config: &str,
        context: RequestContext,
    ) -> Result<Result<(), String>, CallError> {
        let config = config.to_owned();
        self.on_instance(grants, &adapter.pre, move |adapter, store| {
            Box::pin(async move {
                let agent = adapter.molecule_runtime_agent();
                if let Err(reason) = agent.call_setup(&mut *store, &config).await? {
                    return Ok(Err(format!("adapter setup failed: {reason}")));
                }
                agent.call_execute(store, &context).await
            })
        })
        .await
    }

    /// Tells the adapter, on a fresh instance, that `task_id` was cancelled.
    pub async fn cancel_task(
        &self,
        adapter: &AdapterComponent,
        grants: &Arc<Grants>,
        task_id: &str,
    ) -> Result<(), CallError> {
        let task_id = task_id.to_owned();
        self.on_instance(grants, &adapter.pre, move |adapter, store| {
            Box::pin(async move {
                let agent = adapter.molecule_runtime_agent();
                agent.call_cancel(store, &task_id).await
            })
        })
        .await
    }
}

/// A pre-instantiated component of either world, instantiated once per call.
trait PreInstance: Clone + Send + Sync + 'static {
    /// The world's instance (its exports).
    type Instance: Send + 'static;
    /// A fresh instance in `store`.
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<HostState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self::Instance>>;
}

impl PreInstance for SkillPre<HostState> {
    type Instance = Skill;
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<HostState>,
    ) -> BoxFuture<'a, wasmtime::Result<Skill>> {
        Box::pin(self.instantiate_async(store))
    }
}

impl PreInstance for AdapterPre<HostState> {
    type Instance = Adapter;
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<HostState>,
    ) -> BoxFuture<'a, wasmtime::Result<Adapter>> {
        Box::pin(self.instantiate_async(store))
    }
}

/// Turns a wasmtime error into the [`CallError`] that names its cause.
pub fn classify(err: wasmtime::Error, store: &Store<HostState>) -> CallError {
    if let Some(hit) = err.downcast_ref::<LimitHit>() {
        return CallError::Limit(*hit);
    }
    if let Some(hit) = store.data().limiter.hit() {
        return CallError::Limit(hit);
    }
    let text = format!("{err:#}");
    if text.contains("concurrent") && text.contains("limit") {
        return CallError::Unavailable(format!(
            "every sandbox slot is in use ({text}); retry, or raise the pool size"
        ));
    }
    let reason = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => crate::call_text::trap_reason(trap, &err),
        None => text,
    };
    CallError::Trap {
        reason,
        stderr: store.data().stderr_tail.text(),
    }
}
