//! Workspace-wide admission: at most `sandbox.admission.max_concurrent_calls` top-level guest
//! calls (tasks, and calls made outside a task) run at once; the rest wait in a bounded FIFO
//! queue (`max_waiting`, each for at most `max_wait`) and then fail with a "busy" error naming
//! the keys. Nested calls — an admitted task's tool calls into skills — take no slot
//! ([`nested`]) but one of the pool's spare instances, so a task never waits for a second
//! slot (no deadlock when every slot holds an adapter waiting on a skill). Guest linear memory
//! across every live store is bounded by `max_guest_memory` ([`GuestMemory`]); a growth past
//! it fails the call.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::gauges::GAUGES;
use super::memory::GuestMemory;
use crate::budgets::{Budget, BudgetHit};

/// The config.yaml key of the concurrency limit.
pub const KEY_MAX_CONCURRENT: &str = "sandbox.admission.max_concurrent_calls";
/// The config.yaml key of the workspace's guest-memory budget.
pub const KEY_MAX_GUEST_MEMORY: &str = "sandbox.admission.max_guest_memory";
/// The config.yaml key of the queue bound.
pub const KEY_MAX_WAITING: &str = "sandbox.admission.max_waiting";
/// The config.yaml key of the longest wait.
pub const KEY_MAX_WAIT: &str = "sandbox.admission.max_wait";

/// Workspace-wide admission settings (`sandbox.admission.*`). The defaults keep a 2-core,
/// 1 GiB container safe: 256 calls at once, 512 MiB of guest linear memory across them,
/// 10,000 waiting for at most 60 s each. `max_concurrent_calls` is at most 100,000
/// ([`molecule_config::MAX_CONCURRENT_CALLS`]; config.yaml above it is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Top-level guest calls (tasks) running at once (`max_concurrent_calls`, 1 to
    /// [`molecule_config::MAX_CONCURRENT_CALLS`]).
    pub max_concurrent_calls: u32,
    /// Bytes of guest linear memory across every live store (`max_guest_memory`).
    pub max_guest_memory: u64,
    /// Calls that may wait for a slot; one more fails "busy" at once (`max_waiting`).
    pub max_waiting: u64,
    /// Longest wait for a slot before failing "busy" (`max_wait`).
    pub max_wait: Duration,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            max_concurrent_calls: 256,
            max_guest_memory: molecule_config::DEFAULT_MAX_GUEST_MEMORY,
            max_waiting: 10_000,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl AdmissionConfig {
    /// The settings config.yaml's `sandbox.admission` sets, each absent key at its default.
    /// Reading config.yaml already refused values out of range (`max_concurrent_calls` above
    /// [`molecule_config::MAX_CONCURRENT_CALLS`], `max_guest_memory` below
    /// [`molecule_config::MIN_GUEST_MEMORY`]); the bounds are applied again here for a
    /// [`molecule_config::SandboxConfig`] built by hand.
    pub fn configured(sandbox: &molecule_config::SandboxConfig) -> AdmissionConfig {
        let d = AdmissionConfig::default();
        let max = molecule_config::MAX_CONCURRENT_CALLS;
        AdmissionConfig {
            max_concurrent_calls: sandbox
                .limit(KEY_MAX_CONCURRENT)
                .map_or(d.max_concurrent_calls, |n| {
                    u32::try_from(n.clamp(1, max)).unwrap_or(d.max_concurrent_calls)
                }),
            max_guest_memory: sandbox
                .limit(KEY_MAX_GUEST_MEMORY)
                .unwrap_or(d.max_guest_memory),
            max_waiting: sandbox.limit(KEY_MAX_WAITING).unwrap_or(d.max_waiting),
            max_wait: sandbox.duration(KEY_MAX_WAIT).unwrap_or(d.max_wait),
        }
    }
}

