//! The task store: tasks (with their history and artifacts) kept in SQLite (WAL mode) so they
//! survive a restart, with retention bounded by count and age. All SQLite work runs on one
//! dedicated thread fed by a FIFO queue, so writes stay in order and never block async threads;
//! every write returns a [`Durable`] that resolves once it is committed (or failed), which is
//! what replies wait on. How that thread batches its work is in `worker.rs` (fed by
//! `queue.rs`), the SQL it runs in `sql.rs`, the schema in `schema.rs`, the counters behind
//! [`TaskStore::metrics`] in `stats.rs`, and the value types (errors, retention, queries) in
//! `types.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::types::{now, Task, TaskState};

mod checkpoint;
mod contexts;
mod durable;
mod push;
mod queue;
mod schema;
mod sql;
mod stats;
mod types;
mod worker;
use queue::{Job, Producer, Queue};
use sql::{decode, list_sync, prune, read_error, Row, FINAL_STATES};
use stats::Stats;
use worker::Worker;

pub use contexts::ContextTasks;
pub use durable::Durable;
pub use sql::parse_page_token;
pub use stats::StoreMetrics;
pub use types::{ListPage, ListQuery, Retention, StoreError};

/// Handle to the SQLite task store. Cheap to clone; the worker thread stops when the last
/// handle is dropped.
///
/// Durability: a write's [`Durable`] resolves once its transaction is committed to the WAL
/// file (`synchronous=NORMAL`): it then survives the process being killed at any moment
/// (`kill -9`, OOM); a power loss or OS crash may still lose the last commits before the next
/// checkpoint.
#[derive(Clone)]
pub struct TaskStore {
    queue: Arc<Producer>,
    retention: Retention,
    /// The database file (`:memory:` for [`in_memory`](Self::in_memory)), for error texts.
    path: Arc<str>,
    stats: Arc<Stats>,
    /// Keeps the checkpoint thread (`checkpoint.rs`) running while a handle is alive.
    checkpointer: Option<Arc<std::sync::mpsc::Sender<()>>>,
}

