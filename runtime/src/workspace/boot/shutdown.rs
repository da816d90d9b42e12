//! Graceful shutdown of a [`RunningWorkspace`] (SIGTERM or SIGINT under `run`): stop accepting
//! connections; let running tasks finish within `a2a.shutdown_grace` (default 20 s, inside the
//! 30 s a container orchestrator usually waits before it kills); then mark the tasks still
//! running FAILED with [`SHUTDOWN_REASON`] — their streams get that final status event and end,
//! blocking callers get the failed task; let the server answer what is in flight; send queued
//! activity reports (bounded); stop the heartbeats; flush the task store.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use molecule_a2a::A2aServer;

use super::RunningWorkspace;

/// The status message of a task failed because the workspace shut down.
pub const SHUTDOWN_REASON: &str = "the workspace shut down before the task finished";

/// How long in-flight requests may take once every task has ended (a slow client reading its
/// answer, say) before their connections are closed.
const DRAIN: Duration = Duration::from_secs(3);

/// How long queued activity reports may take to reach the platform at shutdown.
const ACTIVITY_FLUSH: Duration = Duration::from_secs(2);

impl RunningWorkspace {
    /// How long running tasks may take to finish at shutdown (`a2a.shutdown_grace`).
    pub fn shutdown_grace(&self) -> Duration {
        self.grace
    }

    /// Shuts down gracefully: running tasks get the configured grace period
    /// (`a2a.shutdown_grace`) to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let grace = self.grace;
        self.shutdown_within(grace, std::future::pending()).await
    }

    /// Shuts down gracefully, giving running tasks up to `grace` to finish — or less, if
    /// `hurry` resolves first (a second signal). Tasks still running then end FAILED with
    /// [`SHUTDOWN_REASON`]. Errors when the server failed or the task store cannot be written.
    pub async fn shutdown_within(
        mut self,
        grace: Duration,
        hurry: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(()); // no new connections from here on
        }
        let grpc = self.grpc.take().map(|(tx, task)| {
            let _ = tx.send(()); // nor gRPC ones; its open streams end
            task
        });
        let running = self.a2a.active_tasks();
        let started = Instant::now();
        let mut hurried = None;
        if running > 0 {
            tracing::info!(
                running,
                ?grace,
                "shutting down: letting running tasks finish"
            );
            tokio::select! {
                _ = wait_idle(&self.a2a, grace) => {}
                _ = hurry => {
                    tracing::warn!("asked again to stop: not waiting for running tasks any longer");
                    hurried = Some(started.elapsed());
                }
            }
        }
        let failed = self.a2a.fail_running(SHUTDOWN_REASON);
        if failed > 0 {
            tracing::warn!(failed, ?grace, "{}", failed_notice(grace, hurried));
        }
        match tokio::time::timeout(DRAIN, &mut self.server).await {
            Ok(joined) => joined.context("server task")??,
            Err(_) => {
                tracing::warn!(
                    ?DRAIN,
                    "connections still open after every task ended (a slow client?); closing them"
                );
                // A task a late request started meanwhile ends like the others.
                self.a2a.fail_running(SHUTDOWN_REASON);
                self.a2a.close_streams();
                self.server.abort();
            }
        }
        if let Some(mut task) = grpc {
            match tokio::time::timeout(DRAIN, &mut task).await {
                Ok(joined) => joined.context("gRPC server task")??,
                Err(_) => {
                    tracing::warn!(
                        ?DRAIN,
                        "gRPC calls still open after every task ended; closing them"
                    );
                    task.abort();
                }
            }
        }
        if let Some(activity) = &self.activity {
            if !activity.flush(ACTIVITY_FLUSH).await {
                tracing::warn!(
                    queued = activity.stats().queued,
                    "activity reports still queued at shutdown were not sent"
                );
            }
        }
        self._card_task.abort(); // and with it the card updates to the platform
        drop(self._platform.take()); // heartbeats stop
        self.store.flush().await.context("writing the task store")?;
        Ok(())
    }

    /// Serves until `stop` completes, then shuts down gracefully; a second signal (the future
    /// `hurry` makes, created only after `stop`) cuts the grace period short. Returns when the
    /// server ends by itself, with its error if it failed.
    pub async fn run_until<H: Future<Output = ()>>(
        mut self,
        stop: impl Future<Output = ()>,
        hurry: impl FnOnce() -> H,
    ) -> anyhow::Result<()> {
        let stopped = tokio::select! {
            _ = stop => true,
            result = &mut self.server => {
                result.context("server task")??;
                false
            }
        };
        if stopped {
            let grace = self.grace;
            self.shutdown_within(grace, hurry()).await?;
        }
        Ok(())
    }
}

/// The log line for the tasks shutdown marked FAILED: after the whole `grace`, or after
/// `hurried` when a second signal cut the grace period short.
fn failed_notice(grace: Duration, hurried: Option<Duration>) -> String {
    match hurried {
        Some(after) => format!(
            "a second signal cut the grace period short after {:.1}s (of {grace:?}): tasks \
             still running were marked FAILED ({SHUTDOWN_REASON})",
            after.as_secs_f64(),
        ),
        None => format!(
            "tasks still running after the {grace:?} grace period were marked FAILED \
             ({SHUTDOWN_REASON})"
        ),
    }
}

/// Waits until no task runs on `server`, or `grace` has passed.
async fn wait_idle(server: &A2aServer, grace: Duration) {
    let deadline = Instant::now() + grace;
    while server.active_tasks() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failed_notice_says_when_a_second_signal_cut_the_grace_short() {
        let grace = Duration::from_secs(20);
        let hurried = failed_notice(grace, Some(Duration::from_millis(500)));
        assert!(
            hurried.starts_with("a second signal cut the grace period short after 0.5s (of 20s)"),
            "{hurried}"
        );
        assert!(!hurried.contains("after the 20s grace period"), "{hurried}");
        let waited = failed_notice(grace, None);
        assert!(
            waited.starts_with("tasks still running after the 20s grace period were marked FAILED"),
            "{waited}"
        );
    }
}
