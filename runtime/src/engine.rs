//! The process's one wasmtime [`Engine`]: Cranelift, the component model, async support,
//! epoch interruption driven by a single ticker thread, and the pooling allocator when the
//! machine's address space allows it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy,
};

use crate::scheduler::{Admission, AdmissionConfig};

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Use the pooling allocator when it can be set up, on-demand otherwise.
    Auto,
    /// Always allocate on demand.
    OnDemand,
}

/// Settings for [`WasmEngine::new`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Allocation strategy.
    pub allocation: Allocation,
    /// How many components may run at once (pool size). Each component instance counts once;
    /// its core instances, memories and tables are sized from this.
    pub max_concurrent: u32,
    /// How often the epoch ticks; the granularity of time limits.
    pub tick: Duration,
    /// Largest wasm stack a guest may use, in bytes; deeper recursion traps.
    pub max_wasm_stack: usize,
}

impl EngineOptions {
    /// Instances the pool must hold for `max_concurrent_calls` admitted calls, plus 64 spare
    /// ones shared by the calls that take no slot (an adapter's tool calls wait for a spare
    /// instance rather than fail). Never below the default pool. Memory mappings (measured
    /// with `--bench waiting_tasks`): each pooled instance about two even when idle, each live
    /// call about four more — six per running call, so past ~10,000 calls the kernel's
    /// `vm.max_map_count` (65,530 by default) must be raised.
    pub fn pool_for_calls(max_concurrent_calls: u32) -> u32 {
        let needed = max_concurrent_calls.saturating_add(64);
        needed.max(EngineOptions::default().max_concurrent)
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            allocation: Allocation::Auto,
            max_concurrent: 1000,
            tick: Duration::from_millis(10),
            max_wasm_stack: 1 << 20,
        }
    }
}

/// The engine plus its epoch ticker and the admission state of the calls that run on it
/// (one engine per workspace). Dropping it stops the ticker.
pub struct WasmEngine {
    engine: Engine,
    pooling: bool,
    options: EngineOptions,
    admission: Arc<Admission>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl WasmEngine {
    /// Builds the engine. With [`Allocation::Auto`] it first tries the pooling allocator and
    /// falls back to on-demand allocation when the address-space reservation fails.
    pub fn new(options: EngineOptions) -> anyhow::Result<Self> {
        let (engine, pooling) = match options.allocation {
            Allocation::Auto => match Engine::new(&config(&options, true)) {
                Ok(engine) => (engine, true),
                Err(err) => {
                    tracing::warn!("{}", on_demand_fallback(options.max_concurrent, &err));
                    (Engine::new(&config(&options, false))?, false)
                }
            },
            Allocation::OnDemand => (Engine::new(&config(&options, false))?, false),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = spawn_ticker(&engine, options.tick, stop.clone())?;
        let pool = pooling.then_some(options.max_concurrent);
        Ok(WasmEngine {
            engine,
            pooling,
            options,
            admission: Arc::new(Admission::new(AdmissionConfig::default(), pool)),
            stop,
            ticker: Some(ticker),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// True when the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// The options the engine was built with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Admission of the calls on this engine: slots, the waiting queue and the guest-memory
    /// budget (`sandbox.admission.*`; boot applies the workspace's settings).
    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }

    /// Number of epoch ticks that cover `d`, rounded up, at least one.
    pub fn ticks_for(&self, d: Duration) -> u64 {
        let tick = self.options.tick.as_nanos().max(1);
        (d.as_nanos().div_ceil(tick) as u64).max(1)
    }
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            ticker.thread().unpark();
            let _ = ticker.join();
        }
    }
}

/// Why the engine falls back to on-demand allocation (a pool of `instances` could not be set
/// up: `err`) and what that costs.
fn on_demand_fallback(instances: u32, err: &wasmtime::Error) -> String {
    format!(
        "the pooling allocator cannot be set up for {instances} instances ({err:#}); using \
         on-demand allocation: every call then maps and unmaps its own memory, about 4-5x the \
         cost of instantiating from the pool (65-78 us instead of 14-17 us per instantiate + \
         call on the development machine), and the instance count is bounded only by \
         admission. Each pooled instance reserves about 6 GiB of address space (a 4 GiB memory \
         and its guard), so about 20,000 fit in 47 bits: lower sandbox.admission.max_concurrent_calls (the pool holds it \
         plus 64) or lift the process's address-space limit (ulimit -v) to keep the pool"
    )
}

/// Bytes of each pooled linear memory kept resident between instances.
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
/// Bytes of each pooled table kept resident between instances.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

fn config(options: &EngineOptions, pooling: bool) -> Config {
    let mut config = Config::new();
    config
        .strategy(Strategy::Cranelift)
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(options.max_wasm_stack)
        .parallel_compilation(true);
    if pooling {
        let n = options.max_concurrent;
        let mut pool = PoolingAllocationConfig::default();
        // A Rust wasip2 component instantiates about three core instances and two tables;
        // every guest built here (Rust, the Python and JavaScript engines) defines one linear
        // memory. Memories are what limit the pool's size: each slot reserves 4 GiB of address
        // space plus its guard, so one per component lets ~20,000 fit in 47 bits.
        pool.total_component_instances(n)
            .total_core_instances(n * 4)
            .total_memories(n)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(4 << 30)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            // As many elements per table as the largest table limit a store may set, so the
            // limit in force is the configured one (the limiter refuses growth past it).
            .table_elements(crate::limits::TABLE_POOL_ELEMENTS)
            .max_core_instances_per_component(16)
            // Reset the first pages of a slot's memories and tables with memset rather than
            // madvise: a fresh instance per call would otherwise fault those pages back in (and
            // flush TLBs on every core) each time.
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
            .table_keep_resident(KEEP_RESIDENT_TABLE)
            // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), reset only the pages the guest
            // actually wrote instead of all of the kept-resident bytes: a small adapter
            // dirties tens of KiB of its 1+ MiB memory per task.
            .pagemap_scan(Enabled::Auto);
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true);
    }
    config
}

fn spawn_ticker(
    engine: &Engine,
    tick: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<JoinHandle<()>> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("molecule-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::park_timeout(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .context("starting the epoch ticker thread")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Log output captured in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A pool for 100,000 calls cannot reserve its address space (Linux gives a process 47
    /// bits unless asked for more): the engine falls back to on-demand allocation and says so
    /// at WARN, with the reason, the cost and the key to lower.
    #[test]
    fn a_pool_too_large_falls_back_to_on_demand_with_a_warning() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        let options = EngineOptions {
            max_concurrent: EngineOptions::pool_for_calls(100_000),
            ..EngineOptions::default()
        };
        let engine = tracing::subscriber::with_default(subscriber, || WasmEngine::new(options))
            .expect("the engine is built either way");
        let log = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|e| e.into_inner()))
            .into_owned();
        assert!(!engine.pooling(), "a 100,064-instance pool fit here");
        assert!(log.contains("WARN"), "{log}");
        for says in [
            "100064 instances",
            "on-demand allocation",
            "4-5x",
            "sandbox.admission.max_concurrent_calls",
        ] {
            assert!(log.contains(says), "missing {says:?}: {log}");
        }
    }
}
