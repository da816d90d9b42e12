//! The guest pool: where guest code runs, never on the threads that accept and answer HTTP
//! (but for the first poll of an MCP tool call, see [`start_here`](super::start_here)).
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
//! A call a client waits for (an MCP `tools/call`) may run its first poll on the thread that
//! received it instead: see [`start_here`](super::start_here).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
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

/// Epoch yields on this thread so far.
pub(super) fn yields() -> u64 {
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
pub(super) async fn run_from<T, F>(call: F, ticks: u64) -> Option<T>
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

/// Enters the interactive lane's runtime context on this thread (timers, I/O and spawns
/// made meanwhile belong to it) until the guard drops.
pub(super) fn enter_interactive() -> tokio::runtime::EnterGuard<'static> {
    pool().interactive.enter()
}

/// Drops `value` on a thread of the interactive lane (what a lost call holds, such as a
/// store's memory, is freed there rather than on the caller's thread).
pub(super) fn drop_there<T: Send + 'static>(value: T) {
    pool().interactive.spawn(async move { drop(value) });
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
}
