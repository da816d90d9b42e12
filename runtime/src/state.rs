//! The host state of one store: one per call, never shared, dropped with the store.

use std::sync::Arc;
use std::time::Instant;

use molecule_egress::EgressState;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use crate::capabilities::config::ConfigCtx;
use crate::capabilities::heartbeat::HeartbeatCtx;
use crate::capabilities::llm::LlmCtx;
use crate::capabilities::log::{LogBudget, LogCtx};
use crate::capabilities::memory::MemoryCtx;
use crate::capabilities::{Capabilities, CapabilitiesView, Granted};
use crate::grants::Grants;
use crate::limits::StoreLimiter;
use crate::receipt::{Meter, Receipt};
use crate::wasi::{self, StderrTail};

/// Most resources (streams, pollables, chat streams) a guest may hold at once.
const MAX_RESOURCES: usize = 10_000;

/// Everything a store's host functions can reach: the context of each capability, built by
/// [`HostState::new`] from the component's [`Grants`] (the molecule interfaces in
/// [`Capabilities`], WASI, `wasi:http` through the egress state, and the resource table they
/// share), plus the sandbox's own bookkeeping (limiter, deadline, stderr tail), which no
/// capability's host code can reach: each sees only its own context.
pub struct HostState {
    pub(crate) limiter: StoreLimiter,
    pub(crate) deadline: Instant,
    pub(crate) stderr_tail: StderrTail,
    /// What this call has cost so far, beyond what the limiter and budgets count.
    pub(crate) receipt: Bookkeeping,
    capabilities: Capabilities,
    wasi: WasiCtx,
    table: ResourceTable,
    egress: Option<EgressState>,
}

impl HostState {
    /// Fresh state for one call of the component described by `grants`.
    pub fn new(grants: Arc<Grants>) -> Self {
        let limits = *grants.limits();
        let log_budget = LogBudget::new(limits.max_log_bytes, limits.budgets.log_records);
        let stderr_tail = StderrTail::default();
        let wasi = wasi::deny_by_default(&grants, &log_budget, &stderr_tail);
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let started = Instant::now();
        let receipt = Bookkeeping {
            started,
            host_calls: 0,
            log: log_budget.clone(),
        };
        HostState {
            egress: grants
                .egress
                .clone()
                .map(|hooks| EgressState::with_budget(hooks, wasi::http_budget(&limits.budgets))),
            limiter: StoreLimiter::new(limits),
            deadline: started + limits.timeout,
            receipt,
            capabilities: capabilities(&grants, log_budget),
            stderr_tail,
            wasi,
            table,
        }
    }

    /// The resource table of this store.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// What this call cost until now, with the CPU time `meter` measured.
    pub fn receipt(&self, meter: &Meter) -> Receipt {
        let (http_requests, http_bytes) = self
            .egress
            .as_ref()
            .and_then(|egress| egress.hooks().budget())
            .map_or((0, 0), |budget| budget.used());
        Receipt {
            wall: self.receipt.started.elapsed(),
            cpu: meter.cpu(),
            peak_memory_bytes: self.limiter.peak_memory() as u64,
            host_calls: self.receipt.host_calls,
            http_requests,
            http_bytes,
            log_bytes: self.receipt.log.used().0,
            tool_calls: 0,
        }
    }
}

/// The part of a call's receipt the store keeps itself (see [`HostState::receipt`]).
pub(crate) struct Bookkeeping {
    started: Instant,
    host_calls: u64,
    log: LogBudget,
}

/// Counts every call from the guest into the host (imports and runtime builtins) in the
/// store's receipt, through wasmtime's call hook.
pub fn count_host_calls(store: &mut wasmtime::Store<HostState>) {
    if !crate::receipt::COLLECT {
        return;
    }
    store.call_hook(|mut ctx, kind| {
        if matches!(kind, wasmtime::CallHook::CallingHost) {
            ctx.data_mut().receipt.host_calls += 1;
        }
        Ok(())
    });
}

/// Each capability's context, from what `grants` grants.
fn capabilities(grants: &Grants, log_budget: LogBudget) -> Capabilities {
    let denial = grants.denial();
    Capabilities {
        log: LogCtx::new(grants.component.clone(), log_budget),
        config: ConfigCtx::new(grants.config.clone(), denial.clone()),
        memory: MemoryCtx::new(
            Granted::new("memory", grants.memory.clone(), denial.clone()),
            &grants.limits().budgets,
        ),
        a2a: Granted::new("a2a", grants.a2a.clone(), denial.clone()),
        heartbeat: HeartbeatCtx::new(
            Granted::new("heartbeat", grants.heartbeat.clone(), denial.clone()),
            grants.limits().budgets.wedged_reports,
        ),
        llm: LlmCtx::new(
            Granted::new("llm", grants.llm.clone(), denial.clone()),
            &grants.limits().budgets,
        ),
        tools: Granted::new("tools", grants.tools.clone(), denial.clone()),
        events: Granted::new("events", grants.events.clone(), denial.clone()),
    }
}

impl CapabilitiesView for HostState {
    fn capabilities(&mut self) -> (&mut Capabilities, &mut ResourceTable) {
        (&mut self.capabilities, &mut self.table)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let egress = self.egress.get_or_insert_with(|| {
            // Only reached when the deny-all policy could not be built at grant time: fail
            // closed with a policy that allows nothing.
            let policy = molecule_egress::EgressPolicy::deny_all("component");
            EgressState::new(
                molecule_egress::EgressHooks::new(policy)
                    .expect("a deny-all policy needs no TLS roots"),
            )
        });
        egress.view(&mut self.table)
    }
}
