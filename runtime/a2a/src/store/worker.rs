//! The task store's thread: applies each batch from the queue (`queue.rs`), keeping only the
//! newest write of each task, so a busy server pays one commit per batch, not one per status
//! change. Writes are committed before the next read runs (a read never sees a write that
//! could still be rolled back) and before their waiters hear "stored"; a write that fails is
//! answered to its waiters with the error naming the task and the file, counted, and
//! remembered so a read of that task does not answer an older version. A failed transaction
//! leaves nothing behind: the next batch starts afresh (a full disk that frees up is written
//! to again). A task whose newest write failed is written again — after the next commit that
//! succeeds, or before a read at most once a second — until it is stored or a newer write of
//! it replaces it, so a final state lost to a full disk is stored once space returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::durable::Ack;
use super::queue::{Job, Queue};
use super::sql::{prune, write_row, Row};
use super::stats::{Delta, Stats};
use super::types::{reason, Retention, StoreError};

/// Failure log lines are at most one per this interval (each failure is still answered to
/// its client and counted).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Failed writes kept to be written again; past it, a failed write is answered and
/// remembered as lost (reads answer its error) but not retried.
const MAX_RETRY: usize = 1024;

/// Without a commit succeeding meanwhile, failed writes are retried at most this often.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// One task's newest queued write, and everyone waiting on any of its writes in this batch.
struct Pending {
    row: Row,
    acks: Vec<Ack>,
}

/// The store thread: applies queued jobs in batches.
pub(super) struct Worker {
    conn: Connection,
    /// The database file, for error texts.
    path: Arc<str>,
    retention: Retention,
    stats: Arc<Stats>,
    /// Row writes since retention last ran.
    writes: u32,
    /// `seq` of the last row written (see `schema.rs`).
    seq: i64,
    /// When a write failure was last logged, and how many failed since.
    last_log: Option<Instant>,
    unlogged: u64,
    /// The newest failed write of each task not stored since, to be written again.
    retry: HashMap<String, Row>,
    /// A transaction committed since failed writes were last retried.
    committed: bool,
    /// When failed writes were last retried.
    last_retry: Option<Instant>,
}

impl Worker {
    /// A worker over `conn` (the file at `path`) whose next write gets `seq` `last_seq + 1`.
    pub(super) fn new(
        conn: Connection,
        path: Arc<str>,
        retention: Retention,
        stats: Arc<Stats>,
        last_seq: i64,
    ) -> Self {
        Worker {
            conn,
            path,
            retention,
            stats,
            writes: 0,
            seq: last_seq,
            last_log: None,
            unlogged: 0,
            retry: HashMap::new(),
            committed: false,
            last_retry: None,
        }
    }

    /// Serves the queue until every [`TaskStore`] handle is dropped (then the queue is drained).
    pub(super) fn run(mut self, queue: &Queue) {
        while let Some(batch) = queue.next_batch() {
            self.apply(batch);
        }
    }

    /// Applies one batch in order. Consecutive puts are coalesced per task (the newest wins,
    /// in the position of its last put, so `seq` follows update order) and committed before
    /// the next `Run` job, so reads see every write queued before them, committed.
    fn apply(&mut self, batch: Vec<Job>) {
        let mut pending: Vec<Pending> = Vec::new();
        for job in batch {
            match job {
                Job::Put { row, acks, .. } => {
                    self.retry.remove(&row.task.id);
                    queue_row(&mut pending, row, acks)
                }
                Job::Run(f) => {
                    self.commit(std::mem::take(&mut pending));
                    self.retry_failed();
                    f(&mut self.conn);
                }
            }
        }
        self.commit(pending);
        self.retry_failed();
        if self.writes >= self.retention.prune_interval() {
            self.writes = 0;
            match prune(&mut self.conn, &self.retention) {
                Ok(delta) => self.stats.apply(&delta),
                Err(e) => tracing::warn!(
                    "a2a task store: pruning old tasks in {}: {}",
                    self.path,
                    reason(&e)
                ),
            }
        }
    }

    /// Writes `rows` in one transaction and answers their waiters. When that transaction
    /// fails, each row is tried again in its own, so one bad row does not sink the others.
    fn commit(&mut self, rows: Vec<Pending>) {
        if rows.is_empty() {
            return;
        }
        self.writes = self.writes.saturating_add(rows.len() as u32);
        match self.transaction(rows.iter().map(|p| &p.row)) {
            Ok(()) => {
                for p in rows {
                    self.stored(p);
                }
            }
            Err(_) if rows.len() > 1 => {
                for p in rows {
                    match self.transaction(std::iter::once(&p.row)) {
                        Ok(()) => self.stored(p),
                        Err(e) => self.failed(p, &e),
                    }
                }
            }
            Err(e) => {
                for p in rows {
                    self.failed(p, &e);
                }
            }
        }
    }

