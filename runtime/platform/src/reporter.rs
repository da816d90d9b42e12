//! [`ActivityReporter`]: activity reports that never block and never fail the caller. Reports
//! go into a bounded in-memory queue; a background sender takes them in batches and sends each
//! batch over a few concurrent requests (the contract has no batch endpoint: one report, one
//! `POST`). While the platform fails (transport errors, 5xx, 429, or a 401/403 until the
//! workspace has registered again) the failed reports go back to the front of the queue and the
//! sender waits with backoff. When the queue is full the oldest report is dropped and counted;
//! drops and refusals are reported by one summarising warning per period (see `summary.rs`),
//! naming the cause, and counted for `/metrics` through [`ActivityCounters`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::activity::{Activity, ActivityType};
use crate::client::PlatformClient;
use crate::error::PlatformError;
use crate::summary::Summary;

/// Queue size, batching and retry pacing of an [`ActivityReporter`].
#[derive(Debug, Clone, Copy)]
pub struct ActivityConfig {
    /// Reports held waiting to be sent (default 1000); beyond it the oldest is dropped.
    pub capacity: usize,
    /// First wait after a failed round (default 500 ms).
    pub retry_min: Duration,
    /// Longest wait between failed rounds (default 30 s).
    pub retry_max: Duration,
    /// Reports taken from the queue per round (default 64).
    pub batch: usize,
    /// Requests in flight at once within a round (default 8).
    pub concurrency: usize,
    /// At most one warning about dropped or refused reports per this period (default 30 s);
    /// the first comes at once.
    pub summary_every: Duration,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            capacity: 1000,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            batch: 64,
            concurrency: 8,
            summary_every: Duration::from_secs(30),
        }
    }
}

/// Counters of an [`ActivityReporter`]. `submitted = sent + dropped + rejected + queued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityStats {
    /// Reports waiting to be sent or being sent.
    pub queued: usize,
    /// Reports handed to the reporter.
    pub submitted: u64,
    /// Reports the platform accepted.
    pub sent: u64,
    /// Oldest reports dropped because the queue was full.
    pub dropped: u64,
    /// Reports the platform refused with a 4xx other than 401/403/429 (not retried).
    pub rejected: u64,
}

