//! The SQL the store thread runs on its connection: writing a task row (and how it changes
//! the per-state counts), reading rows back, ListTasks with keyset pagination (and its page
//! tokens), and retention.

use rusqlite::{params, Connection, OptionalExtension};

use super::stats::{state_index, Delta};
use super::types::{reason, ListPage, ListQuery, Retention, StoreError};
use crate::types::{now, state_name, Task};

/// The states a task never leaves without client input (terminal or interrupted): only these
/// are ever pruned, and tasks in any other state were running.
pub(super) const FINAL_STATES: &str =
    "('TASK_STATE_COMPLETED','TASK_STATE_FAILED','TASK_STATE_CANCELED',\
'TASK_STATE_REJECTED','TASK_STATE_INPUT_REQUIRED','TASK_STATE_AUTH_REQUIRED')";

/// A queued task write: the task as of the write, and its status time.
pub(super) struct Row {
    pub(super) updated_ms: i64,
    pub(super) task: Box<Task>,
}

/// Decodes the stored JSON of task `id` read from the store at `path`.
pub(super) fn decode(path: &str, id: &str, json: &str) -> Result<Task, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Decode {
        id: id.to_string(),
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// A read error: reading `what` from the store at `path` failed with `e`.
pub(super) fn read_error(path: &str, what: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::Read {
        what: what.to_string(),
        path: path.to_string(),
        reason: reason(e),
    }
}

/// Writes `row` as the store's `seq`-th write (see `schema.rs` for what `seq` orders),
/// adding the change of its state to `delta`.
pub(super) fn write_row(
    c: &mut Connection,
    row: &Row,
    seq: i64,
    delta: &mut Delta,
) -> rusqlite::Result<()> {
    let task = &row.task;
    let json = serde_json::to_string(task)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let before: Option<String> = c
        .prepare_cached("SELECT state FROM tasks WHERE id = ?1")?
        .query_row([&task.id], |r| r.get(0))
        .optional()?;
    let state = state_name(&task.status.state);
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
        state,
        row.updated_ms,
        json,
        seq
    ])?;
    if let Some(i) = before.as_deref().and_then(state_index) {
        delta[i] -= 1;
    }
    if let Some(i) = state_index(state) {
        delta[i] += 1;
    }
    Ok(())
}

/// Deletes final tasks older than the retention age, then all but the newest `max_tasks`
/// (only final tasks are ever deleted). Returns the change of the per-state counts.
pub(super) fn prune(c: &mut Connection, r: &Retention) -> rusqlite::Result<Delta> {
    let age_ms = i64::try_from(r.max_age.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now().timestamp_millis().saturating_sub(age_ms);
    let mut delta = Delta::default();
    let mut deleted = |sql: &str, arg: i64| -> rusqlite::Result<()> {
        let mut stmt = c.prepare(sql)?;
        let mut rows = stmt.query([arg])?;
        while let Some(row) = rows.next()? {
            let state: String = row.get(0)?;
            if let Some(i) = state_index(&state) {
                delta[i] -= 1;
            }
        }
        Ok(())
    };
    deleted(
        &format!(
            "DELETE FROM tasks WHERE updated_ms < ?1 AND state IN {FINAL_STATES} \
             RETURNING state"
        ),
        cutoff,
    )?;
    let keep = i64::try_from(r.max_tasks).unwrap_or(i64::MAX);
    deleted(
        &format!(
            "DELETE FROM tasks WHERE state IN {FINAL_STATES} AND id IN \
             (SELECT id FROM tasks ORDER BY updated_ms DESC, seq DESC LIMIT -1 OFFSET ?1) \
             RETURNING state"
        ),
        keep,
    )?;
    // A task's push configs go with it.
    // (The table is `push_configs`, see push.rs.)
    c.execute(
        "DELETE FROM push_configs WHERE task_id NOT IN (SELECT id FROM tasks)",
        [],
    )?;
    Ok(delta)
}

/// One ListTasks page, newest status first, and the token of the next page, from the store
/// at `path`.
pub(super) fn list_sync(
    c: &mut Connection,
    q: &ListQuery,
    path: &str,
) -> Result<ListPage, StoreError> {
    let fail = |e: rusqlite::Error| read_error(path, "a task list", &e);
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
        .prepare(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(fail)?;
    let more = rows.len() > limit;
    // A first page that holds every match is its own count.
    let total = if q.after.is_none() && !more {
        rows.len()
    } else {
        let n: i64 = c
            .query_row(
                &format!("SELECT COUNT(*) FROM tasks {where_all}"),
                rusqlite::params_from_iter(count_args.iter()),
                |r| r.get(0),
            )
            .map_err(fail)?;
        usize::try_from(n).unwrap_or(0)
    };
    let mut tasks = Vec::with_capacity(limit);
    let mut last = None;
    for (id, ms, seq, json) in rows.into_iter().take(limit) {
        tasks.push(decode(path, &id, &json)?);
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

/// Parses a page token produced by [`TaskStore::list`](super::TaskStore::list).
pub fn parse_page_token(token: &str) -> Option<(i64, i64)> {
    let (ms, seq) = token.split_once(':')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
