//! Retention of uploads: a sweep removes a context's folder when its last upload (the
//! modification time of its `index.json`) is older than `uploads.retention`, or older than
//! [`ORPHAN_GRACE`] while the task store holds no task of the context any more (the store's
//! own retention removed them). A context with an unfinished task in the store (submitted,
//! working, waiting for input or auth) is never removed, nor one a message reached while the
//! sweep ran. At most [`SWEEP_MAX_CONTEXTS`] contexts go per sweep; [`Sweeper`] sweeps at boot
//! and every [`SWEEP_EVERY`] (at once again while work is left). Each sweep logs what it
//! removed (contexts, files, bytes) and updates the running totals. The file work runs on a
//! blocking thread, one context at a time under a claim (`state.rs`), the store's lock held
//! only to claim, to release and to update the totals: messages (and stores of other
//! contexts) go on meanwhile; a store for the context being removed waits for the removal.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use molecule_a2a::TaskStore;
use tokio::task::JoinHandle;

use super::totals::held;
use super::{index, names, Uploads};

/// How old a context's last upload must be before it goes for having no task in the store:
/// a message's files are stored before its task, so a younger context may be one whose task
/// is about to be written.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(10 * 60);
/// The most contexts one sweep removes (its disk work); the rest go in the next sweep.
pub const SWEEP_MAX_CONTEXTS: usize = 256;
/// How often the [`Sweeper`] sweeps (or half of `uploads.retention`, when that is shorter).
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How soon the next sweep runs when one stopped at [`SWEEP_MAX_CONTEXTS`].
const BACKLOG_PAUSE: Duration = Duration::from_secs(1);
/// How long a sweep waits after it starts noting messages, before it asks the task store:
/// a message taken in just before is stored as a task within it.
const SETTLE: Duration = Duration::from_millis(50);

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Contexts removed because their last upload is older than `uploads.retention`.
    pub expired: u64,
    /// Contexts removed because the task store holds none of their tasks.
    pub orphaned: u64,
    /// Files removed.
    pub files: u64,
    /// Bytes removed.
    pub bytes: u64,
    /// Contexts kept only because a task of theirs is unfinished.
    pub in_use: u64,
    /// The sweep stopped at [`SWEEP_MAX_CONTEXTS`]: more may be due.
    pub more: bool,
}

/// Why a context goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Expired,
    Orphaned,
}

/// What a sweep does with one context folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    /// Due but for an unfinished task of the context.
    InUse,
    Remove(Due),
}

/// The verdict on a context folder whose last upload is `age` old: `tasks` is `None` when
/// the store holds no task of the context, else whether one is unfinished.
fn verdict(age: Duration, tasks: Option<bool>, retention: Duration) -> Verdict {
    match tasks {
        Some(true) if age >= retention => Verdict::InUse,
        Some(true) => Verdict::Keep,
        _ if age >= retention => Verdict::Remove(Due::Expired),
        None if age >= ORPHAN_GRACE => Verdict::Remove(Due::Orphaned),
        _ => Verdict::Keep,
    }
}

impl Uploads {
    /// Removes the contexts that are due at `now` (see the module header), asking `store`
    /// which contexts still have tasks. Errors (nothing removed): the task store cannot be
    /// read, or the uploads folder cannot be listed; both name the file or folder.
    pub async fn sweep(&self, store: &TaskStore, now: SystemTime) -> Result<SweepReport, String> {
        self.lock().touched = Some(HashSet::new());
        tokio::time::sleep(SETTLE).await;
        let contexts = match store.contexts().await {
            Ok(c) => c,
            Err(e) => {
                self.lock().touched = None;
                return Err(format!("uploads sweep: {e}"));
            }
        };
        let tasks: HashMap<String, bool> = contexts
            .into_iter()
            .map(|c| (names::context_dir_name(&c.context_id), c.unfinished))
            .collect();
        let this = self.clone();
        let swept = tokio::task::spawn_blocking(move || this.sweep_folders(&tasks, now)).await;
        self.lock().touched = None;
        swept.map_err(|e| format!("uploads sweep stopped: {e}"))?
    }

