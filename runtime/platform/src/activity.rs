//! Activity reports (`POST /workspaces/{id}/activity`). [`ActivityReporter::report`] never
//! blocks and never fails: reports go into a bounded in-memory queue drained by a background
//! sender. While the platform is down the sender retries the oldest report with backoff; when
//! the queue is full the oldest report is dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::client::PlatformClient;

/// The contract's activity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    /// We sent an A2A message.
    A2aSend,
    /// We received an A2A message.
    A2aReceive,
    /// A task changed state.
    TaskUpdate,
    /// A log line worth showing.
    AgentLog,
    /// A skill was promoted.
    SkillPromotion,
    /// A memory was written (summary `"[SCOPE] <first 80 chars>"`).
    MemoryWrite,
    /// Something failed.
    Error,
}

/// One activity report. Build with [`Activity::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Type.
    pub activity_type: ActivityType,
    /// Source workspace (defaults to ours).
    pub source_id: Option<String>,
    /// Target workspace, for A2A.
    pub target_id: Option<String>,
    /// JSON-RPC method or tool, when relevant.
    pub method: Option<String>,
    /// One line for humans.
    pub summary: String,
    /// `ok`, `error`, a task state, ….
    pub status: Option<String>,
    /// Error text (secrets redacted by the caller).
    pub error_detail: Option<String>,
    /// Duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// Anything else.
    pub metadata: Option<Value>,
}

impl Activity {
    /// A report of `kind` with `summary`.
    pub fn new(kind: ActivityType, summary: impl Into<String>) -> Activity {
        Activity {
            activity_type: kind,
            source_id: None,
            target_id: None,
            method: None,
            summary: summary.into(),
            status: None,
            error_detail: None,
            duration_ms: None,
            metadata: None,
        }
    }
    /// Sets the target workspace.
    pub fn target(mut self, id: impl Into<String>) -> Self {
        self.target_id = Some(id.into());
        self
    }
    /// Sets the source workspace (default: ours).
    pub fn source(mut self, id: impl Into<String>) -> Self {
        self.source_id = Some(id.into());
        self
    }
    /// Sets the method.
    pub fn method(mut self, m: impl Into<String>) -> Self {
        self.method = Some(m.into());
        self
    }
    /// Sets the status.
    pub fn status(mut self, s: impl Into<String>) -> Self {
        self.status = Some(s.into());
        self
    }
    /// Sets the error detail.
    pub fn error(mut self, e: impl Into<String>) -> Self {
        self.error_detail = Some(e.into());
        self
    }
    /// Sets the duration.
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration_ms = Some(d.as_millis() as u64);
        self
    }
    /// Sets the metadata.
    pub fn metadata(mut self, m: Value) -> Self {
        self.metadata = Some(m);
        self
    }

    /// The wire body: every contract field present (`null` when unset), `source_id` defaulted.
    pub fn to_wire(&self, own_id: &str) -> Value {
        json!({
            "activity_type": self.activity_type,
            "source_id": self.source_id.as_deref().unwrap_or(own_id),
            "target_id": self.target_id,
            "method": self.method,
            "summary": self.summary,
            "status": self.status,
            "error_detail": self.error_detail,
            "duration_ms": self.duration_ms,
            "metadata": self.metadata,
        })
    }
}

/// Queue size and retry pacing of an [`ActivityReporter`].
#[derive(Debug, Clone, Copy)]
pub struct ActivityConfig {
    /// Reports held while the platform is unreachable (default 1000).
    pub capacity: usize,
    /// First wait after a failed send (default 500 ms).
    pub retry_min: Duration,
    /// Longest wait between failed sends (default 30 s).
    pub retry_max: Duration,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            capacity: 1000,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// Counters of an [`ActivityReporter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityStats {
    /// Reports waiting to be sent.
    pub queued: usize,
    /// Reports the platform accepted.
    pub sent: u64,
    /// Oldest reports dropped because the queue was full.
    pub dropped: u64,
    /// Reports the platform refused with a 4xx (not retried).
    pub rejected: u64,
}

struct Shared {
    queue: Mutex<VecDeque<Activity>>,
    wake: Notify,
    idle: Notify,
    capacity: usize,
    sent: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
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
    own_id: String,
    _task: Arc<AbortOnDrop>,
}

impl ActivityReporter {
    /// Starts the background sender on the current tokio runtime.
    pub fn spawn(client: PlatformClient, config: ActivityConfig) -> ActivityReporter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            idle: Notify::new(),
            capacity: config.capacity.max(1),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        });
        let own_id = client.workspace_id().to_string();
        let task = tokio::spawn(run(client, shared.clone(), config));
        ActivityReporter {
            shared,
            own_id,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Queues a report of `kind` with `summary` (and nothing else).
    pub fn report(&self, kind: ActivityType, summary: impl Into<String>) {
        self.submit(Activity::new(kind, summary));
    }

    /// Queues a full report. Never blocks; drops the oldest report when the queue is full.
    pub fn submit(&self, activity: Activity) {
        let mut q = self.shared.queue.lock().expect("activity queue");
        if q.len() >= self.shared.capacity {
            q.pop_front();
            let n = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_power_of_two() {
                tracing::warn!(dropped = n, workspace = %self.own_id, "activity queue full (platform unreachable?): dropping oldest reports");
            }
        }
        q.push_back(activity);
        drop(q);
        self.shared.wake.notify_one();
    }

    /// Current counters.
    pub fn stats(&self) -> ActivityStats {
        ActivityStats {
            queued: self.shared.queue.lock().expect("activity queue").len(),
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            rejected: self.shared.rejected.load(Ordering::Relaxed),
        }
    }

    /// Waits until the queue is empty or `timeout` passes; true when empty.
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

async fn run(client: PlatformClient, shared: Arc<Shared>, config: ActivityConfig) {
    let mut wait = config.retry_min;
    let mut failing = false;
    loop {
        let next = shared
            .queue
            .lock()
            .expect("activity queue")
            .front()
            .cloned();
        let Some(activity) = next else {
            shared.idle.notify_waiters();
            shared.wake.notified().await;
            continue;
        };
        match client.post_activity(&activity).await {
            Ok(()) => {
                pop_if_same(&shared, &activity);
                shared.sent.fetch_add(1, Ordering::Relaxed);
                if failing {
                    tracing::info!("activity reports flowing again");
                }
                failing = false;
                wait = config.retry_min;
            }
            Err(e) if e.is_retryable() => {
                if !failing {
                    tracing::warn!(error = %e, "activity report failed; keeping reports queued and retrying");
                }
                failing = true;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(config.retry_max);
            }
            Err(e) => {
                pop_if_same(&shared, &activity);
                shared.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "platform refused an activity report; dropped it");
            }
        }
    }
}

/// Removes the front report if it is still the one just handled (it may have been dropped by
/// an overflowing `submit` meanwhile).
fn pop_if_same(shared: &Shared, activity: &Activity) {
    let mut q = shared.queue.lock().expect("activity queue");
    if q.front() == Some(activity) {
        q.pop_front();
    }
}
