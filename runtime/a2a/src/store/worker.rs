//! The task store's thread: applies each batch from the queue (`queue.rs`) in one transaction
//! and keeps only the newest write of each task, so a busy server pays one commit per batch,
//! not one per status change.

use rusqlite::Connection;

use super::queue::{Job, Queue};
use super::sql::{prune, write_row, Row};
use super::types::Retention;

/// The store thread: applies queued jobs in batches, one transaction per batch.
pub(super) struct Worker {
    conn: Connection,
    retention: Retention,
    /// Row writes since retention last ran.
    writes: u32,
    /// `seq` of the last row written (see `schema.rs`).
    seq: i64,
}

impl Worker {
    /// A worker over `conn` whose next write gets `seq` `last_seq + 1`.
    pub(super) fn new(conn: Connection, retention: Retention, last_seq: i64) -> Self {
        Worker {
            conn,
            retention,
            writes: 0,
            seq: last_seq,
        }
    }

    /// Serves the queue until every [`TaskStore`] handle is dropped (then the queue is drained).
    pub(super) fn run(mut self, queue: &Queue) {
        while let Some(batch) = queue.next_batch() {
            self.apply(batch);
        }
    }

    /// Applies one batch in order inside one transaction. Consecutive puts are coalesced per
    /// task (the newest wins, in the position of its last put, so `seq` follows update order)
    /// and written before the next `Run` job, so reads see every write queued before them.
    fn apply(&mut self, batch: Vec<Job>) {
        let in_tx = match self.conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "a2a task store: cannot begin a transaction");
                false
            }
        };
        let mut pending: Vec<Row> = Vec::new();
        for job in batch {
            match job {
                Job::Put(row) => {
                    if let Some(i) = pending.iter().position(|p| p.task.id == row.task.id) {
                        pending.remove(i);
                    }
                    pending.push(row);
                }
                Job::Run(f) => {
                    self.write_pending(&mut pending);
                    f(&mut self.conn);
                }
            }
        }
        self.write_pending(&mut pending);
        if self.writes >= self.retention.prune_interval() {
            self.writes = 0;
            if let Err(e) = prune(&mut self.conn, &self.retention) {
                tracing::warn!(error = %e, "a2a task store: prune failed");
            }
        }
        if in_tx {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::error!(error = %e, "a2a task store: commit failed; batch lost");
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
    }

    fn write_pending(&mut self, pending: &mut Vec<Row>) {
        for row in pending.drain(..) {
            self.writes = self.writes.saturating_add(1);
            self.seq += 1;
            if let Err(e) = write_row(&mut self.conn, &row, self.seq) {
                tracing::error!(error = %e, task_id = %row.task.id, "a2a task store: write failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::queue::test_put as put;
    use super::*;

    #[test]
    fn coalesces_writes_per_task_and_keeps_the_newest() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn).unwrap();
        let mut worker = Worker::new(conn, Retention::default(), 0);
        let mut newest = put("a");
        if let Job::Put(row) = &mut newest {
            row.task.status.state = crate::types::TaskState::Completed;
        }
        worker.apply(vec![put("a"), put("b"), newest]);
        assert_eq!(worker.writes, 2, "two rows written for three puts");
        let state: String = worker
            .conn
            .query_row("SELECT state FROM tasks WHERE id = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "TASK_STATE_COMPLETED");
    }
}