/// Why a call was not admitted: the queue was full, or it waited `max_wait`. Counted as a hit
/// of [`Budget::Waiting`] in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// `max_waiting` calls were already waiting.
    QueueFull {
        /// Slots (`max_concurrent_calls`).
        slots: u32,
        /// The queue bound (`max_waiting`).
        waiting: u64,
    },
    /// The call waited `max_wait` without getting a slot.
    Waited {
        /// Slots (`max_concurrent_calls`).
        slots: u32,
        /// The longest wait (`max_wait`).
        max_wait: Duration,
    },
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Busy::QueueFull { slots, waiting } => {
                let in_use = match slots {
                    1 => "the only sandbox slot is in use".to_string(),
                    n => format!("all {n} sandbox slots are in use"),
                };
                let queue = match waiting {
                    0 => format!("no call may wait ({KEY_MAX_WAITING} is 0)"),
                    1 => "1 call is already waiting".to_string(),
                    n => format!("{n} calls are already waiting"),
                };
                write!(
                    f,
                    "busy: {in_use} and {queue}; retry later, or raise {KEY_MAX_CONCURRENT} \
                     or {KEY_MAX_WAITING}"
                )
            }
            Busy::Waited { slots, max_wait } => {
                let slot = match slots {
                    1 => "the only sandbox slot".to_string(),
                    n => format!("one of the {n} sandbox slots"),
                };
                write!(
                    f,
                    "busy: waited {} for {slot}; retry later, or raise {KEY_MAX_CONCURRENT} or \
                     {KEY_MAX_WAIT}",
                    format_wait(*max_wait)
                )
            }
        }
    }
}

impl std::error::Error for Busy {}

/// `60s`, `250ms`.
fn format_wait(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Instances of the pool kept for calls that take no slot (an admitted task's tool calls, a
/// cancel), at the least.
pub const MIN_SPARE_INSTANCES: u32 = 16;

/// Admission state of one engine (so of one workspace): the slots, the queue, the spare
/// instances of the engine's pool, the guest memory in use.
#[derive(Debug)]
pub struct Admission {
    config: Mutex<AdmissionConfig>,
    /// Instances the engine's pool holds (`None`: on-demand allocation, no fixed bound).
    pool: Option<u32>,
    slots: Gate,
    /// The pool's instances that no slot may take: calls nested in an admitted call wait for
    /// one of these instead of failing when the pool is full.
    spare: Option<Gate>,
    waiting: AtomicU64,
    running: AtomicU64,
    memory: Arc<GuestMemory>,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(AdmissionConfig::default(), None)
    }
}

impl Admission {
    /// Admission with `config` on an engine whose pool holds `pool` instances (`None` for
    /// on-demand allocation). Slots are capped so that [`MIN_SPARE_INSTANCES`] stay spare.
    pub fn new(config: AdmissionConfig, pool: Option<u32>) -> Self {
        let slots = slots_for(&config, pool);
        Admission {
            slots: Gate::new(slots),
            spare: pool.map(|p| Gate::new(p.saturating_sub(slots))),
            pool,
            waiting: AtomicU64::new(0),
            running: AtomicU64::new(0),
            memory: Arc::new(GuestMemory::new(config.max_guest_memory)),
            config: Mutex::new(config),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> AdmissionConfig {
        *self.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Slots in force: `max_concurrent_calls`, or fewer when the engine's pool is too small
    /// to keep [`MIN_SPARE_INSTANCES`] beside them.
    pub fn slots(&self) -> u32 {
        slots_for(&self.config(), self.pool)
    }

    /// Applies new settings (at boot). Fewer slots take effect as running calls end.
    pub fn configure(&self, config: AdmissionConfig) {
        let mut current = self.config.lock().unwrap_or_else(|e| e.into_inner());
        let (old, new) = (
            slots_for(&current, self.pool),
            slots_for(&config, self.pool),
        );
        self.slots.resize(old, new);
        if let (Some(spare), Some(pool)) = (&self.spare, self.pool) {
            spare.resize(pool.saturating_sub(old), pool.saturating_sub(new));
        }
        self.memory.set_limit(config.max_guest_memory);
        *current = config;
    }

    /// The workspace's guest-memory account, shared by every store on this engine.
    pub fn memory(&self) -> &Arc<GuestMemory> {
        &self.memory
    }

    /// Top-level calls running now.
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::Relaxed)
    }

    /// Calls waiting for a slot now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits (FIFO) for a slot. Fails at once when `max_waiting` calls already wait, and after
    /// `max_wait` without a slot; either counts a [`Budget::Waiting`] hit.
    pub async fn admit(self: &Arc<Self>) -> Result<Permit, Busy> {
        if let Ok(permit) = self.slots.sem.clone().try_acquire_owned() {
            return Ok(Permit::slot(self, permit));
        }
        let config = self.config();
        let slots = self.slots();
        let queued = self.waiting.fetch_add(1, Ordering::Relaxed);
        GAUGES.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(self);
        if queued >= config.max_waiting {
            BudgetHit::record(Budget::Waiting, config.max_waiting);
            return Err(Busy::QueueFull {
                slots,
                waiting: config.max_waiting,
            });
        }
        let wait = self.slots.sem.clone().acquire_owned();
        match tokio::time::timeout(config.max_wait, wait).await {
            Ok(Ok(permit)) => Ok(Permit::slot(self, permit)),
            _ => {
                BudgetHit::record(Budget::Waiting, config.max_waiting);
                Err(Busy::Waited {
                    slots,
                    max_wait: config.max_wait,
                })
            }
        }
    }

    /// For a call that takes no slot (nested in an admitted call, or a cancel): waits (FIFO)
    /// for one of the pool's spare instances, so a full pool delays such a call instead of
    /// failing it. `None` when the pool has no fixed size. The caller's deadline bounds the
    /// wait.
    pub async fn spare_instance(self: &Arc<Self>) -> Option<Permit> {
        let spare = self.spare.as_ref()?;
        let permit = spare.sem.clone().acquire_owned().await.ok()?;
        Some(Permit {
            admission: self.clone(),
            permit: Some(permit),
            slot: false,
        })
    }
}

/// Slots for `config` next to a pool of `pool` instances.
fn slots_for(config: &AdmissionConfig, pool: Option<u32>) -> u32 {
    let wanted = config.max_concurrent_calls.max(1);
    match pool {
        Some(p) => wanted.min(p.saturating_sub(MIN_SPARE_INSTANCES).max(1)),
        None => wanted,
    }
}

/// A semaphore whose size can shrink while its permits are out.
#[derive(Debug)]
struct Gate {
    sem: Arc<Semaphore>,
    /// Permits still to take out of circulation after a shrink.
    deficit: AtomicU64,
}

impl Gate {
    fn new(size: u32) -> Gate {
        Gate {
            sem: Arc::new(Semaphore::new(size as usize)),
            deficit: AtomicU64::new(0),
        }
    }

    fn resize(&self, old: u32, new: u32) {
        if new > old {
            self.sem.add_permits((new - old) as usize);
        } else if new < old {
            let want = (old - new) as usize;
            let taken = self.sem.forget_permits(want);
            self.deficit
                .fetch_add((want - taken) as u64, Ordering::Relaxed);
        }
    }

    /// Gives `permit` back, or retires it while a shrink is still owed.
    fn release(&self, permit: OwnedSemaphorePermit) {
        let owed = self
            .deficit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
            .is_ok();
        if owed {
            permit.forget();
        }
    }
}

/// Leaves the queue when the wait ends (admitted, busy, or the waiting task was dropped).
struct Waiting<'a>(&'a Admission);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        GAUGES.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A running call's slot (or spare instance); dropping it frees it for the next waiting call.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    permit: Option<OwnedSemaphorePermit>,
    /// A slot (counted as running), not a spare instance.
    slot: bool,
}

