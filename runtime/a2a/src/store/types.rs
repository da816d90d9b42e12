//! The task store's value types: its error, the retention bounds, and a ListTasks query and
//! result page.

use std::time::Duration;

use crate::types::{Task, TaskState};

/// Errors from the task store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("task store: sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row could not be decoded.
    #[error("task store: bad stored task `{id}`: {source}")]
    Decode {
        /// The id of the row.
        id: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A task could not be encoded.
    #[error("task store: cannot encode task: {0}")]
    Encode(serde_json::Error),
    /// The store thread is gone.
    #[error("task store: worker thread stopped")]
    Closed,
}

/// How many tasks to keep and for how long. Only tasks in a terminal or interrupted state are
/// ever removed.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Keep at most this many tasks (newest first).
    pub max_tasks: usize,
    /// Drop tasks whose last status change is older than this.
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_tasks: 10_000,
            max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Retention runs after this many row writes, or an eighth of `max_tasks` if that is more:
/// the count bound may be exceeded by that much between runs, and each run costs a scan of
/// up to `max_tasks` index entries.
const PRUNE_EVERY: u32 = 256;

impl Retention {
    /// Row writes between two retention runs.
    pub(super) fn prune_interval(&self) -> u32 {
        u32::try_from(self.max_tasks / 8)
            .unwrap_or(u32::MAX)
            .max(PRUNE_EVERY)
    }
}

/// A ListTasks query, already validated.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only tasks of this context.
    pub context_id: Option<String>,
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only tasks whose status changed at or after this time (ms since epoch).
    pub updated_after_ms: Option<i64>,
    /// Page size, 1..=100.
    pub page_size: usize,
    /// Continue after this (updated_ms, seq) position, from a page token.
    pub after: Option<(i64, i64)>,
}

/// One page of tasks.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// The tasks, newest status first.
    pub tasks: Vec<Task>,
    /// Token for the next page; empty on the last page.
    pub next_page_token: String,
    /// Number of tasks matching the filters (all pages).
    pub total_size: usize,
}
