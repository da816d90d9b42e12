//! The guest pool: where guest code runs, never on the threads that accept and answer HTTP
//! (but for the first poll of an MCP tool call, see "Starting here" below).
//! Two tokio runtimes of their own, on their own threads, below the server's OS priority:
//!
//! * the **interactive** lane (threads `molecule-guest`, nice [`INTERACTIVE_NICE`]): every call
//!   starts here;
//! * the **batch** lane (threads `molecule-guest-batch`, nice [`BATCH_NICE`], the lowest): a
//!   call moves here once it has run wasm through [`SLICE_TICKS`] epoch ticks (about
//!   `SLICE_TICKS` × 10 ms of guest CPU), so CPU-bound guests share what the server and short
//!   calls leave over.
//!
//! A call moves only right after it returned `Pending` because of an epoch yield (the store's
//! epoch callback calls [`note_epoch_yield`]): its driver is then spawned on the batch
//! runtime, which polls it again at once. Timers and I/O the call created on the interactive
//! runtime keep working there, since both runtimes live as long as the process. The caller
//! awaits the result over a channel; dropping the caller (a cancelled task) drops the call.
//!
//! **Starting here.** A call made inside [`starting_here`] (an MCP `tools/call`: one tool call
//! a client waits for) is first polled on the thread that asked, inside the interactive lane's
//! runtime context, so a short call answers without the two cross-thread wake-ups of a hop
//! (≈ 85 µs on a 2-vCPU VM, most of an MCP round trip). At most [`MAX_STARTING_HERE`] call
//! does so at any time, and only until it first returns `Pending` (it waits for I/O or a
//! timer, or ran wasm up to the next epoch tick, ≤ one tick): from then on it runs in the pool
//! like any other. So guest code holds at most one of the server's threads, for at most one
//! tick per call; every other call hops as before.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Runtime};
use tokio::sync::oneshot;

/// OS priority (nice) of the interactive lane's threads; the server's threads stay at 0.
pub const INTERACTIVE_NICE: i32 = 4;
/// OS priority (nice) of the batch lane's threads: the lowest.
pub const BATCH_NICE: i32 = 19;
/// Epoch ticks of wasm a call may run in the interactive lane before it moves to batch.
pub const SLICE_TICKS: u64 = 3;

/// Name of the interactive lane's threads.
pub const INTERACTIVE_THREAD: &str = "molecule-guest";
/// Name of the batch lane's threads.
pub const BATCH_THREAD: &str = "molecule-guest-batch";

/// Which lane a call runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Interactive,
    Batch,
}

/// The two runtimes; built on first use and never dropped.
struct GuestPool {
    interactive: Runtime,
    batch: Runtime,
}

fn pool() -> &'static GuestPool {
    static POOL: OnceLock<GuestPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        GuestPool {
            interactive: lane_runtime(INTERACTIVE_THREAD, threads, INTERACTIVE_NICE),
            batch: lane_runtime(BATCH_THREAD, threads, BATCH_NICE),
        }
    })
}

/// A multi-threaded runtime whose threads (workers and blocking) run at `nice`.
fn lane_runtime(name: &'static str, threads: usize, nice: i32) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .on_thread_start(move || lower_priority(nice))
        .enable_all()
        .build()
        // Only fails when the OS refuses threads; nothing can run guests then.
        .unwrap_or_else(|e| panic!("cannot start the guest pool ({name}): {e}"))
}

/// Lowers the calling thread's OS priority to `nice` (Linux: per thread).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take and return plain integers and touch no memory
        // of ours; on Linux PRIO_PROCESS with a thread id changes that thread alone.
        let failed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) != 0
        };
        if failed {
            tracing::debug!(nice, "could not lower the guest thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

thread_local! {
    /// Epoch yields on this thread so far (the driver reads the change around each poll).
    static YIELDS: Cell<u64> = const { Cell::new(0) };
}

/// Called by a store's epoch callback when it yields: the call ran wasm through a tick.
pub fn note_epoch_yield() {
    YIELDS.with(|y| y.set(y.get().wrapping_add(1)));
}

fn yields() -> u64 {
    YIELDS.with(Cell::get)
}

/// True on a thread of the guest pool (either lane).
pub fn on_guest_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n == INTERACTIVE_THREAD || n == BATCH_THREAD)
}