struct Shared {
    queue: Mutex<VecDeque<Activity>>,
    /// Reports taken out of the queue by the round in progress.
    in_flight: AtomicUsize,
    wake: Notify,
    idle: Notify,
    capacity: usize,
    submitted: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Activity>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    fn stats(&self) -> ActivityStats {
        let queued = self.queue().len() + self.in_flight.load(Ordering::Acquire);
        ActivityStats {
            queued,
            submitted: self.submitted.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

/// A read-only view of a reporter's counters (for `/metrics`); it does not keep the sender
/// running.
#[derive(Clone)]
pub struct ActivityCounters(Arc<Shared>);

impl ActivityCounters {
    /// Current counters (a short lock of the queue to read its length).
    pub fn stats(&self) -> ActivityStats {
        self.0.stats()
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Non-blocking activity reporting. Clones share one queue; the sender stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct ActivityReporter {
    shared: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

impl ActivityReporter {
    /// Starts the background sender on the current tokio runtime.
    pub fn spawn(client: PlatformClient, config: ActivityConfig) -> ActivityReporter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            in_flight: AtomicUsize::new(0),
            wake: Notify::new(),
            idle: Notify::new(),
            capacity: config.capacity.max(1),
            submitted: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(client, shared.clone(), config));
        ActivityReporter {
            shared,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Queues a report of `kind` with `summary` (and nothing else).
    pub fn report(&self, kind: ActivityType, summary: impl Into<String>) {
        self.submit(Activity::new(kind, summary));
    }

    /// Queues a full report. Never blocks and never logs; drops (and counts) the oldest report
    /// when the queue is full.
    pub fn submit(&self, activity: Activity) {
        self.shared.submitted.fetch_add(1, Ordering::Relaxed);
        let mut q = self.shared.queue();
        if q.len() >= self.shared.capacity {
            q.pop_front();
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(activity);
        drop(q);
        self.shared.wake.notify_one();
    }

    /// Current counters.
    pub fn stats(&self) -> ActivityStats {
        self.shared.stats()
    }

    /// The counters alone, for a metrics registry that must not keep the sender alive.
    pub fn counters(&self) -> ActivityCounters {
        ActivityCounters(self.shared.clone())
    }

    /// Waits until every queued report was sent (or refused) or `timeout` passes; true when
    /// nothing is left.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let idle = self.shared.idle.notified();
            if self.stats().queued == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.stats().queued == 0;
            }
        }
    }
}

/// The sender: rounds of up to `batch` reports until the queue is empty, backing off while the
/// platform fails.
async fn run(client: PlatformClient, shared: Arc<Shared>, config: ActivityConfig) {
    let workspace = client.workspace_id().to_owned();
    let mut summary = Summary::new(config.summary_every, workspace.clone());
    let mut wait = config.retry_min;
    let mut failing = false;
    loop {
        let batch = take(&shared, config.batch.max(1));
        if batch.is_empty() {
            shared.idle.notify_waiters();
            match summary.due(shared.dropped(), shared.rejected()) {
                Some(at) => {
                    tokio::select! {
                        _ = shared.wake.notified() => {}
                        _ = tokio::time::sleep_until(at.into()) => {}
                    }
                }
                None => shared.wake.notified().await,
            }
            summary.log_if_due(shared.dropped(), shared.rejected(), shared.capacity);
            continue;
        }
        let round = send_round(&client, batch, config.concurrency.max(1)).await;
        shared.sent.fetch_add(round.sent, Ordering::Relaxed);
        shared.rejected.fetch_add(round.rejected, Ordering::Relaxed);
        if let Some(refusal) = &round.refusal {
            summary.refused(refusal);
        }
        let failure = round.failure.clone();
        requeue(&shared, round.retry);
        match failure {
            None => {
                if failing {
                    tracing::info!(%workspace, "activity reports flowing again");
                }
                failing = false;
                wait = config.retry_min;
                summary.log_if_due(shared.dropped(), shared.rejected(), shared.capacity);
            }
            Some(err) => {
                if !failing {
                    tracing::warn!(%workspace, error = %err, "activity reports failed; keeping them queued and retrying with backoff (logged once per outage)");
                }
                failing = true;
                summary.failed(&err);
                summary.log_if_due(shared.dropped(), shared.rejected(), shared.capacity);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(config.retry_max);
            }
        }
    }
}

/// Takes up to `n` reports from the front of the queue (they count as queued while in flight).
fn take(shared: &Shared, n: usize) -> Vec<Activity> {
    let mut q = shared.queue();
    let n = n.min(q.len());
    shared.in_flight.store(n, Ordering::Release);
    q.drain(..n).collect()
}

/// Puts reports that must be retried back at the front of the queue, oldest first. If newer
/// reports filled the queue meanwhile, the oldest — these — are dropped and counted.
fn requeue(shared: &Shared, retry: Vec<Activity>) {
    let mut q = shared.queue();
    let room = shared.capacity.saturating_sub(q.len());
    let drop_n = retry.len().saturating_sub(room);
    shared.dropped.fetch_add(drop_n as u64, Ordering::Relaxed);
    for a in retry.into_iter().skip(drop_n).rev() {
        q.push_front(a);
    }
    shared.in_flight.store(0, Ordering::Release);
}

/// What one round did.
#[derive(Default)]
struct Round {
    sent: u64,
    rejected: u64,
    /// Reports to send again, in their original order.
    retry: Vec<Activity>,
    /// The failure that stopped the round (it is retried), as text.
    failure: Option<String>,
    /// The last refusal (not retried), as text.
    refusal: Option<String>,
}

/// True for failures worth retrying: the platform is down or busy, or refuses the token until
/// the heartbeat loop has registered again.
fn keep_for_retry(e: &PlatformError) -> bool {
    e.is_retryable() || e.is_auth_rejected() || e.status() == Some(429)
}

/// Sends `batch` with at most `concurrency` requests in flight. After the first failure worth
/// retrying no new request starts; the unsent reports are retried with the failed ones.
async fn send_round(client: &PlatformClient, batch: Vec<Activity>, concurrency: usize) -> Round {
    let mut round = Round::default();
    let mut pending = batch.into_iter().enumerate();
    let mut set = JoinSet::new();
    let mut retry: Vec<(usize, Activity)> = Vec::new();
    let start = |set: &mut JoinSet<_>, (i, a): (usize, Activity)| {
        let client = client.clone();
        set.spawn(async move {
            let result = client.post_activity(&a).await;
            (i, a, result)
        });
    };
    for item in pending.by_ref().take(concurrency) {
        start(&mut set, item);
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((_, _, Ok(()))) => round.sent += 1,
            Ok((i, a, Err(e))) if keep_for_retry(&e) => {
                round.failure = Some(e.to_string());
                retry.push((i, a));
            }
            Ok((_, _, Err(e))) => {
                round.rejected += 1;
                round.refusal = Some(e.to_string());
            }
            Err(e) => {
                round.rejected += 1;
                round.refusal = Some(format!("the sending task ended: {e}"));
            }
        }
        if round.failure.is_none() {
            if let Some(item) = pending.next() {
                start(&mut set, item);
            }
        }
    }
    retry.extend(pending);
    retry.sort_by_key(|(i, _)| *i);
    round.retry = retry.into_iter().map(|(_, a)| a).collect();
    round
}
