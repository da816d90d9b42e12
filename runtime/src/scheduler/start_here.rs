//! Starting here: the first poll of a call a client waits for (an MCP `tools/call`) on the
//! server thread that received it, instead of a hop to the guest [`pool`](super::pool). A
//! hop costs two cross-thread wake-ups: 13–15 µs on an idle 2-vCPU VM (`--bench mcp`,
//! `direct_hop` − `direct`), up to ~60 µs on one whose cores are shared with other VMs —
//! as much as the guest call itself or more.
//!
//! A call made inside [`starting_here`] that reaches [`run_starting_here`] is polled once on
//! the asking thread, inside the interactive lane's runtime context (timers and I/O it
//! creates belong to the pool). Ready at once: its output, no hop. Pending (it waits for I/O
//! or a timer, or its wasm reached the next epoch tick, ≤ 10 ms): it moves to the pool, which
//! polls it again at once, its tick counted towards its interactive slice. A panic loses the
//! call (`None`), never the server thread.
//!
//! What bounds the guest's hold on a server thread:
//! * **one at a time**: at most [`MAX_STARTING_HERE`] first poll runs outside the pool, and
//!   only when the asking runtime has more than one worker thread, so the server keeps at
//!   least one thread serving whatever a guest does;
//! * **no blocking host work**: a call whose grants have folders (granted, or uploads
//!   mounted; every Python and JavaScript skill has its own) hops, since WASI file operations
//!   run blocking on the polling thread (`wasi.rs`). For those calls (a millisecond or more)
//!   the hop is a small share anyway; the win is for short compiled calls;
//! * **a time budget**: the epoch tick stops wasm at function entries and loop headers only:
//!   host work in the same poll (instantiation, first-touch page faults, copying a large
//!   result) and bulk-memory instructions (`memory.fill`/`memory.copy` over hundreds of MiB,
//!   each tens of ms) run on. So the wall time of every first poll is charged to a budget
//!   that refills at [`SHARE_PERCENT`]% of one thread up to [`BURST`]; a call starts here
//!   only with at least [`MIN_CREDIT`] left. Over any window of length T first polls use at
//!   most `BURST + T × SHARE_PERCENT / 100` plus the one poll that overdrew it;
//! * **a bar**: a component whose first poll used more than [`BAR_AFTER`] (two ticks) of the
//!   thread's CPU time never starts here again in this process (its calls hop, counted as
//!   `barred`; the bar is checked and set while holding the turn). One poll cannot be cut
//!   short once running, so a hostile component can hold one server thread once, for as long
//!   as one poll of its code runs; never twice. CPU time, not wall time, so that a poll
//!   preempted on a busy host does not bar a harmless component.
//!
//! One limit of "the server keeps a thread serving": tokio's per-worker LIFO slot cannot be
//! stolen (tokio-rs/tokio#4941), so a server task woken on the polling worker just before the
//! poll waits for it to end, even with the other worker idle: for at most one tick of wasm,
//! or for the one long poll that bars its component.
//!
//! Calls made *inside* a first poll (a skill's nested `tools.call`) do not start here: they
//! hop like any other, uncounted. Every decision about an MCP call is counted for `/metrics`
//! ([`counts`]).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::pool;

/// Calls that may run their first poll on the asking thread at the same time.
pub const MAX_STARTING_HERE: usize = 1;
/// Share of one thread's time (percent) that first polls may use on average.
pub const SHARE_PERCENT: u32 = 50;
/// The most first-poll time the budget holds (what a burst of calls may use at once).
pub const BURST: Duration = Duration::from_millis(50);
/// Credit a call needs to start here: one epoch tick.
pub const MIN_CREDIT: Duration = Duration::from_millis(10);
/// A first poll that used more thread CPU time than this (two epoch ticks) bars its component.
pub const BAR_AFTER: Duration = Duration::from_millis(20);
/// Components the bar remembers; when that many are barred, no call starts here any more.
pub const MAX_BARRED: usize = 4096;

/// What host work a call may do while it is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostWork {
    /// Nothing that blocks the thread beyond the call's CPU (no granted files).
    NonBlocking,
    /// WASI file operations, which run blocking on the polling thread: never started here.
    MayBlock,
}

tokio::task_local! {
    /// Set by [`starting_here`]: the sandbox calls of this task may start on its thread.
    static START_HERE: ();
}

/// Runs `fut` so that the sandbox calls it makes from outside the pool use
/// [`run_starting_here`] instead of [`pool::run`]: for a caller that makes one short call and
/// waits for it (MCP `tools/call`).
pub fn starting_here<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    START_HERE.scope((), fut)
}

