//! The task store: tasks (with their history and artifacts) kept in SQLite (WAL mode) so they
//! survive a restart, with retention bounded by count and age. All SQLite work runs on one
//! dedicated thread fed by a FIFO queue, so writes stay in order and never block async threads.
//! How that thread batches its work is in `worker.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::types::{now, state_name, Task, TaskState};

mod queue;
mod schema;
mod worker;
use queue::{Producer, Queue};
use worker::Worker;

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

/// Work for the store thread, applied in queue order.
enum Job {
    /// Insert or replace one task row.
    Put(Row),
    /// Run arbitrary SQL work (reads, startup repairs, retention).
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Retention runs after this many row writes, or an eighth of `max_tasks` if that is more:
/// the count bound may be exceeded by that much between runs, and each run costs a scan of
/// up to `max_tasks` index entries.
const PRUNE_EVERY: u32 = 256;

impl Retention {
    /// Row writes between two retention runs.
    fn prune_interval(&self) -> u32 {
        u32::try_from(self.max_tasks / 8)
            .unwrap_or(u32::MAX)
            .max(PRUNE_EVERY)
    }
}

/// Handle to the SQLite task store. Cheap to clone; the worker thread stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct TaskStore {
    queue: Arc<Producer>,
    retention: Retention,
}

const FINAL_STATES: &str = "('TASK_STATE_COMPLETED','TASK_STATE_FAILED','TASK_STATE_CANCELED',\
'TASK_STATE_REJECTED','TASK_STATE_INPUT_REQUIRED','TASK_STATE_AUTH_REQUIRED')";

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
    pub async fn fail_unfinished(&self, reason: &str) -> Result<usize, StoreError> {
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

/// A queued task write: the task as of the write, and its status time.
struct Row {
    updated_ms: i64,
    task: Box<Task>,
}

/// A queued write of a WORKING task `id` (unit tests of the queue and the worker).
#[cfg(test)]
fn test_put(id: &str) -> Job {
    Job::Put(Row {
        updated_ms: 0,
        task: Box::new(Task {
            id: id.into(),
            context_id: "c".into(),
            status: crate::types::TaskStatus {
                state: TaskState::Working,
                message: None,
                timestamp: None,
            },
            artifacts: None,
            history: None,
            metadata: None,
        }),
    })
}

fn decode(id: &str, json: &str) -> Result<Task, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Decode {
        id: id.to_string(),
        source,
    })
}

/// Writes `row` as the store's `seq`-th write (see `schema.rs` for what `seq` orders).
fn write_row(c: &mut Connection, row: &Row, seq: i64) -> Result<(), StoreError> {
    let task = &row.task;
    let json = serde_json::to_string(task).map_err(StoreError::Encode)?;
    c.prepare_cached(
        "INSERT INTO tasks (id, context_id, state, updated_ms, task_json, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET context_id = excluded.context_id,
           state = excluded.state, updated_ms = excluded.updated_ms,
           task_json = excluded.task_json, seq = excluded.seq",
    )?
    .execute(params![
        task.id,
        task.context_id,
        state_name(&task.status.state),
        row.updated_ms,
        json,
        seq
    ])?;
    Ok(())
}

fn prune(c: &mut Connection, r: &Retention) -> Result<(), StoreError> {
    let age_ms = i64::try_from(r.max_age.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now().timestamp_millis().saturating_sub(age_ms);
    c.execute(
        &format!("DELETE FROM tasks WHERE updated_ms < ?1 AND state IN {FINAL_STATES}"),
        [cutoff],
    )?;
    let keep = i64::try_from(r.max_tasks).unwrap_or(i64::MAX);
    c.execute(
        &format!(
            "DELETE FROM tasks WHERE state IN {FINAL_STATES} AND id IN \
             (SELECT id FROM tasks ORDER BY updated_ms DESC, seq DESC LIMIT -1 OFFSET ?1)"
        ),
        [keep],
    )?;
    Ok(())
}

/// Runs retention now (normally it runs at open and then every few hundred writes, see
/// [`PRUNE_EVERY`]).
pub async fn prune_now(store: &TaskStore) -> Result<(), StoreError> {
    let r = store.retention;
    store.call(move |c| prune(c, &r)).await
}

fn list_sync(c: &mut Connection, q: &ListQuery) -> Result<ListPage, StoreError> {
    let mut filters: Vec<String> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(ctx) = &q.context_id {
        args.push(ctx.clone().into());
        filters.push(format!("context_id = ?{}", args.len()));
    }
    if let Some(s) = &q.state {
        args.push(state_name(s).to_string().into());
        filters.push(format!("state = ?{}", args.len()));
    }
    if let Some(after) = q.updated_after_ms {
        args.push(after.into());
        filters.push(format!("updated_ms >= ?{}", args.len()));
    }
    let where_all = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let count_args = args.clone();
    if let Some((ms, seq)) = q.after {
        args.push(ms.into());
        let a = args.len();
        args.push(seq.into());
        let b = args.len();
        filters.push(format!(
            "(updated_ms < ?{a} OR (updated_ms = ?{a} AND seq < ?{b}))"
        ));
    }
    let where_page = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let limit = q.page_size.clamp(1, 100);
    args.push(i64::try_from(limit + 1).unwrap_or(101).into());
    let sql = format!(
        "SELECT id, updated_ms, seq, task_json FROM tasks {where_page} \
         ORDER BY updated_ms DESC, seq DESC LIMIT ?{}",
        args.len()
    );
    let rows: Vec<(String, i64, i64, String)> = c
        .prepare(&sql)?
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let more = rows.len() > limit;
    // A first page that holds every match is its own count.
    let total = if q.after.is_none() && !more {
        rows.len()
    } else {
        let n: i64 = c.query_row(
            &format!("SELECT COUNT(*) FROM tasks {where_all}"),
            rusqlite::params_from_iter(count_args.iter()),
            |r| r.get(0),
        )?;
        usize::try_from(n).unwrap_or(0)
    };
    let mut tasks = Vec::with_capacity(limit);
    let mut last = None;
    for (id, ms, seq, json) in rows.into_iter().take(limit) {
        tasks.push(decode(&id, &json)?);
        last = Some((ms, seq));
    }
    let next_page_token = match (more, last) {
        (true, Some((ms, seq))) => format!("{ms}:{seq}"),
        _ => String::new(),
    };
    Ok(ListPage {
        tasks,
        next_page_token,
        total_size: total,
    })
}

/// Parses a page token produced by [`TaskStore::list`].
pub fn parse_page_token(token: &str) -> Option<(i64, i64)> {
    let (ms, seq) = token.split_once(':')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
