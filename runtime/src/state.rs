//! The host state of one store: one per call, never shared, dropped with the store.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::grants::Grants;
use crate::limits::StoreLimiter;
use crate::wasi::{self, LogBudget, StderrTail};

/// Most resources (streams, pollables, chat streams) a guest may hold at once.
const MAX_RESOURCES: usize = 10_000;

/// Everything a store's host functions can reach. Built by [`HostState::new`] from the
/// component's [`Grants`]; nothing else is visible to the guest.
pub struct HostState {
    pub(crate) grants: Arc<Grants>,
    pub(crate) limiter: StoreLimiter,
    pub(crate) deadline: Instant,
    pub(crate) log_budget: LogBudget,
    pub(crate) stderr_tail: StderrTail,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// Fresh state for one call of the component described by `grants`.
    pub fn new(grants: Arc<Grants>) -> Self {
        let limits = *grants.limits();
        let log_budget = LogBudget::new(limits.max_log_bytes);
        let stderr_tail = StderrTail::default();
        let wasi = wasi::deny_by_default(&grants, &log_budget, &stderr_tail);
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        HostState {
            limiter: StoreLimiter::new(limits),
            deadline: Instant::now() + limits.timeout,
            grants,
            log_budget,
            stderr_tail,
            wasi,
            table,
        }
    }

    /// The grants of the component this store runs.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// The resource table of this store.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
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
