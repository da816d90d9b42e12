//! A receipt for every call: what one sandboxed call (or a whole task) cost — wall time, CPU
//! time, peak linear memory, host calls, outgoing HTTP requests and bytes, log bytes and nested
//! tool calls — and how it is collected.
//!
//! * Per store ([`crate::state::HostState`]): host calls are counted by the store's call hook,
//!   peak memory by the store limiter (every `memory_growing`), log bytes by the `LogBudget`
//!   and HTTP by the egress call budget; [`crate::state::HostState::receipt`] reads them.
//! * CPU: [`Metered`] wraps the call's future and times each poll (see [`Metered`] for how).
//! * Delivery: the sandbox adds each call's receipt to the [`Receipts`] sink its caller gave
//!   it (`Sandbox::with_receipts`); a tool call made while another call is being polled (an
//!   adapter's `tools.call`) finds that call's sink with [`current`] and adds itself to it as a
//!   nested call, so a task's receipt adds up its adapter call and its nested tool calls:
//!   counts and CPU time are summed, the wall time is the adapter call's (it encloses the
//!   others) and the peak memory is the largest single store's, not a sum.
//! * Reporting: [`Receipt::record`] fills the span fields [`SPAN_FIELDS`] of the `tool_call`
//!   and `task` spans; `/metrics` histograms are in `metrics_receipts`; the task's A2A metadata
//!   gets [`Receipt::to_task_json`] under [`METADATA_KEY`].

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The A2A task metadata key holding the task's receipt (an object of [`Receipt::to_json`]).
pub const METADATA_KEY: &str = "molecule.receipt";

/// The span fields [`Receipt::record`] fills; a span must declare them (as
/// `tracing::field::Empty`) when it is created.
pub const SPAN_FIELDS: [&str; 8] = [
    "wall_ms",
    "cpu_ms",
    "peak_memory_bytes",
    "host_calls",
    "http_requests",
    "http_bytes",
    "log_bytes",
    "tool_calls",
];

/// False only to measure what collecting receipts costs (the call benchmark, built once each
/// way): then no call hook is installed and [`Metered`] only forwards polls.
pub(crate) const COLLECT: bool = true;

/// What one call (or one task: its adapter call plus its nested tool calls) cost. Plain
/// counters; [`Receipt::add`] sums two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Wall-clock time from the store's creation to the end of the call (for a task: of its
    /// adapter call, which encloses its nested calls).
    pub wall: Duration,
    /// CPU time of the threads while they polled the call: guest code plus the host work done
    /// for it in those polls (nested calls excluded: they have their own). See [`Metered`].
    pub cpu: Duration,
    /// Largest total linear memory of the call's store, in bytes (for a task: the largest of
    /// its stores').
    pub peak_memory_bytes: u64,
    /// Calls from the guest into the host: imported functions (capabilities, WASI,
    /// `wasi:http`) and the runtime's own builtins (e.g. `memory.grow`).
    pub host_calls: u64,
    /// Outgoing HTTP requests sent (refused ones are not counted).
    pub http_requests: u64,
    /// Outgoing HTTP body bytes: request bodies sent plus response bodies received.
    pub http_bytes: u64,
    /// Bytes of guest output kept: `log` records, stdout and stderr.
    pub log_bytes: u64,
    /// Nested tool calls (a task's adapter calling skills), counted at every depth.
    pub tool_calls: u64,
}

impl Receipt {
    /// Adds `other` (another call of the same unit of work): times and counters are summed,
    /// the peak memory is the larger one.
    pub fn add(&mut self, other: &Receipt) {
        self.wall += other.wall;
        self.absorb(other);
    }

    /// Adds `nested`, a tool call made inside this call: like [`Receipt::add`], except the
    /// wall time (this call's already encloses it) and one more tool call.
    pub fn add_nested(&mut self, nested: &Receipt) {
        self.absorb(nested);
        self.tool_calls += 1;
    }

