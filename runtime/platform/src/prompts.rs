//! Startup steps 15 and 16: the `initial_prompt`, sent once (the marker file
//! `.initial_prompt_done` in the data directory is written *before* sending, so a crash never
//! repeats it; a legacy marker in the config directory also counts as sent), and the
//! idle loop, which sends `idle_prompt` every `idle_interval` only while no task is active.
//! Both hand the text to a callback so the host decides how it travels (normally
//! [`PlatformClient::send_to_self`](crate::PlatformClient::send_to_self), through the proxy).

use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::PlatformError;
use crate::token::write_private_atomic;

/// Name of the marker file in the data directory (legacy: the config directory).
pub const INITIAL_PROMPT_MARKER: &str = ".initial_prompt_done";

/// What [`InitialPrompt::run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialPromptOutcome {
    /// The marker existed; nothing sent.
    AlreadyDone,
    /// Marker written, prompt sent.
    Sent,
    /// Marker written, but the send failed (not retried, by design: at most once).
    SendFailed(String),
}

/// The one-time initial prompt.
#[derive(Debug, Clone)]
pub struct InitialPrompt {
    marker: PathBuf,
    /// A marker left by an earlier version in the config directory: read, never written.
    legacy: Option<PathBuf>,
    prompt: String,
}

impl InitialPrompt {
    /// The prompt `prompt` guarded by `<dir>/.initial_prompt_done` (`dir` is the writable
    /// data directory).
    pub fn new(dir: &Path, prompt: impl Into<String>) -> InitialPrompt {
        InitialPrompt {
            marker: dir.join(INITIAL_PROMPT_MARKER),
            legacy: None,
            prompt: prompt.into(),
        }
    }

    /// Also counts the prompt as sent when `<legacy_dir>/.initial_prompt_done` exists (a
    /// marker an earlier version wrote into the config directory); that file is never written.
    pub fn legacy_marker_in(mut self, legacy_dir: &Path) -> InitialPrompt {
        self.legacy = Some(legacy_dir.join(INITIAL_PROMPT_MARKER));
        self
    }

    /// The marker file path.
    pub fn marker(&self) -> &Path {
        &self.marker
    }

    /// True when the prompt was already sent (or attempted) by an earlier run.
    pub fn already_done(&self) -> bool {
        self.marker.exists() || self.legacy.as_ref().is_some_and(|l| l.exists())
    }

    /// Writes the marker, then calls `send(prompt)`. Returns `AlreadyDone` without calling
    /// `send` when the marker exists; an error only when the marker cannot be written.
    pub async fn run<F, Fut, E>(&self, send: F) -> Result<InitialPromptOutcome, PlatformError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        if self.prompt.trim().is_empty() || self.already_done() {
            return Ok(InitialPromptOutcome::AlreadyDone);
        }
        let stamp = format!(
            "{}\n",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        );
        write_private_atomic(&self.marker, stamp.as_bytes()).map_err(|e| {
            PlatformError::Config(format!(
                "cannot write {}: {e}; the initial prompt is not sent so it cannot repeat — make the data directory (MOLECULE_DATA_DIR) writable",
                self.marker.display()
            ))
        })?;
        match send(self.prompt.clone()).await {
            Ok(()) => Ok(InitialPromptOutcome::Sent),
            Err(e) => {
                tracing::warn!(error = %e, "initial prompt could not be sent; it will not be retried (marker written)");
                Ok(InitialPromptOutcome::SendFailed(e.to_string()))
            }
        }
    }
}

/// The idle loop: every `interval`, if the host says no task is active, send the idle prompt.
#[derive(Debug, Clone)]
pub struct IdleLoop {
    prompt: String,
    interval: Duration,
}

/// Controls a running idle loop; dropping it stops the loop.
pub struct IdleHandle {
    fired: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl IdleHandle {
    /// Prompts sent.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }
    /// Ticks skipped because a task was active.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

impl Drop for IdleHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IdleLoop {
    /// `idle_prompt` every `idle_interval` (from the config).
    pub fn new(prompt: impl Into<String>, interval: Duration) -> IdleLoop {
        IdleLoop {
            prompt: prompt.into(),
            interval: interval.max(Duration::from_millis(1)),
        }
    }

    /// Starts the loop. `is_idle` is asked at each tick (the first tick is one interval from
    /// now); `send` gets the prompt when idle. A failed send is logged and the loop goes on.
    pub fn spawn<I, F, Fut, E>(self, is_idle: I, send: F) -> IdleHandle
    where
        I: Fn() -> bool + Send + Sync + 'static,
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Display,
    {
        let fired = Arc::new(AtomicU64::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let (f, s) = (fired.clone(), skipped.clone());
        let task = tokio::spawn(async move {
            if self.prompt.trim().is_empty() {
                return;
            }
            let start = tokio::time::Instant::now() + self.interval;
            let mut ticker = tokio::time::interval_at(start, self.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if !is_idle() {
                    s.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                f.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = send(self.prompt.clone()).await {
                    tracing::warn!(error = %e, "idle prompt could not be sent");
                }
            }
        });
        IdleHandle {
            fired,
            skipped,
            task,
        }
    }
}