impl Permit {
    fn slot(admission: &Arc<Admission>, permit: OwnedSemaphorePermit) -> Permit {
        admission.running.fetch_add(1, Ordering::Relaxed);
        GAUGES.running.fetch_add(1, Ordering::Relaxed);
        Permit {
            admission: admission.clone(),
            permit: Some(permit),
            slot: true,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        if self.slot {
            self.admission.running.fetch_sub(1, Ordering::Relaxed);
            GAUGES.running.fetch_sub(1, Ordering::Relaxed);
            self.admission.slots.release(permit);
        } else if let Some(spare) = &self.admission.spare {
            spare.release(permit);
        }
    }
}

/// Where a sandbox call stands with admission, from the task-local scope it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Outside any admitted call: it must take a slot.
    Outside,
    /// Inside [`in_slot`]: the slot is held and its instance is this call's.
    Slot,
    /// Inside a running call ([`nested`]): it takes a spare instance, not a slot.
    Nested,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The [`Scope`] of the current task.
pub fn scope() -> Scope {
    SCOPE.try_with(|s| *s).unwrap_or(Scope::Outside)
}

/// Runs `fut`, which holds a slot ([`Admission::admit`]): its sandbox call uses the slot.
pub fn in_slot<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    SCOPE.scope(Scope::Slot, fut)
}

/// Runs `fut` as part of a running call (a guest's host calls, a cancel): sandbox calls made
/// in it take a spare instance of the pool instead of a slot, so they never queue behind
/// the tasks that are waiting on them.
pub fn nested<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    SCOPE.scope(Scope::Nested, fut)
}

/// Counts a call that runs guest code without a slot (an adapter `cancel`) in the running
/// gauge (`/metrics`) while the returned guard lives; it takes no slot.
pub fn count_running() -> RunningGuard {
    GAUGES.running.fetch_add(1, Ordering::Relaxed);
    RunningGuard(())
}

/// Counted in the running gauge until dropped (see [`count_running`]).
#[derive(Debug)]
pub struct RunningGuard(());

impl Drop for RunningGuard {
    fn drop(&mut self) {
        GAUGES.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
