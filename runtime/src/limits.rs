//! Resource limits applied to every sandboxed call, with defaults and human-friendly parsing
//! (`256m`, `30s`), plus the store-side limiter that enforces them.

use std::fmt;
use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Limits for one call into a component. Every store gets all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Largest linear memory a guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call; wasm execution and host calls both count.
    pub timeout: Duration,
    /// Largest number of elements in any one table. At most [`TABLE_POOL_ELEMENTS`]: a larger
    /// value is capped there (the engine's table pool holds no more).
    pub table_elements: usize,
    /// Largest number of core instances, tables and memories a store may create.
    pub instances: usize,
    /// Largest JSON output a tool may return, in bytes.
    pub max_output_bytes: usize,
    /// Largest amount of stdout/stderr/log text kept per call, in bytes; the rest is dropped
    /// with a note in the log.
    pub max_log_bytes: usize,
    /// Budgets on what the guest makes the host store, send or do (log records, memory,
    /// HTTP, events, `describe`, …).
    pub budgets: crate::budgets::Budgets,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(30),
            table_elements: TABLE_POOL_ELEMENTS,
            instances: 32,
            max_output_bytes: 1 << 20,
            max_log_bytes: 64 << 10,
            budgets: crate::budgets::Budgets::default(),
        }
    }
}

impl SandboxLimits {
    /// The limits config.yaml's `sandbox` section sets: the memory and time limits, the output
    /// cap (`sandbox.max_output`), the table limit (`sandbox.table_elements`), the log budget
    /// (`sandbox.log.max_bytes`) and every [`crate::budgets::Budgets`] key; each absent key at
    /// its default. Callers override what they set elsewhere (a skill's grant, `call`'s flags).
    pub fn configured(sandbox: &molecule_config::SandboxConfig) -> SandboxLimits {
        let d = SandboxLimits::default();
        let size = |key: &str, default: usize| {
            sandbox
                .limit(key)
                .map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        SandboxLimits {
            memory_bytes: usize::try_from(sandbox.memory_limit).unwrap_or(usize::MAX),
            timeout: sandbox.timeout.max(Duration::from_millis(10)),
            table_elements: table_limit(size("sandbox.table_elements", d.table_elements)),
            instances: d.instances,
            max_output_bytes: size("sandbox.max_output", d.max_output_bytes),
            max_log_bytes: size("sandbox.log.max_bytes", d.max_log_bytes),
            budgets: crate::budgets::Budgets::configured(sandbox),
        }
    }
}

/// Elements of one table the engine's pooling allocator holds (`engine.rs` sizes its table
/// pool by this; 8 bytes each, reserved address space): the most `sandbox.table_elements` can
/// allow, and its default ([`molecule_config::MAX_TABLE_ELEMENTS`]).
pub const TABLE_POOL_ELEMENTS: usize = molecule_config::MAX_TABLE_ELEMENTS as usize;

/// `sandbox.table_elements` as in force: `configured`, capped at [`TABLE_POOL_ELEMENTS`].
/// Reading config.yaml warns once about a larger value (a preflight WARN naming the key).
fn table_limit(configured: usize) -> usize {
    configured.min(TABLE_POOL_ELEMENTS)
}

/// Where each limit is set, named in the "raise …" hint of a limit error. [`Display`] of
/// [`LimitHit`] and [`crate::sandbox::CallError`] uses [`LimitKeys::CONFIG`]; a caller whose
/// limits come from elsewhere (`call`'s flags, the smoke timeout) renders with
/// [`LimitHit::message`] / [`crate::sandbox::CallError::message`] and its own keys.
///
/// [`Display`]: fmt::Display
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitKeys {
    /// Where the memory limit is set.
    pub memory: &'static str,
    /// Where the time limit is set.
    pub timeout: &'static str,
    /// Where the output limit is set.
    pub max_output: &'static str,
}

impl LimitKeys {
    /// The workspace's config.yaml keys.
    pub const CONFIG: LimitKeys = LimitKeys {
        memory: "sandbox.memory_limit",
        timeout: "sandbox.timeout",
        max_output: "sandbox.max_output",
    };
    /// The flags of `molecule-runtime call`.
    pub const CALL_FLAGS: LimitKeys = LimitKeys {
        memory: "--memory-limit",
        timeout: "--timeout",
        max_output: "--max-output",
    };
}

impl Default for LimitKeys {
    fn default() -> Self {
        LimitKeys::CONFIG
    }
}

/// Which limit stopped a call. Stored in the store so the caller can name it in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// The guest tried to grow memory past [`SandboxLimits::memory_bytes`].
    Memory {
        /// The size the guest asked for, in bytes.
        requested: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A table grew past [`SandboxLimits::table_elements`] (or [`TABLE_POOL_ELEMENTS`], when
    /// that is smaller).
    Table {
        /// The size the guest asked for, in elements.
        requested: usize,
        /// The limit, in elements.
        limit: usize,
    },
    /// The call ran past [`SandboxLimits::timeout`].
    Time {
        /// The limit.
        limit: Duration,
    },
}

impl LimitHit {
    /// The message, with a hint naming where the limit is set according to `keys`.
    pub fn message(&self, keys: &LimitKeys) -> String {
        match self {
            LimitHit::Memory { requested, limit } => format!(
                "memory limit exceeded: the guest asked for {} but the limit is {} \
                 (raise {})",
                format_bytes(*requested),
                format_bytes(*limit),
                keys.memory
            ),
            LimitHit::Table { requested, limit } => format!(
                "table limit exceeded: the guest asked for {requested} elements but the limit \
                 is {limit} (raise sandbox.table_elements, at most {TABLE_POOL_ELEMENTS})"
            ),
            LimitHit::Time { limit } => format!(
                "time limit exceeded: the call ran longer than {} (raise {})",
                format_duration(*limit),
                keys.timeout
            ),
        }
    }
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(&LimitKeys::CONFIG))
    }
}