    fn absorb(&mut self, other: &Receipt) {
        self.cpu += other.cpu;
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.host_calls += other.host_calls;
        self.http_requests += other.http_requests;
        self.http_bytes += other.http_bytes;
        self.log_bytes += other.log_bytes;
        self.tool_calls += other.tool_calls;
    }

    /// The receipt as JSON: `{wall_ms, cpu_ms, peak_memory_bytes, host_calls, http_requests,
    /// http_bytes, log_bytes, tool_calls}`; times in milliseconds (to the microsecond).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "wall_ms": millis(self.wall),
            "cpu_ms": millis(self.cpu),
            "peak_memory_bytes": self.peak_memory_bytes,
            "host_calls": self.host_calls,
            "http_requests": self.http_requests,
            "http_bytes": self.http_bytes,
            "log_bytes": self.log_bytes,
            "tool_calls": self.tool_calls,
        })
    }

    /// The receipt of a task, as its A2A metadata holds it: [`Receipt::to_json`] plus
    /// `waited_ms`, the time the task waited SUBMITTED for an admission slot (a task that
    /// failed `busy` has only that: every other figure is 0).
    pub fn to_task_json(&self, waited: Duration) -> serde_json::Value {
        let mut json = self.to_json();
        json["waited_ms"] = millis(waited).into();
        json
    }

    /// The receipt and wait of a task as [`Receipt::to_task_json`] wrote them (an earlier
    /// execution of a task that paused and resumed); `None` when `json` is not an object.
    /// A missing or non-numeric figure reads as 0 (a damaged record adds nothing).
    pub fn from_task_json(json: &serde_json::Value) -> Option<(Receipt, Duration)> {
        json.as_object()?;
        let ms = |key: &str| {
            let ms = json[key].as_f64().filter(|v| v.is_finite() && *v >= 0.0);
            Duration::try_from_secs_f64(ms.unwrap_or(0.0) / 1000.0).unwrap_or_default()
        };
        let count = |key: &str| json[key].as_u64().unwrap_or(0);
        let receipt = Receipt {
            wall: ms("wall_ms"),
            cpu: ms("cpu_ms"),
            peak_memory_bytes: count("peak_memory_bytes"),
            host_calls: count("host_calls"),
            http_requests: count("http_requests"),
            http_bytes: count("http_bytes"),
            log_bytes: count("log_bytes"),
            tool_calls: count("tool_calls"),
        };
        Some((receipt, ms("waited_ms")))
    }

    /// Records the receipt in `span`'s [`SPAN_FIELDS`] (fields the span did not declare are
    /// ignored by `tracing`).
    pub fn record(&self, span: &tracing::Span) {
        span.record("wall_ms", millis(self.wall));
        span.record("cpu_ms", millis(self.cpu));
        span.record("peak_memory_bytes", self.peak_memory_bytes);
        span.record("host_calls", self.host_calls);
        span.record("http_requests", self.http_requests);
        span.record("http_bytes", self.http_bytes);
        span.record("log_bytes", self.log_bytes);
        span.record("tool_calls", self.tool_calls);
    }
}

/// An INFO span named `$name` with the given display fields and the receipt's
/// [`SPAN_FIELDS`] declared (recorded when the call ends).
macro_rules! receipt_span {
    ($name:literal, $($field:ident = $value:expr),+) => {
        tracing::info_span!(
            $name,
            $($field = %$value,)+
            wall_ms = tracing::field::Empty,
            cpu_ms = tracing::field::Empty,
            peak_memory_bytes = tracing::field::Empty,
            host_calls = tracing::field::Empty,
            http_requests = tracing::field::Empty,
            http_bytes = tracing::field::Empty,
            log_bytes = tracing::field::Empty,
            tool_calls = tracing::field::Empty,
        )
    };
}

/// The `tool_call` span of one skill tool call, with the receipt's [`SPAN_FIELDS`] declared
/// (recorded when the call ends).
pub fn tool_call_span(tool: &str, skill: &str) -> tracing::Span {
    receipt_span!("tool_call", tool = tool, skill = skill)
}