thread_local! {
    /// True while a first poll runs on this thread: calls nested in it hop.
    static IN_FIRST_POLL: Cell<bool> = const { Cell::new(false) };
}

/// True inside [`starting_here`], but not inside a first poll (a nested call).
pub fn may_start_here() -> bool {
    START_HERE.try_with(|_| ()).is_ok() && !IN_FIRST_POLL.with(Cell::get)
}

/// Runs `call` (a call of `component`, e.g. `skill json-query`) like [`pool::run`], but first
/// polls it once on this thread when the rules in the module docs allow it. `None`, as from
/// [`pool::run`], when the call panicked.
pub async fn run_starting_here<T, F>(call: F, component: &str, work: HostWork) -> Option<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let turn = match Turn::take(component, work) {
        Ok(turn) => turn,
        Err(skip) => {
            skip.count();
            return pool::run(call).await;
        }
    };
    let mut call = Box::pin(call);
    // The pool's runtimes exist before the clock starts (the first call builds them).
    drop(pool::enter_interactive());
    let before = pool::yields();
    let started = Instant::now();
    let cpu_before = crate::receipt::thread_cpu();
    let polled = std::future::poll_fn(|cx| {
        let _context = pool::enter_interactive();
        IN_FIRST_POLL.with(|f| f.set(true));
        // A panic in the host is the call's loss, as on the pool: not the caller's.
        let poll = std::panic::AssertUnwindSafe(|| call.as_mut().poll(cx));
        let caught = std::panic::catch_unwind(poll);
        IN_FIRST_POLL.with(|f| f.set(false));
        Poll::Ready(caught)
    })
    .await;
    let ticks = pool::yields().wrapping_sub(before);
    // The bar goes by the thread's CPU time (a poll preempted on a busy host is not the
    // guest's doing), the budget by wall time (what the server thread lost). CPU time never
    // exceeds wall time: the clock (a system call) is read again only when wall time could bar.
    let wall = started.elapsed();
    let cpu = if wall > BAR_AFTER {
        cpu_before.and_then(|b| Some(crate::receipt::thread_cpu()?.saturating_sub(b)))
    } else {
        Some(wall)
    };
    turn.finish(component, wall, cpu);
    match polled {
        Ok(Poll::Ready(out)) => {
            COUNTS.answered.fetch_add(1, Ordering::Relaxed);
            Some(out)
        }
        Ok(Poll::Pending) => {
            COUNTS.moved.fetch_add(1, Ordering::Relaxed);
            pool::run_from(call, ticks).await
        }
        Err(_) => {
            COUNTS.lost.fetch_add(1, Ordering::Relaxed);
            // What the call holds (its store, its memory) is freed on the pool, not here.
            pool::drop_there(call);
            None
        }
    }
}

/// Components whose first poll used more CPU time than [`BAR_AFTER`].
static BARRED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// Set when [`BARRED`] is full: then nothing starts here (fail closed).
static ALL_BARRED: AtomicBool = AtomicBool::new(false);

/// Bars `component` from starting here (see the module docs).
fn bar(component: &str) {
    let mut barred = BARRED.lock().unwrap_or_else(|e| e.into_inner());
    if barred.len() >= MAX_BARRED {
        ALL_BARRED.store(true, Ordering::Relaxed);
        return;
    }
    if barred.insert(component.to_owned()) {
        let component = crate::redact::escape(component);
        tracing::info!(%component, limit_ms = BAR_AFTER.as_millis() as u64,
            "a first poll on a server thread ran past the limit: this component's MCP calls hop to the guest pool from now on");
    }
}

/// True when `component` may not start here.
fn barred(component: &str) -> bool {
    ALL_BARRED.load(Ordering::Relaxed)
        || BARRED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(component)
}

/// Why a call hopped instead of starting here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// [`MAX_STARTING_HERE`] first polls run already.
    TurnTaken,
    /// The time budget is spent.
    Budget,
    /// The asking runtime has one worker thread: it would stop serving meanwhile.
    OneWorker,
    /// The call's grants have files ([`HostWork::MayBlock`]).
    Files,
    /// Its component ran past [`BAR_AFTER`] in a first poll before.
    Barred,
}