/// Runs `call` on the guest pool (starting in the interactive lane) and returns its output.
/// `None` when the call was lost: it panicked, or the pool is shutting down. Dropping the
/// returned future drops the call at its next poll.
pub async fn run<T, F>(call: F) -> Option<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    run_from(call, 0).await
}

/// [`run`] for a call that already ran `ticks` epoch ticks of wasm (counted towards its
/// interactive slice).
async fn run_from<T, F>(call: F, ticks: u64) -> Option<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (mut tx, rx) = oneshot::channel();
    let job = async move {
        let out = tokio::select! {
            out = call => Some(out),
            _ = tx.closed() => None,
        };
        if let Some(out) = out {
            let _ = tx.send(out);
        }
    };
    pool().interactive.spawn(Driver {
        job: Some(Box::pin(job)),
        lane: Lane::Interactive,
        ticks,
    });
    rx.await.ok()
}

/// Calls that may run their first poll on the asking thread at the same time.
pub const MAX_STARTING_HERE: usize = 1;

/// Calls running their first poll outside the pool right now.
static STARTED_HERE: AtomicUsize = AtomicUsize::new(0);

tokio::task_local! {
    /// Set by [`starting_here`]: the sandbox calls of this task may start on its thread.
    static START_HERE: ();
}

/// Runs `fut` so that the sandbox calls it makes from outside the pool use
/// [`run_starting_here`] instead of [`run`]: for a caller that makes one short call and waits
/// for it (MCP `tools/call`).
pub fn starting_here<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    START_HERE.scope((), fut)
}

/// True inside [`starting_here`].
pub fn may_start_here() -> bool {
    START_HERE.try_with(|_| ()).is_ok()
}

/// Runs `call` like [`run`], but first polls it once on this thread (inside the interactive
/// lane's runtime context, so timers and I/O it creates belong to the pool) when fewer than
/// [`MAX_STARTING_HERE`] calls do so now. Ready at once: its output, with no hop. Pending (it
/// waits, or an epoch tick made it yield): it moves to the pool, which polls it again at once.
/// `None`, as from [`run`], when the call panicked.
pub async fn run_starting_here<T, F>(call: F) -> Option<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let Some(turn) = StartTurn::take() else {
        return run(call).await;
    };
    let mut call = Box::pin(call);
    let before = yields();
    let polled = std::future::poll_fn(|cx| {
        let _context = pool().interactive.enter();
        // A panic in the host is the call's loss, as on the pool: not the caller's.
        let poll = std::panic::AssertUnwindSafe(|| call.as_mut().poll(cx));
        Poll::Ready(std::panic::catch_unwind(poll))
    })
    .await;
    let ticks = yields().wrapping_sub(before);
    drop(turn);
    match polled {
        Ok(Poll::Ready(out)) => Some(out),
        Ok(Poll::Pending) => run_from(call, ticks).await,
        Err(_) => None,
    }
}

/// One of the [`MAX_STARTING_HERE`] turns; given back when dropped.
struct StartTurn(());

impl StartTurn {
    fn take() -> Option<StartTurn> {
        STARTED_HERE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_STARTING_HERE).then_some(n + 1)
            })
            .ok()
            .map(|_| StartTurn(()))
    }
}

