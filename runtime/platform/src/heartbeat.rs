//! [`HeartbeatLoop`]: beats every `interval` on a fixed schedule and at once when poked (task
//! start and end). It survives platform outages (one warning per outage, the schedule is kept,
//! beats resume when the platform returns), registers again when the platform has forgotten
//! the workspace, and publishes the latest `platform_inbound_secret` on a watch channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::time::MissedTickBehavior;

use crate::client::PlatformClient;
use crate::error::PlatformError;
use crate::types::Heartbeat;

/// What the host reports in each beat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatStatus {
    /// Share of recent tasks that failed, 0.0–1.0.
    pub error_rate: f64,
    /// One recent error message, secrets redacted.
    pub sample_error: Option<String>,
    /// Tasks running now.
    pub active_tasks: u32,
    /// What the current task is about.
    pub current_task: Option<String>,
    /// The runtime reported itself stuck (sent as `runtime_state: "wedged"`).
    pub wedged: bool,
    /// `{capabilities, idle_timeout_seconds?}`.
    pub runtime_metadata: Option<Value>,
}

/// Implemented by the host: the state to report in the next beat.
pub trait HeartbeatSource: Send + Sync + 'static {
    /// A snapshot of the runtime's state, taken just before each beat.
    fn status(&self) -> HeartbeatStatus;
}

impl<F> HeartbeatSource for F
where
    F: Fn() -> HeartbeatStatus + Send + Sync + 'static,
{
    fn status(&self) -> HeartbeatStatus {
        self()
    }
}

/// Counters and recent send times of a running loop.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatStats {
    /// Beats the platform accepted.
    pub sent: u64,
    /// Beats that failed (outage, 5xx, …).
    pub failed: u64,
    /// Re-registrations after the platform forgot the workspace.
    pub reregistered: u64,
    /// When each of the last 1024 beats was started (scheduled and poked).
    pub send_times: Vec<Instant>,
}

/// A heartbeat loop, not yet running. Start it with [`HeartbeatLoop::spawn`].
pub struct HeartbeatLoop {
    client: PlatformClient,
    source: Arc<dyn HeartbeatSource>,
    interval: Duration,
    started: Instant,
}

impl HeartbeatLoop {
    /// A loop for `client` beating every `interval` (already clamped to 5–300 s by the config;
    /// tests may pass less). Uptime counts from now unless [`HeartbeatLoop::started_at`] says.
    pub fn new(
        client: PlatformClient,
        source: Arc<dyn HeartbeatSource>,
        interval: Duration,
    ) -> HeartbeatLoop {
        HeartbeatLoop {
            client,
            source,
            interval: interval.max(Duration::from_millis(1)),
            started: Instant::now(),
        }
    }

    /// When the runtime started, for `uptime_seconds`.
    pub fn started_at(mut self, started: Instant) -> Self {
        self.started = started;
        self
    }

    /// Starts the loop on the current tokio runtime; the first beat goes out at once.
    pub fn spawn(self) -> HeartbeatHandle {
        let shared = Arc::new(LoopShared {
            poke: Notify::new(),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            reregistered: AtomicU64::new(0),
            times: Mutex::new(Vec::new()),
        });
        let secret = self.client.inbound_secret();
        let task = tokio::spawn(run(self, shared.clone()));
        HeartbeatHandle {
            shared,
            secret,
            task,
        }
    }
}

struct LoopShared {
    poke: Notify,
    sent: AtomicU64,
    failed: AtomicU64,
    reregistered: AtomicU64,
    times: Mutex<Vec<Instant>>,
}

/// Controls a running heartbeat loop; dropping it stops the loop.
pub struct HeartbeatHandle {
    shared: Arc<LoopShared>,
    secret: watch::Receiver<Option<String>>,
    task: tokio::task::JoinHandle<()>,
}

/// A cloneable way to poke the loop from task code.
#[derive(Clone)]
pub struct HeartbeatPoker(Arc<LoopShared>);

impl HeartbeatPoker {
    /// Sends a beat now (task started or ended). Pokes during a beat coalesce into one more.
    pub fn poke(&self) {
        self.0.poke.notify_one();
    }
}

