//! The store's counters, read at any time without the store thread (so `/metrics` costs the
//! same however busy or large the store is): tasks by state, kept by the store thread as its
//! writes commit and retention deletes (started from one count at open); writes queued, rows
//! written, commits and failed writes. Also the tasks whose newest write failed, so a read
//! does not answer an older version as if it were the task's current state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::types::StoreError;
use crate::types::{state_name, TaskState};

/// Every task state, in the order of [`Stats`]' counters.
const STATES: [TaskState; 9] = [
    TaskState::Submitted,
    TaskState::Working,
    TaskState::InputRequired,
    TaskState::AuthRequired,
    TaskState::Completed,
    TaskState::Failed,
    TaskState::Canceled,
    TaskState::Rejected,
    TaskState::Unspecified,
];

/// At most this many lost tasks are remembered; past it, a read of a task whose newest write
/// failed answers the version stored before (the failure was still answered and counted).
const MAX_LOST: usize = 10_000;

/// Changes to the per-state task counts, applied when their transaction commits.
pub(super) type Delta = [i64; STATES.len()];

/// The index of the state stored as `name` (its protobuf name).
pub(super) fn state_index(name: &str) -> Option<usize> {
    STATES.iter().position(|s| state_name(s) == name)
}

/// A snapshot of the store's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreMetrics {
    /// Tasks in the store by state (every state, zeros included; committed rows only).
    pub tasks_by_state: Vec<(TaskState, u64)>,
    /// Task writes queued since open.
    pub writes_queued: u64,
    /// Rows written and committed since open (several writes of one task in one batch are
    /// one row).
    pub rows_written: u64,
    /// Transactions committed since open.
    pub commits: u64,
    /// Task writes that failed since open (each answered to its waiter as an error).
    pub write_failures: u64,
}

/// The live counters behind [`StoreMetrics`].
#[derive(Default)]
pub(super) struct Stats {
    by_state: [AtomicI64; STATES.len()],
    puts: AtomicU64,
    rows: AtomicU64,
    commits: AtomicU64,
    failures: AtomicU64,
    lost: Mutex<HashMap<String, StoreError>>,
}

impl Stats {
    /// Counters starting from `counts` (state name, rows) as found at open.
    pub(super) fn starting_from(counts: &[(String, i64)]) -> Self {
        let stats = Stats::default();
        for (name, n) in counts {
            if let Some(i) = state_index(name) {
                stats.by_state[i].fetch_add(*n, Ordering::Relaxed);
            }
        }
        stats
    }

    /// A write was queued.
    pub(super) fn put_queued(&self) {
        self.puts.fetch_add(1, Ordering::Relaxed);
    }

    /// A transaction of `rows` rows committed, changing the counts by `delta`.
    pub(super) fn committed(&self, rows: usize, delta: &Delta) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.apply(delta);
    }

    /// Rows were deleted (or otherwise changed) outside a batch, by `delta`.
    pub(super) fn apply(&self, delta: &Delta) {
        for (counter, d) in self.by_state.iter().zip(delta) {
            if *d != 0 {
                counter.fetch_add(*d, Ordering::Relaxed);
            }
        }
    }

    fn lost(&self) -> MutexGuard<'_, HashMap<String, StoreError>> {
        self.lost.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest write of task `id` failed with `error`.
    pub(super) fn write_failed(&self, id: &str, error: &StoreError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut lost = self.lost();
        if lost.len() < MAX_LOST || lost.contains_key(id) {
            lost.insert(id.to_string(), error.clone());
        }
    }

    /// Task `id` was stored: a failure of an older write no longer matters.
    pub(super) fn written(&self, id: &str) {
        let mut lost = self.lost();
        if !lost.is_empty() {
            lost.remove(id);
        }
    }

    /// Why the newest write of task `id` was not stored, if it was not.
    pub(super) fn lost_write(&self, id: &str) -> Option<StoreError> {
        self.lost().get(id).cloned()
    }

    /// The counters now.
    pub(super) fn snapshot(&self) -> StoreMetrics {
        StoreMetrics {
            tasks_by_state: STATES
                .iter()
                .zip(&self.by_state)
                .map(|(s, n)| {
                    (
                        s.clone(),
                        u64::try_from(n.load(Ordering::Relaxed)).unwrap_or(0),
                    )
                })
                .collect(),
            writes_queued: self.puts.load(Ordering::Relaxed),
            rows_written: self.rows.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            write_failures: self.failures.load(Ordering::Relaxed),
        }
    }
}
