//! The task store's SQLite schema, and the upgrade of databases written by older versions.
//!
//! Rows are ordered by `(updated_ms, seq)`: `updated_ms` is the task's status time, `seq` the
//! order in which the store wrote the row. Two status changes in the same millisecond are common
//! on a fast server, so `seq` is what keeps "newest first" (ListTasks, retention) exact.

use rusqlite::Connection;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    context_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    task_json TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_by_context ON tasks(context_id);
";

/// Index used for ordering; replaces `tasks_by_update` (ordered by id) of older databases.
const ORDER_INDEX: &str = "
DROP INDEX IF EXISTS tasks_by_update;
CREATE INDEX IF NOT EXISTS tasks_by_update_seq ON tasks(updated_ms DESC, seq DESC);
";

/// Creates the schema, upgrading an older database in place. Returns the highest `seq` in use,
/// from which the store thread continues numbering its writes.
pub(super) fn prepare(conn: &Connection) -> rusqlite::Result<i64> {
    conn.execute_batch(TABLES)?;
    conn.execute_batch(super::push::PUSH_TABLE)?;
    if !has_seq_column(conn)? {
        // Databases from before `seq` existed: existing rows keep seq 0 and order among
        // themselves by status time only, as before.
        conn.execute_batch("ALTER TABLE tasks ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")?;
    }
    conn.execute_batch(ORDER_INDEX)?;
    let max: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM tasks", [], |r| r.get(0))?;
    Ok(max)
}

/// The number of tasks in each state (by stored state name), the starting point of the
/// store's per-state counts.
pub(super) fn counts(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.prepare("SELECT state, COUNT(*) FROM tasks GROUP BY state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

fn has_seq_column(conn: &Connection) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('tasks')")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names.iter().any(|n| n == "seq"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_a_database_without_seq() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE tasks (id TEXT PRIMARY KEY, context_id TEXT NOT NULL,
               state TEXT NOT NULL, updated_ms INTEGER NOT NULL, task_json TEXT NOT NULL);
             CREATE INDEX tasks_by_update ON tasks(updated_ms DESC, id DESC);
             INSERT INTO tasks VALUES ('a', 'c', 'TASK_STATE_COMPLETED', 5, '{}');",
        )
        .unwrap();
        assert_eq!(prepare(&conn).unwrap(), 0);
        let seq: i64 = conn
            .query_row("SELECT seq FROM tasks WHERE id = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seq, 0);
        let old_index: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'tasks_by_update'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_index, 0, "the id-ordered index is replaced");
        // Idempotent, and reports the highest seq in use.
        conn.execute("UPDATE tasks SET seq = 7", []).unwrap();
        assert_eq!(prepare(&conn).unwrap(), 7);
    }
}