impl Drop for StartTurn {
    fn drop(&mut self) {
        STARTED_HERE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Polls one call and moves it to the batch lane once it used its interactive slice.
struct Driver {
    job: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    lane: Lane,
    ticks: u64,
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(job) = this.job.as_mut() else {
            return Poll::Ready(());
        };
        let before = yields();
        if job.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let yielded = yields().wrapping_sub(before);
        if this.lane == Lane::Interactive && yielded > 0 {
            this.ticks += yielded;
            if this.ticks >= SLICE_TICKS {
                // Pending because of an epoch yield: the batch runtime polls it again at once.
                if let Some(job) = this.job.take() {
                    pool().batch.spawn(Driver {
                        job: Some(job),
                        lane: Lane::Batch,
                        ticks: this.ticks,
                    });
                }
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_on_a_pool_thread_and_returns() {
        let name = run(async { std::thread::current().name().map(str::to_owned) }).await;
        assert_eq!(name.flatten().as_deref(), Some(INTERACTIVE_THREAD));
        assert!(!on_guest_thread());
    }

    #[tokio::test]
    async fn a_call_that_keeps_yielding_moves_to_the_batch_lane() {
        let lanes = run(async {
            let mut seen = Vec::new();
            for _ in 0..(SLICE_TICKS + 2) {
                seen.push(std::thread::current().name().map(str::to_owned));
                note_epoch_yield();
                tokio::task::yield_now().await;
            }
            seen
        })
        .await
        .expect("the call returns");
        assert_eq!(lanes[0].as_deref(), Some(INTERACTIVE_THREAD));
        assert_eq!(lanes.last().unwrap().as_deref(), Some(BATCH_THREAD));
    }

    #[tokio::test]
    async fn dropping_the_caller_drops_the_call() {
        let (tx, rx) = oneshot::channel::<()>();
        let call = run(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        });
        let _ = tokio::time::timeout(std::time::Duration::from_millis(10), call).await;
        // The call's side of the channel is dropped with the call.
        assert!(rx.await.is_err());
    }

    /// The starting-here turns are process-wide: these tests take them one at a time.
    static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    #[tokio::test]
    async fn a_call_that_is_ready_at_once_answers_on_the_asking_thread() {
        let _turns = TURNS.lock().await;
        let here = thread_name();
        let name = starting_here(async {
            assert!(may_start_here());
            run_starting_here(async { thread_name() }).await
        })
        .await;
        assert_eq!(name.flatten(), here);
        assert!(!may_start_here());
        assert_eq!(
            STARTED_HERE.load(Ordering::Acquire),
            0,
            "the turn is given back"
        );
    }

    #[tokio::test]
    async fn a_call_that_yields_moves_to_the_pool_with_its_ticks() {
        let _turns = TURNS.lock().await;
        let here = thread_name();
        let seen = run_starting_here(async {
            let mut seen = Vec::new();
            for _ in 0..(SLICE_TICKS + 2) {
                seen.push(thread_name());
                note_epoch_yield();
                tokio::task::yield_now().await;
            }
            seen
        })
        .await
        .expect("the call returns");
        assert_eq!(seen[0], here, "first poll on the asking thread");
        assert_eq!(seen[1].as_deref(), Some(INTERACTIVE_THREAD));
        // The tick of the first poll counts: batch after SLICE_TICKS yields in all.
        assert_eq!(seen[SLICE_TICKS as usize].as_deref(), Some(BATCH_THREAD));
    }

    #[tokio::test]
    async fn what_the_first_poll_spawns_belongs_to_the_pool() {
        let _turns = TURNS.lock().await;
        let spawned = run_starting_here(async { tokio::spawn(async { thread_name() }) })
            .await
            .expect("the call returns")
            .await
            .expect("the spawned task");
        assert_eq!(spawned.as_deref(), Some(INTERACTIVE_THREAD));
    }

    #[tokio::test]
    async fn a_panic_in_the_first_poll_loses_the_call_not_the_caller() {
        let _turns = TURNS.lock().await;
        let lost = run_starting_here(async {
            if thread_name().is_some() {
                panic!("host bug");
            }
        })
        .await;
        assert!(lost.is_none());
        assert!(StartTurn::take().is_some(), "the turn is given back");
    }

    #[tokio::test]
    async fn with_no_turn_left_a_call_hops_as_before() {
        let _turns = TURNS.lock().await;
        let held: Vec<_> = (0..MAX_STARTING_HERE)
            .filter_map(|_| StartTurn::take())
            .collect();
        assert_eq!(held.len(), MAX_STARTING_HERE);
        assert!(StartTurn::take().is_none());
        let name = run_starting_here(async { thread_name() }).await;
        assert_eq!(name.flatten().as_deref(), Some(INTERACTIVE_THREAD));
        drop(held);
        assert!(StartTurn::take().is_some(), "turns come back when dropped");
    }
}