impl std::error::Error for LimitHit {}

/// Enforces [`SandboxLimits`] on one store and remembers which limit was hit.
#[derive(Debug)]
pub struct StoreLimiter {
    limits: SandboxLimits,
    hit: Option<LimitHit>,
    /// This store's share of the workspace's guest-memory budget, if it has one.
    workspace_memory: Option<crate::scheduler::MemoryLease>,
    /// The workspace budget a growth ran into.
    budget_hit: Option<crate::budgets::BudgetHit>,
    /// Linear memory of this store now and at its largest, in bytes (for the call's receipt).
    memory: (usize, usize),
}

impl StoreLimiter {
    /// A limiter for one store.
    pub fn new(limits: SandboxLimits) -> Self {
        StoreLimiter {
            limits,
            hit: None,
            workspace_memory: None,
            budget_hit: None,
            memory: (0, 0),
        }
    }

    /// The largest total linear memory this store had, in bytes (all its memories together).
    pub fn peak_memory(&self) -> usize {
        self.memory.1
    }

    /// Counts every memory growth of this store against the workspace's budget as well
    /// (`sandbox.admission.max_guest_memory`); the lease gives the bytes back on drop.
    pub fn share_workspace_memory(&mut self, lease: crate::scheduler::MemoryLease) {
        self.workspace_memory = Some(lease);
    }

    /// The workspace budget that refused a growth, if any.
    pub fn budget_hit(&self) -> Option<crate::budgets::BudgetHit> {
        self.budget_hit
    }

    /// The limit that stopped the guest, if any.
    pub fn hit(&self) -> Option<LimitHit> {
        self.hit
    }

    /// Records that the time limit stopped the guest.
    pub fn record_timeout(&mut self) -> LimitHit {
        let hit = LimitHit::Time {
            limit: self.limits.timeout,
        };
        self.hit = Some(hit);
        hit
    }
}

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            let hit = LimitHit::Memory {
                requested: desired,
                limit: self.limits.memory_bytes,
            };
            self.hit = Some(hit);
            return Err(wasmtime::Error::new(hit));
        }
        if let Some(lease) = &mut self.workspace_memory {
            let more = desired.saturating_sub(current) as u64;
            if let Err(hit) = lease.grow(more) {
                self.budget_hit = Some(hit);
                return Err(wasmtime::Error::new(hit));
            }
        }
        let now = self
            .memory
            .0
            .saturating_add(desired.saturating_sub(current));
        self.memory = (now, self.memory.1.max(now));
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Checked here, below the pool's own cap, so growth past it is never a silent -1.
        let limit = self.limits.table_elements.min(TABLE_POOL_ELEMENTS);
        if desired > limit {
            let hit = LimitHit::Table {
                requested: desired,
                limit,
            };
            self.hit = Some(hit);
            return Err(wasmtime::Error::new(hit));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.instances
    }

    fn tables(&self) -> usize {
        self.limits.instances
    }

    fn memories(&self) -> usize {
        self.limits.instances
    }
}

