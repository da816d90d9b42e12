//! [`HeartbeatLoop`]: beats every `interval` on a fixed schedule and soon after a poke (task
//! start and end), pokes coalesced to at most one beat per `min_gap` (1 s) so a busy workspace
//! does not beat once per task. It survives platform outages (one warning per outage, the
//! schedule is kept, beats resume when the platform returns), registers again — with backoff —
//! when the platform forgot the workspace (404) or refuses its token (401/403, a platform
//! restarted with empty state), and publishes the latest `platform_inbound_secret` on a watch
//! channel. The loop itself is in `heartbeat_run.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{watch, Notify};

use crate::backoff::Backoff;
use crate::client::PlatformClient;
use crate::heartbeat_run::{LoopShared, RunSettings};
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
    min_gap: Duration,
    register_backoff: Backoff,
}

/// Default shortest time between two poked beats.
pub const DEFAULT_MIN_GAP: Duration = Duration::from_secs(1);

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
            min_gap: DEFAULT_MIN_GAP,
            register_backoff: Backoff::REGISTER,
        }
    }

    /// The shortest time between a beat and the next poked one (default 1 s): pokes within it
    /// coalesce into one beat at its end. Scheduled beats are not affected.
    pub fn min_gap(mut self, gap: Duration) -> Self {
        self.min_gap = gap;
        self
    }

    /// Waits between failed re-registrations (default [`Backoff::REGISTER`]: 1, 2, 4 … 30 s;
    /// its `attempts` is not used, the loop keeps trying).
    pub fn register_backoff(mut self, backoff: Backoff) -> Self {
        self.register_backoff = backoff;
        self
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
        let workspace_id = self.client.workspace_id().to_owned();
        let (source, started) = (self.source, self.started);
        let settings = RunSettings {
            client: self.client,
            interval: self.interval,
            min_gap: self.min_gap,
            register_backoff: self.register_backoff,
            payload: Box::new(move || payload(&workspace_id, source.status(), started)),
        };
        let task = tokio::spawn(crate::heartbeat_run::run(settings, shared.clone()));
        HeartbeatHandle {
            shared,
            secret,
            task,
        }
    }
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
    /// Asks for a beat soon (task started or ended): at once when the last beat is at least
    /// `min_gap` old, else at the end of that gap; pokes meanwhile coalesce into that one beat.
    pub fn poke(&self) {
        self.0.poke.notify_one();
    }
}

impl HeartbeatHandle {
    /// Asks for a beat soon (see [`HeartbeatPoker::poke`]).
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

/// The body of one beat from the host's state `s`.
fn payload(workspace_id: &str, s: HeartbeatStatus, started: Instant) -> Heartbeat {
    Heartbeat {
        workspace_id: workspace_id.to_string(),
        error_rate: if s.error_rate.is_finite() {
            s.error_rate.clamp(0.0, 1.0)
        } else {
            0.0
        },
        sample_error: s.sample_error.unwrap_or_default(),
        active_tasks: s.active_tasks,
        current_task: s.current_task.unwrap_or_default(),
        uptime_seconds: started.elapsed().as_secs(),
        runtime_state: s.wedged.then(|| "wedged".to_string()),
        runtime_metadata: s.runtime_metadata,
    }
}