impl Skip {
    fn count(self) {
        let counter = match self {
            Skip::TurnTaken => &COUNTS.turn_taken,
            Skip::Budget => &COUNTS.budget,
            Skip::OneWorker => &COUNTS.one_worker,
            Skip::Files => &COUNTS.files,
            Skip::Barred => &COUNTS.barred,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Calls running their first poll outside the pool right now.
static STARTED_HERE: AtomicUsize = AtomicUsize::new(0);

/// One of the [`MAX_STARTING_HERE`] turns; given back when dropped.
struct Turn(());

impl Turn {
    fn take(component: &str, work: HostWork) -> Result<Turn, Skip> {
        if work == HostWork::MayBlock {
            return Err(Skip::Files);
        }
        let workers =
            tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
        if workers < 2 {
            return Err(Skip::OneWorker);
        }
        STARTED_HERE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_STARTING_HERE).then_some(n + 1)
            })
            .map_err(|_| Skip::TurnTaken)?;
        let turn = Turn(());
        // Checked holding the turn, and a bar is written before the turn is given back: a
        // component is never polled here again once barred.
        if barred(component) {
            return Err(Skip::Barred);
        }
        if !BUDGET
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .has_credit(Instant::now())
        {
            return Err(Skip::Budget);
        }
        Ok(turn)
    }

    /// Gives the turn back: charges `wall` (the first poll's wall time) to the budget and
    /// bars `component` when `cpu` (its thread CPU time, or `wall` where the platform has no
    /// thread clock) passed [`BAR_AFTER`].
    fn finish(self, component: &str, wall: Duration, cpu: Option<Duration>) {
        BUDGET
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .charge(wall);
        if cpu.unwrap_or(wall) > BAR_AFTER {
            bar(component);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        STARTED_HERE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// First-poll time left: a token bucket in nanoseconds, refilled at [`SHARE_PERCENT`]% of
/// wall time up to [`BURST`]; charges may take it below zero (a long host operation), and
/// then calls hop until it is paid back.
struct Budget {
    credit_ns: i64,
    refilled: Option<Instant>,
}

static BUDGET: Mutex<Budget> = Mutex::new(Budget {
    credit_ns: BURST.as_nanos() as i64,
    refilled: None,
});

impl Budget {
    /// Refills for the time since the last refill; true while at least [`MIN_CREDIT`] is left.
    fn has_credit(&mut self, now: Instant) -> bool {
        if let Some(last) = self.refilled {
            let elapsed =
                i64::try_from(now.saturating_duration_since(last).as_nanos()).unwrap_or(i64::MAX);
            let refill = elapsed.saturating_mul(i64::from(SHARE_PERCENT)) / 100;
            let cap = BURST.as_nanos() as i64;
            self.credit_ns = self.credit_ns.saturating_add(refill).min(cap);
        }
        self.refilled = Some(now);
        self.credit_ns >= MIN_CREDIT.as_nanos() as i64
    }

    fn charge(&mut self, spent: Duration) {
        let spent = i64::try_from(spent.as_nanos()).unwrap_or(i64::MAX);
        self.credit_ns = self.credit_ns.saturating_sub(spent);
    }
}

/// Counters of every decision, process-wide.
struct Counts {
    answered: AtomicU64,
    moved: AtomicU64,
    lost: AtomicU64,
    turn_taken: AtomicU64,
    budget: AtomicU64,
    one_worker: AtomicU64,
    files: AtomicU64,
    barred: AtomicU64,
}

static COUNTS: Counts = Counts {
    answered: AtomicU64::new(0),
    moved: AtomicU64::new(0),
    lost: AtomicU64::new(0),
    turn_taken: AtomicU64::new(0),
    budget: AtomicU64::new(0),
    one_worker: AtomicU64::new(0),
    files: AtomicU64::new(0),
    barred: AtomicU64::new(0),
};

/// One labelled count: `(label, calls)`.
pub type Count = (&'static str, u64);

/// `(started, hopped)` counts since the process started, by label, for `/metrics`: started
/// calls by outcome (`answered` in the first poll, `moved` to the pool, `lost` to a panic),
/// hopped ones by reason (`turn_taken`, `budget`, `one_worker`, `files`, `barred`).
pub fn counts() -> ([Count; 3], [Count; 5]) {
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    (
        [
            ("answered", n(&COUNTS.answered)),
            ("moved", n(&COUNTS.moved)),
            ("lost", n(&COUNTS.lost)),
        ],
        [
            ("turn_taken", n(&COUNTS.turn_taken)),
            ("budget", n(&COUNTS.budget)),
            ("one_worker", n(&COUNTS.one_worker)),
            ("files", n(&COUNTS.files)),
            ("barred", n(&COUNTS.barred)),
        ],
    )
}

#[cfg(test)]
mod tests;
