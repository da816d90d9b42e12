//! The task store: tasks (with their history and artifacts) kept in SQLite (WAL mode) so they
//! survive a restart, with retention bounded by count and age. All SQLite work runs on one
//! dedicated thread fed by a FIFO queue, so writes stay in order and never block async threads.
//! How that thread batches its work is in `worker.rs` (fed by `queue.rs`), the SQL it runs in
//! `sql.rs`, the schema in `schema.rs`, and the value types (errors, retention, queries) in
//! `types.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::types::{now, Task, TaskState};

mod queue;
mod schema;
mod sql;
mod types;
mod worker;
use queue::{Job, Producer, Queue};
use sql::{decode, list_sync, prune, Row, FINAL_STATES};
use worker::Worker;

pub use sql::parse_page_token;
pub use types::{ListPage, ListQuery, Retention, StoreError};

/// Handle to the SQLite task store. Cheap to clone; the worker thread stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct TaskStore {
    queue: Arc<Producer>,
    retention: Retention,
}

impl TaskStore {
    /// Opens (or creates) the store in the SQLite file at `path`, in WAL mode.
    pub fn open(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Self::start(conn, retention)
    }

    /// An in-memory store (for tests); nothing survives the process.
    pub fn in_memory(retention: Retention) -> Result<Self, StoreError> {
        Self::start(Connection::open_in_memory()?, retention)
    }

    fn start(conn: Connection, retention: Retention) -> Result<Self, StoreError> {
        let last_seq = schema::prepare(&conn)?;
        let queue = Queue::new();
        let consumer = queue.clone();
        std::thread::Builder::new()
            .name("a2a-task-store".into())
            .spawn(move || Worker::new(conn, retention, last_seq).run(&consumer))
            .map_err(|_| StoreError::Closed)?;
        let store = TaskStore {
            queue: Arc::new(Producer(queue)),
            retention,
        };
        store.enqueue(move |c| {
            if let Err(e) = prune(c, &retention) {
                tracing::warn!(error = %e, "a2a task store: prune failed");
            }
        });
        Ok(store)
    }

    fn enqueue(&self, f: impl FnOnce(&mut Connection) + Send + 'static) {
        if self.queue.0.push(Job::Run(Box::new(f))).is_err() {
            tracing::error!("a2a task store: worker thread stopped; write dropped");
        }
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (otx, orx) = oneshot::channel();
        self.queue.0.push(Job::Run(Box::new(move |c| {
            let _ = otx.send(f(c));
        })))?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues a write of the whole task (insert or replace). Writes are applied in the order
    /// they are queued; errors are logged.
    pub fn put(&self, task: &Task) {
        // Encoded on the store thread, once per batch for a task written several times.
        let row = Row {
            updated_ms: task.status.timestamp.unwrap_or_else(now).timestamp_millis(),
            task: Box::new(task.clone()),
        };
        if self.queue.0.push(Job::Put(row)).is_err() {
            tracing::error!("a2a task store: worker thread stopped; write dropped");
        }
    }

    /// Waits until every write queued before this call is applied.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|_| Ok(())).await
    }

    /// Reads one task.
    pub async fn get(&self, id: &str) -> Result<Option<Task>, StoreError> {
        let id = id.to_string();
        self.call(move |c| {
            let json: Option<String> = c
                .query_row("SELECT task_json FROM tasks WHERE id = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?;
            json.map(|j| decode(&id, &j)).transpose()
        })
        .await
    }

    /// Lists tasks, newest status first, with keyset pagination.
    pub async fn list(&self, q: ListQuery) -> Result<ListPage, StoreError> {
        self.call(move |c| list_sync(c, &q)).await
    }

    /// Marks every task that was still running (not terminal or interrupted) as FAILED with
    /// `reason`; used at startup because their executors died with the previous process.
    pub(crate) async fn fail_unfinished(&self, reason: &str) -> Result<usize, StoreError> {
        let unfinished = self
            .call(move |c| {
                let sql =
                    format!("SELECT id, task_json FROM tasks WHERE state NOT IN {FINAL_STATES}");
                let rows: Vec<(String, String)> = c
                    .prepare(&sql)?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                rows.iter()
                    .map(|(id, json)| decode(id, json))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        for mut task in unfinished.iter().cloned() {
            task.status = crate::types::TaskStatus {
                state: TaskState::Failed,
                message: Some(crate::types::agent_text_message(
                    reason,
                    &task.id,
                    &task.context_id,
                )),
                timestamp: Some(now()),
            };
            self.put(&task);
        }
        Ok(unfinished.len())
    }
}

/// Runs retention now (normally it runs at open and then every few hundred writes, see
/// `PRUNE_EVERY` in `types.rs`).
pub async fn prune_now(store: &TaskStore) -> Result<(), StoreError> {
    let r = store.retention;
    store.call(move |c| prune(c, &r)).await
}