    /// Writes `rows` and commits, or rolls everything back and returns SQLite's error.
    fn transaction<'r>(&mut self, rows: impl Iterator<Item = &'r Row>) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut delta = Delta::default();
        let mut n = 0;
        let mut result = Ok(());
        for row in rows {
            self.seq += 1;
            n += 1;
            result = write_row(&mut self.conn, row, self.seq, &mut delta);
            if result.is_err() {
                break;
            }
        }
        let result = result.and_then(|()| self.conn.execute_batch("COMMIT"));
        match result {
            Ok(()) => {
                self.committed = true;
                self.stats.committed(n, &delta);
                Ok(())
            }
            Err(e) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                Err(e)
            }
        }
    }

    /// `p` is committed: its waiters hear so.
    fn stored(&self, p: Pending) {
        self.stats.written(&p.row.task.id);
        for ack in p.acks {
            let _ = ack.send(Ok(()));
        }
    }

    /// `p` was not stored: its waiters get the error, which is counted, logged (rate-limited)
    /// and remembered for reads of the task.
    fn failed(&mut self, p: Pending, e: &rusqlite::Error) {
        let error = StoreError::Write {
            id: p.row.task.id.clone(),
            path: self.path.to_string(),
            reason: reason(e),
        };
        self.stats.write_failed(&p.row.task.id, &error);
        self.log_failure(&error);
        for ack in p.acks {
            let _ = ack.send(Err(error.clone()));
        }
        let id = &p.row.task.id;
        if self.retry.len() < MAX_RETRY || self.retry.contains_key(id) {
            self.retry.insert(id.clone(), p.row);
        }
    }

    /// Writes failed writes again, each in its own transaction, when a commit succeeded
    /// since the last try (space may have returned) or [`RETRY_EVERY`] has passed. One that
    /// is stored is no longer lost; one that fails again waits for the next try (not counted
    /// or logged again: its failure was answered).
    fn retry_failed(&mut self) {
        if self.retry.is_empty() {
            self.committed = false;
            return;
        }
        let due = self.last_retry.is_none_or(|at| at.elapsed() >= RETRY_EVERY);
        if !self.committed && !due {
            return;
        }
        self.last_retry = Some(Instant::now());
        let mut rows: Vec<Row> = self.retry.drain().map(|(_, row)| row).collect();
        rows.sort_by_key(|row| row.updated_ms);
        for row in rows {
            match self.transaction(std::iter::once(&row)) {
                Ok(()) => self.stats.written(&row.task.id),
                Err(_) => {
                    self.retry.insert(row.task.id.clone(), row);
                }
            }
        }
        self.committed = false;
    }

    fn log_failure(&mut self, error: &StoreError) {
        let due = self.last_log.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if !due {
            self.unlogged += 1;
            return;
        }
        tracing::error!(
            more_failures_since_last_report = self.unlogged,
            "a2a task store: {error}; whoever waits on this write gets this error"
        );
        self.last_log = Some(Instant::now());
        self.unlogged = 0;
    }
}

/// Adds a put to the batch: a newer write of a task replaces the queued one (taking over its
/// waiters) and moves to the end.
fn queue_row(pending: &mut Vec<Pending>, row: Row, newer: Vec<Ack>) {
    let mut acks = match pending.iter().position(|p| p.row.task.id == row.task.id) {
        Some(i) => pending.remove(i).acks,
        None => Vec::with_capacity(newer.len()),
    };
    acks.extend(newer);
    pending.push(Pending { row, acks });
}

#[cfg(test)]
mod tests {
    use super::super::queue::test_put as put;
    use super::*;

    fn worker() -> Worker {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn).unwrap();
        Worker::new(
            conn,
            "mem".into(),
            Retention::default(),
            Arc::new(Stats::default()),
            0,
        )
    }

    #[test]
    fn coalesces_writes_per_task_and_keeps_the_newest() {
        let mut worker = worker();
        let mut newest = put("a");
        if let Job::Put { row, .. } = &mut newest {
            row.task.status.state = crate::types::TaskState::Completed;
        }
        worker.apply(vec![put("a"), put("b"), newest]);
        assert_eq!(worker.writes, 2, "two rows written for three puts");
        let state: String = worker
            .conn
            .query_row("SELECT state FROM tasks WHERE id = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "TASK_STATE_COMPLETED");
        let m = worker.stats.snapshot();
        let count = |s| m.tasks_by_state.iter().find(|(x, _)| *x == s).unwrap().1;
        assert_eq!(count(crate::types::TaskState::Completed), 1);
        assert_eq!(count(crate::types::TaskState::Working), 1);
        assert_eq!((m.commits, m.rows_written), (1, 2));
    }
}
