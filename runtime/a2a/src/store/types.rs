//! The task store's value types: its error, the retention bounds, and a ListTasks query and
//! result page.

use std::time::Duration;

use crate::types::{Task, TaskState};

/// Errors from the task store. Every one that concerns the database names its file and what
/// was being done, with SQLite's reason in words (see [`reason`]); none carries a chained
/// source, so a report prints each fact once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or prepared (missing or read-only folder, a file
    /// that is not a database, ...).
    #[error("cannot open the task store {path}: {reason}")]
    Open {
        /// The database file.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
    /// A task write was not stored (its transaction was rolled back): the client that waits
    /// for it gets this error.
    #[error("writing task {id} to {path}: {reason}")]
    Write {
        /// The task.
        id: String,
        /// The database file.
        path: String,
        /// SQLite's reason, e.g. `database or disk is full`.
        reason: String,
    },
    /// A read failed.
    #[error("reading {what} from the task store {path}: {reason}")]
    Read {
        /// What was read, e.g. `task 0190…`.
        what: String,
        /// The database file.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
    /// Retention (deleting old tasks) failed.
    #[error("pruning old tasks in {path}: {reason}")]
    Prune {
        /// The database file.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
    /// A stored row could not be decoded.
    #[error("the task store {path} holds task `{id}` in a form that cannot be read: {reason}")]
    Decode {
        /// The id of the row.
        id: String,
        /// The database file.
        path: String,
        /// The JSON error.
        reason: String,
    },
    /// The write check ([`TaskStore::check_writable`](super::TaskStore::check_writable)) could
    /// not commit: task writes would fail the same way.
    #[error("the task store {path} is not writable: {reason}")]
    NotWritable {
        /// The database file.
        path: String,
        /// SQLite's reason, e.g. `attempt to write a readonly database`.
        reason: String,
    },
    /// The store thread is gone (the process is shutting down).
    #[error("the task store {path} is closed (its thread has stopped)")]
    Closed {
        /// The database file.
        path: String,
    },
}

/// SQLite's reason for `e` in words: its message when it gave one, else the description of
/// its code (never a bare "Error code 13"), with a hint for the codes an operator can fix.
pub(super) fn reason(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let (code, text) = match e {
        rusqlite::Error::SqliteFailure(err, msg) => {
            let text = msg
                .clone()
                .unwrap_or_else(|| describe(err.code).to_string());
            (err.code, text)
        }
        other => return other.to_string(),
    };
    let hint = match code {
        C::CannotOpen => " (is its folder missing, not a folder, or not writable?)",
        C::ReadOnly => " (the file or its folder is read-only)",
        C::PermissionDenied => " (permission denied)",
        _ => "",
    };
    format!("{text}{hint}")
}

/// The words of SQLite's own messages for the codes a message-less error may carry.
fn describe(code: rusqlite::ErrorCode) -> &'static str {
    use rusqlite::ErrorCode as C;
    match code {
        C::DiskFull => "database or disk is full",
        C::CannotOpen => "unable to open database file",
        C::ReadOnly => "attempt to write a readonly database",
        C::SystemIoFailure => "disk I/O error",
        C::DatabaseCorrupt => "database disk image is malformed",
        C::NotADatabase => "file is not a database",
        C::DatabaseBusy => "database is locked",
        C::PermissionDenied => "access permission denied",
        C::OutOfMemory => "out of memory",
        _ => "SQLite error",
    }
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