/// Parses a byte size such as `256m`, `1g`, `64k`, `512MiB` or `1048576` (the same syntax as
/// config.yaml's `sandbox.memory_limit`).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let bytes = molecule_config::units::parse_bytes(text)?;
    usize::try_from(bytes).map_err(|_| format!("`{text}` is too large"))
}

/// Parses a duration such as `30s`, `500ms`, `2m` or a bare number of seconds (`30`, `2.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    molecule_config::units::parse_duration(text)
}

/// Formats a byte count for messages: `256 MiB`, `32.1 MiB`, `64 KiB`, `17 B`.
pub fn format_bytes(n: usize) -> String {
    let (unit, name) = match n {
        n if n >= 1 << 30 => (1u64 << 30, "GiB"),
        n if n >= 1 << 20 => (1 << 20, "MiB"),
        n if n >= 1 << 10 => (1 << 10, "KiB"),
        _ => return format!("{n} B"),
    };
    let n = n as u64;
    if n.is_multiple_of(unit) {
        format!("{} {name}", n / unit)
    } else {
        format!("{:.1} {name}", n as f64 / unit as f64)
    }
}

/// Formats a duration for messages: `30s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_bytes("256m"), Ok(256 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("64KiB"), Ok(64 << 10));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("lots").unwrap_err().contains("not a size"));
        assert!(parse_bytes("5t").unwrap_err().contains("unknown unit"));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0").is_err());
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert!(parse_duration("3 fortnights").is_err());
    }

    #[test]
    fn limit_messages_name_the_setting() {
        let hit = LimitHit::Memory {
            requested: 512 << 20,
            limit: 256 << 20,
        };
        assert!(hit.to_string().contains("256 MiB"));
        assert!(hit.to_string().contains("sandbox.memory_limit"));
        let time = LimitHit::Time {
            limit: Duration::from_secs(1),
        };
        assert_eq!(
            time.message(&LimitKeys::CALL_FLAGS),
            "time limit exceeded: the call ran longer than 1s (raise --timeout)"
        );
        assert!(hit
            .message(&LimitKeys::CALL_FLAGS)
            .ends_with("(raise --memory-limit)"));
        assert!(time.to_string().ends_with("(raise sandbox.timeout)"));
        assert_eq!(format_bytes((32 << 20) + (64 << 10)), "32.1 MiB");
        assert_eq!(format_bytes(1 << 30), "1 GiB");
        assert_eq!(format_bytes(17), "17 B");
    }

    /// Under the pooling allocator a table grows to the configured limit (past wasmtime's
    /// default pool of 20,000 elements) and no further, with an error naming the key.
    #[test]
    fn tables_grow_to_the_configured_limit_and_no_further() {
        use crate::engine::{EngineOptions, WasmEngine};
        let engine = WasmEngine::new(EngineOptions::default()).expect("engine");
        let wat = r#"(module (table 1 funcref)
            (func (export "grow") (param i32) (result i32)
              (table.grow (ref.null func) (local.get 0))))"#;
        let wasm = wat::parse_str(wat).expect("wat");
        let module = wasmtime::Module::new(engine.engine(), wasm).expect("module");
        let mut store =
            wasmtime::Store::new(engine.engine(), StoreLimiter::new(SandboxLimits::default()));
        store.limiter(|l| l);
        store.set_epoch_deadline(1 << 40);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
        let grow = instance
            .get_typed_func::<i32, i32>(&mut store, "grow")
            .expect("grow");
        assert_eq!(grow.call(&mut store, 49_999).expect("to 50,000"), 1);
        let err = grow.call(&mut store, 50_001).expect_err("past 100,000");
        let hit = err.downcast_ref::<LimitHit>().copied();
        assert_eq!(
            hit,
            Some(LimitHit::Table {
                requested: 100_001,
                limit: 100_000
            }),
            "{err:#}"
        );
        let text = hit.map(|h| h.to_string()).unwrap_or_default();
        assert!(text.contains("raise sandbox.table_elements"), "{text}");

        let mut capped = StoreLimiter::new(SandboxLimits {
            table_elements: 1 << 30,
            ..SandboxLimits::default()
        });
        let refused = capped.table_growing(0, TABLE_POOL_ELEMENTS + 1, None);
        assert!(refused.is_err(), "a larger setting is capped at the pool");
        assert_eq!(table_limit(1 << 30), TABLE_POOL_ELEMENTS);
    }
}