    /// The folder part of [`Uploads::sweep`] (blocking: file I/O). Each context is claimed
    /// before it is judged, so its age is read while no store can change it.
    fn sweep_folders(
        &self,
        tasks: &HashMap<String, bool>,
        now: SystemTime,
    ) -> Result<SweepReport, String> {
        let listed = |e: std::io::Error| format!("uploads sweep: {}: {e}", self.root.display());
        self.totals().map_err(listed)?;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SweepReport::default()),
            Err(e) => return Err(listed(e)),
        };
        let mut report = SweepReport::default();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if !dir.is_dir() {
                continue;
            }
            let Some(_claim) = self.state.claim_for_removal(&name) else {
                continue; // a message reached it during the sweep, or a store is writing it
            };
            let age = now.duration_since(last_write(&dir)).unwrap_or_default();
            let why = match verdict(age, tasks.get(&name).copied(), self.limits.retention) {
                Verdict::InUse => {
                    report.in_use += 1;
                    continue;
                }
                Verdict::Keep => continue,
                Verdict::Remove(why) => why,
            };
            if report.expired + report.orphaned >= SWEEP_MAX_CONTEXTS as u64 {
                report.more = true;
                break;
            }
            self.remove_context(&dir, why, &mut report);
        }
        Ok(report)
    }

    /// Removes the context folder `dir` (claimed by the caller), counting it in `report` and
    /// out of the running totals; when it cannot be removed whole, the totals keep what is
    /// left of it (counted the way `Totals::scan` counts).
    fn remove_context(&self, dir: &Path, why: Due, report: &mut SweepReport) {
        let holds = held(dir);
        let removed = std::fs::remove_dir_all(dir);
        let left = match &removed {
            Ok(()) => None,
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "cannot remove old uploads");
                Some(held(dir))
            }
        };
        if let Some(t) = self.lock().totals.as_mut() {
            t.remove(holds);
            if let Some(left) = left {
                t.add(left);
            }
        }
        if removed.is_err() {
            return;
        }
        tracing::debug!(dir = %dir.display(), files = holds.files, bytes = holds.bytes,
            reason = ?why, "removed a context's uploads");
        match why {
            Due::Expired => report.expired += 1,
            Due::Orphaned => report.orphaned += 1,
        }
        report.files += holds.files;
        report.bytes = report.bytes.saturating_add(holds.bytes);
    }

    /// Sweeps at once and then every [`SWEEP_EVERY`] (or half of `uploads.retention` when
    /// shorter) until the returned [`Sweeper`] is dropped, logging each sweep that removed
    /// something (contexts, files, bytes) and each that failed.
    pub fn spawn_sweeper(&self, store: TaskStore) -> Sweeper {
        let this = self.clone();
        let every = SWEEP_EVERY.min(self.limits.retention / 2);
        Sweeper(tokio::spawn(async move {
            loop {
                let pause = match this.sweep(&store, SystemTime::now()).await {
                    Ok(report) => {
                        log(&report);
                        if report.more {
                            BACKLOG_PAUSE
                        } else {
                            every
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not sweep old uploads");
                        every
                    }
                };
                tokio::time::sleep(pause).await;
            }
        }))
    }
}

/// The running sweeps of a workspace; dropping it stops them.
pub struct Sweeper(JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When the context folder `dir` last got an upload: its index's modification time, or the
/// folder's own when it has no index (files left by a store that failed).
fn last_write(dir: &Path) -> SystemTime {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    modified(&dir.join(index::INDEX_FILE))
        .or_else(|| modified(dir))
        .unwrap_or_else(SystemTime::now)
}

/// Logs what a sweep removed (nothing when it removed nothing).
fn log(report: &SweepReport) {
    if report.expired + report.orphaned == 0 {
        return;
    }
    tracing::info!(
        contexts = report.expired + report.orphaned,
        expired = report.expired,
        without_tasks = report.orphaned,
        files = report.files,
        bytes = report.bytes,
        kept_in_use = report.in_use,
        more_due = report.more,
        "removed old uploads"
    );
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