impl TaskStore {
    /// Opens (or creates) the store in the SQLite file at `path`, in WAL mode.
    ///
    /// Errors: [`StoreError::Open`] naming `path` and SQLite's reason (a missing or read-only
    /// folder, a file that is not a database, ...).
    pub fn open(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let shown: Arc<str> = path.display().to_string().into();
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            Ok(conn)
        };
        let conn = open().map_err(|e| open_error(&shown, &e))?;
        let mut store = Self::start(conn, shown, retention)?;
        store.checkpointer = checkpoint::start(path).map(Arc::new);
        Ok(store)
    }

    /// An in-memory store (for tests); nothing survives the process.
    pub fn in_memory(retention: Retention) -> Result<Self, StoreError> {
        let path: Arc<str> = ":memory:".into();
        let conn = Connection::open_in_memory().map_err(|e| open_error(&path, &e))?;
        Self::start(conn, path, retention)
    }

    fn start(conn: Connection, path: Arc<str>, retention: Retention) -> Result<Self, StoreError> {
        let prepared = schema::prepare(&conn).and_then(|seq| Ok((seq, schema::counts(&conn)?)));
        let (last_seq, counts) = prepared.map_err(|e| open_error(&path, &e))?;
        let stats = Arc::new(Stats::starting_from(&counts));
        let queue = Queue::new();
        let consumer = queue.clone();
        let worker = Worker::new(conn, path.clone(), retention, stats.clone(), last_seq);
        std::thread::Builder::new()
            .name("a2a-task-store".into())
            .spawn(move || worker.run(&consumer))
            .map_err(|e| StoreError::Open {
                path: path.to_string(),
                reason: format!("cannot start the store thread: {e}"),
            })?;
        let store = TaskStore {
            queue: Arc::new(Producer(queue)),
            retention,
            path,
            stats,
            checkpointer: None,
        };
        let (path, stats) = (store.path.clone(), store.stats.clone());
        store.enqueue(move |c| match prune(c, &retention) {
            Ok(delta) => stats.apply(&delta),
            Err(e) => tracing::warn!(
                "a2a task store: pruning old tasks in {path}: {}",
                types::reason(&e)
            ),
        });
        Ok(store)
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn closed(&self) -> StoreError {
        StoreError::Closed {
            path: self.path.to_string(),
        }
    }

    fn enqueue(&self, f: impl FnOnce(&mut Connection) + Send + 'static) {
        if self.queue.0.push(Job::Run(Box::new(f))).is_err() {
            tracing::error!("a2a task store {}: the store thread has stopped", self.path);
        }
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (otx, orx) = oneshot::channel();
        self.queue
            .0
            .push(Job::Run(Box::new(move |c| {
                let _ = otx.send(f(c));
            })))
            .map_err(|_| self.closed())?;
        orx.await.map_err(|_| self.closed())?
    }

    /// Queues a write of the whole task (insert or replace) that a reply will wait on: the
    /// store thread commits it without lingering. Writes are applied in the order they are
    /// queued. The returned [`Durable`] resolves once the write is committed, or with the
    /// error that kept it from being stored (dropping it does not cancel the write).
    pub fn put(&self, task: &Task) -> Durable {
        self.queue_put(task, true)
    }

    /// Queues a write no one waits on yet (the progress of a running task): it may wait up to
    /// the queue's linger (2 ms) to share a commit with other writes.
    pub fn put_progress(&self, task: &Task) -> Durable {
        self.queue_put(task, false)
    }

    fn queue_put(&self, task: &Task, urgent: bool) -> Durable {
        // Encoded on the store thread, once per batch for a task written several times.
        let row = Row {
            updated_ms: task.status.timestamp.unwrap_or_else(now).timestamp_millis(),
            task: Box::new(task.clone()),
        };
        let (ack, durable) = Durable::pending(self.path.clone());
        self.stats.put_queued();
        if self
            .queue
            .0
            .push(Job::Put {
                row,
                acks: vec![ack],
                urgent,
            })
            .is_err()
        {
            return Durable::done(self.path.clone(), Err(self.closed()));
        }
        durable
    }

    /// Waits until every write queued before this call is applied (committed, or answered
    /// with its error).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|_| Ok(())).await
    }

    /// Checks that the database takes a write now: one transaction that takes SQLite's write
    /// lock and rewrites the header's `user_version` with its own value, then commits (one
    /// page to the WAL; no task row changes). It runs on the store thread in queue order, so
    /// it waits behind the writes queued before it: a caller that must not wait bounds it
    /// with a timeout (`/readyz` does).
    ///
    /// Errors: [`StoreError::NotWritable`] naming the file and SQLite's reason (a read-only
    /// file or folder, a full disk, a locked database); [`StoreError::Closed`].
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.call(move |c| {
            write_check(c).map_err(|e| StoreError::NotWritable {
                path: path.to_string(),
                reason: types::reason(&e),
            })
        })
        .await
    }

    /// The store's counters now (tasks by state, writes, commits, failures). Reads atomics
    /// only: it never waits for the store thread.
    pub fn metrics(&self) -> StoreMetrics {
        self.stats.snapshot()
    }

    /// Reads one task as committed. A task whose newest write failed is that write's error
    /// (not the older version still stored), until a later write of it succeeds.
    pub async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        let id = id.to_string();
        let (path, stats) = (self.path.clone(), self.stats.clone());
        self.call(move |c| {
            if let Some(lost) = stats.lost_write(&id) {
                return Err(lost);
            }
            let json: Option<String> = c
                .prepare_cached("SELECT task_json FROM tasks WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row([&id], |r| r.get(0)).optional())
                .map_err(|e| read_error(&path, &format!("task {id}"), &e))?;
            json.map(|j| decode(&path, &id, &j)).transpose()
        })
        .await
    }

    /// Lists tasks, newest status first, with keyset pagination.
    pub async fn list(&self, q: ListQuery) -> Result<ListPage, StoreError> {
        let path = self.path.clone();
        self.call(move |c| list_sync(c, &q, &path)).await
    }

    /// Caps the database at `pages` pages (SQLite `max_page_count`; never below its current
    /// size) for as long as the store is open: a write that would grow the file past it fails
    /// with "database or disk is full", answered to its waiter like a full disk. A size
    /// quota, and how tests fill the "disk". Returns the cap in effect.
    pub async fn set_max_pages(&self, pages: u64) -> Result<u64, StoreError> {
        let path = self.path.clone();
        self.call(move |c| {
            c.pragma_update_and_check(None, "max_page_count", pages, |r| r.get::<_, u64>(0))
                .map_err(|e| read_error(&path, "max_page_count", &e))
        })
        .await
    }

    /// Marks every task that was still running (not terminal or interrupted) as FAILED with
    /// `reason`; used at startup because their executors died with the previous process.
    /// Returns the failed tasks once every one of those writes is committed (or the first
    /// failure).
    pub(crate) async fn fail_unfinished(&self, reason: &str) -> Result<Vec<Task>, StoreError> {
        let path = self.path.clone();
        let unfinished = self
            .call(move |c| {
                let sql =
                    format!("SELECT id, task_json FROM tasks WHERE state NOT IN {FINAL_STATES}");
                let rows: Vec<(String, String)> = c
                    .prepare(&sql)
                    .and_then(|mut stmt| {
                        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<Result<_, _>>()
                    })
                    .map_err(|e| read_error(&path, "the unfinished tasks", &e))?;
                rows.iter()
                    .map(|(id, json)| decode(&path, id, json))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let mut writes = Vec::with_capacity(unfinished.len());
        let mut failed = Vec::with_capacity(unfinished.len());
        for mut task in unfinished {
            task.status = crate::types::TaskStatus {
                state: TaskState::Failed,
                message: Some(crate::types::agent_text_message(
                    reason,
                    &task.id,
                    &task.context_id,
                )),
                timestamp: Some(now()),
            };
            writes.push(self.put(&task));
            failed.push(task);
        }
        for write in writes {
            write.await?;
        }
        Ok(failed)
    }
}

/// One committed write that changes nothing: `user_version` set to itself.
fn write_check(c: &mut Connection) -> rusqlite::Result<()> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

/// The error of opening the store at `path`.
fn open_error(path: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::Open {
        path: path.to_string(),
        reason: types::reason(e),
    }
}

/// Runs retention now (normally it runs at open and then every few hundred writes, see
/// `PRUNE_EVERY` in `types.rs`).
pub async fn prune_now(store: &TaskStore) -> Result<(), StoreError> {
    let r = store.retention;
    let (path, stats) = (store.path.clone(), store.stats.clone());
    store
        .call(move |c| {
            let delta = prune(c, &r).map_err(|e| StoreError::Prune {
                path: path.to_string(),
                reason: types::reason(&e),
            })?;
            stats.apply(&delta);
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_check_passes_on_a_writable_store_and_names_the_file_when_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasks.sqlite");
        let store = TaskStore::open(&file, Retention::default()).unwrap();
        store.check_writable().await.unwrap();
        // `query_only` makes SQLite refuse every write on this connection, as a read-only
        // file would (the tests run as root, which file modes do not stop).
        store
            .call(|c| {
                c.pragma_update(None, "query_only", true)
                    .map_err(|e| read_error("test", "query_only", &e))
            })
            .await
            .unwrap();
        let err = store.check_writable().await.unwrap_err();
        assert!(matches!(err, StoreError::NotWritable { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(text.contains("not writable"), "{text}");
    }
}