impl HeartbeatHandle {
    /// Sends a beat now.
    pub fn poke(&self) {
        self.shared.poke.notify_one();
    }
    /// A cloneable poker for task code.
    pub fn poker(&self) -> HeartbeatPoker {
        HeartbeatPoker(self.shared.clone())
    }
    /// The latest inbound secret from the platform (register or heartbeat answers).
    pub fn inbound_secret(&self) -> watch::Receiver<Option<String>> {
        self.secret.clone()
    }
    /// Counters and recent send times.
    pub fn stats(&self) -> HeartbeatStats {
        HeartbeatStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            reregistered: self.shared.reregistered.load(Ordering::Relaxed),
            send_times: self.shared.times.lock().expect("times").clone(),
        }
    }
    /// Stops the loop.
    pub fn stop(self) {}
}

impl Drop for HeartbeatHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(lp: HeartbeatLoop, shared: Arc<LoopShared>) {
    let mut ticker = tokio::time::interval(lp.interval);
    // Keep the grid: after a long outage, skip missed beats instead of bursting them.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // A beat must not outlive its slot, so a hung platform cannot stall the schedule.
    let budget = lp
        .interval
        .clamp(Duration::from_millis(100), Duration::from_secs(10));
    let mut outage: Option<(Instant, u64)> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shared.poke.notified() => {}
        }
        {
            let mut times = shared.times.lock().expect("times");
            if times.len() >= 1024 {
                times.remove(0);
            }
            times.push(Instant::now());
        }
        let result = beat(&lp, &shared, budget).await;
        match result {
            Ok(()) => {
                shared.sent.fetch_add(1, Ordering::Relaxed);
                if let Some((since, missed)) = outage.take() {
                    tracing::info!(down_for = ?since.elapsed(), failed_beats = missed, "platform reachable again; heartbeats resumed");
                }
            }
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                match &mut outage {
                    None => {
                        tracing::warn!(error = %e, "heartbeat failed; the workspace keeps serving and retries on schedule (logged once per outage)");
                        outage = Some((Instant::now(), 1));
                    }
                    Some((_, n)) => {
                        *n += 1;
                        tracing::debug!(error = %e, "heartbeat still failing");
                    }
                }
            }
        }
    }
}

async fn beat(
    lp: &HeartbeatLoop,
    shared: &LoopShared,
    budget: Duration,
) -> Result<(), PlatformError> {
    let payload = payload(lp);
    match timed(budget, lp.client.heartbeat(&payload)).await {
        Err(PlatformError::UnknownWorkspace { .. }) => {
            tracing::warn!(workspace = %lp.client.workspace_id(), "the platform forgot this workspace; registering again");
            timed(budget, lp.client.reregister()).await?;
            shared.reregistered.fetch_add(1, Ordering::Relaxed);
            timed(budget, lp.client.heartbeat(&payload))
                .await
                .map(|_| ())
        }
        other => other.map(|_| ()),
    }
}

async fn timed<T>(
    budget: Duration,
    fut: impl std::future::Future<Output = Result<T, PlatformError>>,
) -> Result<T, PlatformError> {
    tokio::time::timeout(budget, fut).await.unwrap_or_else(|_| {
        Err(PlatformError::Transport {
            call: "heartbeat",
            url: String::new(),
            detail: format!("no answer within {budget:?}"),
        })
    })
}

fn payload(lp: &HeartbeatLoop) -> Heartbeat {
    let s = lp.source.status();
    Heartbeat {
        workspace_id: lp.client.workspace_id().to_string(),
        error_rate: if s.error_rate.is_finite() {
            s.error_rate.clamp(0.0, 1.0)
        } else {
            0.0
        },
        sample_error: s.sample_error.unwrap_or_default(),
        active_tasks: s.active_tasks,
        current_task: s.current_task.unwrap_or_default(),
        uptime_seconds: lp.started.elapsed().as_secs(),
        runtime_state: s.wedged.then(|| "wedged".to_string()),
        runtime_metadata: s.runtime_metadata,
    }
}
