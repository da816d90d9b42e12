//! The body of a running [`HeartbeatLoop`]: wait for the next tick or poke (a poked beat comes
//! at least `min_gap` after the previous beat, so pokes coalesce), send the beat within a time
//! budget, register again with backoff when the platform forgot the workspace or refuses its
//! token, and log one warning per outage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;

use crate::backoff::Backoff;
use crate::client::PlatformClient;
use crate::error::PlatformError;
use crate::types::Heartbeat;

/// What a running loop shares with its handle: the poke and the counters.
pub(crate) struct LoopShared {
    pub(crate) poke: Notify,
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) reregistered: AtomicU64,
    pub(crate) times: Mutex<Vec<Instant>>,
}

/// How the loop runs: the client, the schedule, and the body of each beat.
pub(crate) struct RunSettings {
    pub(crate) client: PlatformClient,
    pub(crate) interval: Duration,
    pub(crate) min_gap: Duration,
    pub(crate) register_backoff: Backoff,
    /// Builds the body of the next beat (the host's state, taken just before it).
    pub(crate) payload: Box<dyn Fn() -> Heartbeat + Send + Sync>,
}

/// What woke the loop.
enum Wake {
    Tick,
    Poke,
    AuthLost,
}

/// Runs the loop until its task is aborted (when the [`HeartbeatHandle`](crate::HeartbeatHandle)
/// drops).
pub(crate) async fn run(lp: RunSettings, shared: Arc<LoopShared>) {
    let mut ticker = tokio::time::interval(lp.interval);
    // Keep the grid: after a long outage, skip missed beats instead of bursting them.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // A beat must not outlive its slot, so a hung platform cannot stall the schedule.
    let budget = lp
        .interval
        .clamp(Duration::from_millis(100), Duration::from_secs(10));
    let mut outage = Outage::default();
    let mut registration = Reregistration::new(lp.register_backoff);
    let mut last: Option<Instant> = None;
    loop {
        let wake = tokio::select! {
            _ = ticker.tick() => Wake::Tick,
            _ = shared.poke.notified() => Wake::Poke,
            // Another call got a 401: beat (and so re-register) soon, unless backing off.
            _ = lp.client.inner.auth_lost.notified() => Wake::AuthLost,
        };
        match wake {
            Wake::AuthLost if registration.backing_off() => continue,
            Wake::Poke | Wake::AuthLost => {
                if let Some(at) = last {
                    tokio::time::sleep_until((at + lp.min_gap).into()).await;
                }
            }
            Wake::Tick => {}
        }
        let now = Instant::now();
        last = Some(now);
        note_time(&shared, now);
        let result = beat(&lp, &shared, budget, &mut registration).await;
        outage.note(&shared, result);
    }
}

fn note_time(shared: &LoopShared, at: Instant) {
    let mut times = shared.times.lock().unwrap_or_else(|e| e.into_inner());
    if times.len() >= 1024 {
        times.remove(0);
    }
    times.push(at);
}

/// One beat; when the platform wants a registration first (and the backoff allows), registers
/// again and beats once more.
async fn beat(
    lp: &RunSettings,
    shared: &LoopShared,
    budget: Duration,
    registration: &mut Reregistration,
) -> Result<(), PlatformError> {
    let payload = (lp.payload)();
    let why = match timed(lp, "heartbeat", budget, lp.client.heartbeat(&payload)).await {
        Ok(_) => return Ok(()),
        Err(e) if e.needs_registration() && !registration.backing_off() => e,
        Err(e) => return Err(e),
    };
    registration.register(lp, shared, budget, &why).await?;
    timed(lp, "heartbeat", budget, lp.client.heartbeat(&payload))
        .await
        .map(|_| ())
}

/// Re-registration with backoff: after a failed attempt the next waits 1, 2, 4 … 30 s (the
/// configured schedule), however often beats are poked meanwhile.
struct Reregistration {
    backoff: Backoff,
    failures: u32,
    not_before: Option<Instant>,
}

impl Reregistration {
    fn new(backoff: Backoff) -> Self {
        Reregistration {
            backoff,
            failures: 0,
            not_before: None,
        }
    }

    fn backing_off(&self) -> bool {
        self.not_before.is_some_and(|t| Instant::now() < t)
    }

    async fn register(
        &mut self,
        lp: &RunSettings,
        shared: &LoopShared,
        budget: Duration,
        why: &PlatformError,
    ) -> Result<(), PlatformError> {
        let workspace = lp.client.workspace_id();
        if self.failures == 0 {
            let cause = if why.is_auth_rejected() {
                "the platform refuses this workspace's token (it may have restarted with empty state)"
            } else {
                "the platform forgot this workspace"
            };
            tracing::warn!(%workspace, error = %why, "{cause}; registering again");
        }
        match timed(lp, "register", budget, lp.client.reregister()).await {
            Ok(_) => {
                shared.reregistered.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%workspace, failed_attempts = self.failures, "registered with the platform again");
                self.failures = 0;
                self.not_before = None;
                Ok(())
            }
            Err(e) => {
                let wait = self.backoff.delay(self.failures);
                self.failures = self.failures.saturating_add(1);
                self.not_before = Some(Instant::now() + wait);
                tracing::debug!(%workspace, error = %e, ?wait, "registering again failed; retrying after the wait");
                Err(e)
            }
        }
    }
}

/// One warning per outage, one note when it ends.
#[derive(Default)]
struct Outage {
    since: Option<(Instant, u64)>,
}

impl Outage {
    fn note(&mut self, shared: &LoopShared, result: Result<(), PlatformError>) {
        match result {
            Ok(()) => {
                shared.sent.fetch_add(1, Ordering::Relaxed);
                if let Some((since, missed)) = self.since.take() {
                    tracing::info!(down_for = ?since.elapsed(), failed_beats = missed, "platform reachable again; heartbeats resumed");
                }
            }
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                match &mut self.since {
                    None => {
                        // A refused token was already reported (at warn) by the re-registration.
                        if e.needs_registration() {
                            tracing::debug!(error = %e, "heartbeat refused; registering again with backoff");
                        } else {
                            tracing::warn!(error = %e, "heartbeat failed; the workspace keeps serving and retries on schedule (logged once per outage)");
                        }
                        self.since = Some((Instant::now(), 1));
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

/// `fut` within `budget`; past it, a transport error naming the platform and the budget.
async fn timed<T>(
    lp: &RunSettings,
    call: &'static str,
    budget: Duration,
    fut: impl std::future::Future<Output = Result<T, PlatformError>>,
) -> Result<T, PlatformError> {
    tokio::time::timeout(budget, fut).await.unwrap_or_else(|_| {
        Err(PlatformError::Transport {
            call,
            url: lp.client.base_url().to_string(),
            detail: format!("no answer within {budget:?}"),
        })
    })
}