/// The `task` span of one A2A task, with the receipt's [`SPAN_FIELDS`] declared (recorded
/// when the task's adapter call ends).
pub fn task_span(task: &str, adapter: &str) -> tracing::Span {
    receipt_span!("task", task = task, adapter = adapter)
}

/// A duration in milliseconds, rounded to the microsecond.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Where the receipts of a unit of work (a task, one tool call) are summed: the sandbox adds
/// each call it runs for the holder ([`Receipts::add`]), and tool calls made inside those calls
/// add themselves as nested ([`Receipts::add_nested`]). Shared between threads.
///
/// A call also counts as *open* from [`Receipts::open`] until its [`OpenCall`] drops (adding
/// its receipt then, also when the call was dropped unfinished), so a holder that dropped a
/// call running on another thread can wait for its receipt with [`Receipts::settled`].
#[derive(Debug, Default)]
pub struct Receipts {
    total: Mutex<Receipt>,
    open: AtomicU64,
    closed: tokio::sync::Notify,
}

impl Receipts {
    /// An empty sink, shared.
    pub fn new() -> Arc<Receipts> {
        Arc::default()
    }

    /// Adds a call run for the holder.
    pub fn add(&self, receipt: &Receipt) {
        self.lock().add(receipt);
    }

    /// Adds a tool call made inside one of the holder's calls.
    pub fn add_nested(&self, receipt: &Receipt) {
        self.lock().add_nested(receipt);
    }

    /// The sum so far.
    pub fn total(&self) -> Receipt {
        *self.lock()
    }

    /// Marks one call of the holder as running: its receipt is added when the returned
    /// [`OpenCall`] drops (see [`OpenCall::receipt`]).
    pub fn open(self: &Arc<Self>) -> OpenCall {
        self.open.fetch_add(1, Ordering::SeqCst);
        OpenCall {
            sink: self.clone(),
            receipt: Receipt::default(),
        }
    }

    /// Resolves once no call is open: every call opened with [`Receipts::open`] has added its
    /// receipt (a call dropped unfinished on another thread adds it when that thread drops
    /// it). Callers bound the wait.
    pub async fn settled(&self) {
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Receipt> {
        self.total.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One open call of a [`Receipts`] holder: on drop it adds [`OpenCall::receipt`] (whatever
/// was last set: the call's whole receipt, or what it spent until it was stopped) and closes.
#[derive(Debug)]
pub struct OpenCall {
    sink: Arc<Receipts>,
    /// The receipt added at drop; the call updates it as it ends.
    pub receipt: Receipt,
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        self.sink.add(&self.receipt);
        self.sink.open.fetch_sub(1, Ordering::SeqCst);
        self.sink.closed.notify_waiters();
    }
}

/// The CPU time a [`Metered`] future measured, readable after the future is gone (a call cut
/// off by its deadline still has a receipt).
#[derive(Debug, Default)]
pub struct Meter {
    cpu_ns: AtomicU64,
}

impl Meter {
    /// CPU time measured so far.
    pub fn cpu(&self) -> Duration {
        Duration::from_nanos(self.cpu_ns.load(Ordering::Relaxed))
    }
}

thread_local! {
    /// The sink of the call being polled on this thread, while [`Metered`] polls it.
    static CURRENT: RefCell<Option<Arc<Receipts>>> = const { RefCell::new(None) };
    /// Time measured by [`Metered`] polls running inside the current one (nanoseconds), so
    /// that an enclosing call does not count a nested call's time as its own.
    static NESTED: Cell<u64> = const { Cell::new(0) };
}

/// The sink of the call being polled on this thread, if any: a tool call made from inside
/// that call (an adapter's `tools.call`) adds its receipt there as nested.
pub fn current() -> Option<Arc<Receipts>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Wraps a call's future: times each poll into a [`Meter`] and, while polling, makes `sink`
/// the [`current`] one. A plain future adaptor: it composes with whatever polls it (any
/// runtime or thread).
///
/// How CPU time is taken: a read of the thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`) is a
/// system call, about 0.5 µs here, and two per poll would add ~8% to a 13 µs
/// instantiate-and-call. So the **first poll is timed by the wall clock** (it ends at the
/// call's first await or epoch yield, so at most about one 10 ms epoch tick of guest code;
/// a short call is usually done in it, and on an idle thread wall ≈ CPU) and **every later
/// poll by the thread CPU clock** — a spinning guest's CPU is measured exactly from its
/// second slice on. Time measured by metered polls nested inside a poll is subtracted from
/// it.
pub struct Metered<'m, F> {
    inner: F,
    meter: &'m Meter,
    sink: Option<Arc<Receipts>>,
    polled: bool,
}

impl<'m, F> Metered<'m, F> {
    /// `inner`, timed into `meter`, with `sink` as the [`current`] sink while it is polled.
    pub fn new(inner: F, meter: &'m Meter, sink: Option<Arc<Receipts>>) -> Self {
        Metered {
            inner,
            meter,
            sink,
            polled: false,
        }
    }
}

impl<F: Future + Unpin> Future for Metered<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if !COLLECT {
            return Pin::new(&mut this.inner).poll(cx);
        }
        let precise = std::mem::replace(&mut this.polled, true);
        // Puts the outer call's sink and nested time back however this poll ends (a panic
        // caught further up must not leave this call's sink on a server thread).
        let outer = Outer {
            sink: Some(CURRENT.with(|c| c.replace(this.sink.take()))),
            nested: NESTED.with(|n| n.replace(0)),
        };
        let started = Instant::now();
        let cpu_before = if precise { thread_cpu() } else { None };

        let out = Pin::new(&mut this.inner).poll(cx);

        // The CPU clock is read again only when it was read before this poll (a system call).
        let cpu_after = cpu_before.and_then(|before| Some((before, thread_cpu()?)));
        let spent = match cpu_after {
            Some((before, after)) => after.saturating_sub(before),
            None => started.elapsed(),
        };
        let spent = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        let (sink, nested) = outer.restore(spent);
        this.sink = sink;
        this.meter
            .cpu_ns
            .fetch_add(spent.saturating_sub(nested), Ordering::Relaxed);
        out
    }
}

/// What a [`Metered`] poll replaced on its thread: restored by [`Outer::restore`], or on drop
/// when the poll unwinds.
struct Outer {
    sink: Option<Option<Arc<Receipts>>>,
    nested: u64,
}

impl Outer {
    /// Restores the outer sink and nested time, adding `spent` (this poll's time) to the
    /// outer's nested time; returns this call's sink and the nested time measured inside it.
    fn restore(mut self, spent: u64) -> (Option<Arc<Receipts>>, u64) {
        let outer_sink = self.sink.take().flatten();
        let sink = CURRENT.with(|c| c.replace(outer_sink));
        let nested = NESTED.with(|n| n.replace(self.nested.saturating_add(spent)));
        (sink, nested)
    }
}

impl Drop for Outer {
    fn drop(&mut self) {
        if let Some(outer_sink) = self.sink.take() {
            // The panicked call's sink drops after the cell is released.
            let stale = CURRENT.with(|c| c.replace(outer_sink));
            NESTED.with(|n| n.set(self.nested));
            drop(stale);
        }
    }
}

/// CPU time of the calling thread so far, or `None` where there is no per-thread clock.
#[cfg(target_os = "linux")]
pub(crate) fn thread_cpu() -> Option<Duration> {
    #[cfg(test)]
    tests::CLOCK_READS.with(|n| n.set(n.get() + 1));
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec` into memory we own and exclusively borrow;
    // CLOCK_THREAD_CPUTIME_ID is a clock every Linux kernel provides.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    (rc == 0).then(|| Duration::new(secs, nanos))
}

/// CPU time of the calling thread so far, or `None` where there is no per-thread clock.
#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests;
