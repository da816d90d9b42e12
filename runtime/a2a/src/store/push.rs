//! The push-notification configs of tasks (A2A 1.0 §"Push Notifications",
//! `TaskPushNotificationConfig`), kept in the task store's SQLite file in the table
//! `push_configs` keyed by `(task_id, config_id)`: they survive a restart and are deleted with
//! their task (by retention too, see `sql::prune`). Each row holds the config as its 1.0 JSON.

use rusqlite::{params, Connection, OptionalExtension};

use super::sql::read_error;
use super::types::{reason, StoreError};
use super::TaskStore;
use crate::types::TaskPushNotificationConfig;

/// The table, created with the task table (`schema.rs`).
pub(super) const PUSH_TABLE: &str = "
CREATE TABLE IF NOT EXISTS push_configs (
    task_id TEXT NOT NULL,
    config_id TEXT NOT NULL,
    config_json TEXT NOT NULL,
    created_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, config_id)
);
";

fn write_error(path: &str, task_id: &str, e: &rusqlite::Error) -> StoreError {
    StoreError::Write {
        id: task_id.to_string(),
        path: path.to_string(),
        reason: reason(e),
    }
}

fn decode(path: &str, json: &str) -> Result<TaskPushNotificationConfig, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Decode {
        id: "push config".into(),
        path: path.to_string(),
        reason: e.to_string(),
    })
}

fn rows(c: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<Vec<String>> {
    c.prepare_cached(sql)?
        .query_map(args, |r| r.get(0))?
        .collect()
}

impl TaskStore {
    /// Stores `config` (whose `task_id` and `id` are set) for its task, replacing a config
    /// with the same id, once the task exists in the store (writes queued before this call
    /// are applied first). Resolves once committed.
    ///
    /// Errors: [`StoreError::Write`] naming the task (SQLite's reason, or "no such task").
    pub async fn put_push_config(
        &self,
        config: TaskPushNotificationConfig,
    ) -> Result<(), StoreError> {
        self.put_push_config_within(config, usize::MAX)
            .await
            .map(|_| ())
    }

    /// [`put_push_config`](Self::put_push_config) unless the task already has `max` configs
    /// with other ids (checked and written in one step, so concurrent creates cannot pass
    /// the limit together): `Ok(false)` then, nothing written.
    ///
    /// Errors: as [`put_push_config`](Self::put_push_config).
    pub async fn put_push_config_within(
        &self,
        config: TaskPushNotificationConfig,
        max: usize,
    ) -> Result<bool, StoreError> {
        let path = self.path.clone();
        self.call(move |c| {
            let task_id = config.task_id.clone();
            let id = config.id.clone().unwrap_or_default();
            let json = serde_json::to_string(&config).map_err(|e| StoreError::Write {
                id: task_id.clone(),
                path: path.to_string(),
                reason: e.to_string(),
            })?;
            let exists: Option<i64> = c
                .prepare_cached("SELECT 1 FROM tasks WHERE id = ?1")
                .and_then(|mut s| s.query_row([&task_id], |r| r.get(0)).optional())
                .map_err(|e| read_error(&path, &format!("task {task_id}"), &e))?;
            if exists.is_none() {
                return Err(StoreError::Write {
                    id: task_id,
                    path: path.to_string(),
                    reason: "no such task".into(),
                });
            }
            let others: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM push_configs WHERE task_id = ?1 AND config_id != ?2",
                )
                .and_then(|mut s| s.query_row(params![task_id, id], |r| r.get(0)))
                .map_err(|e| read_error(&path, &format!("push configs of {task_id}"), &e))?;
            if usize::try_from(others).unwrap_or(usize::MAX) >= max {
                return Ok(false);
            }
            c.prepare_cached(
                "INSERT INTO push_configs (task_id, config_id, config_json, created_seq)
                 VALUES (?1, ?2, ?3,
                   (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM push_configs))
                 ON CONFLICT(task_id, config_id) DO UPDATE SET config_json = excluded.config_json",
            )
            .and_then(|mut s| s.execute(params![task_id, id, json]))
            .map_err(|e| write_error(&path, &task_id, &e))?;
            Ok(true)
        })
        .await
    }

    /// The config `config_id` of task `task_id`, if stored.
    ///
    /// Errors: [`StoreError::Read`] / [`StoreError::Decode`] naming the file.
    pub async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError> {
        let (task_id, config_id, path) = (
            task_id.to_string(),
            config_id.to_string(),
            self.path.clone(),
        );
        self.call(move |c| {
            let json: Option<String> = rows(
                c,
                "SELECT config_json FROM push_configs WHERE task_id = ?1 AND config_id = ?2",
                &[&task_id, &config_id],
            )
            .map_err(|e| read_error(&path, "a push config", &e))?
            .into_iter()
            .next();
            json.map(|j| decode(&path, &j)).transpose()
        })
        .await
    }

    /// Every config of task `task_id`, oldest first.
    ///
    /// Errors: [`StoreError::Read`] / [`StoreError::Decode`] naming the file.
    pub async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let (task_id, path) = (task_id.to_string(), self.path.clone());
        self.call(move |c| {
            rows(
                c,
                "SELECT config_json FROM push_configs WHERE task_id = ?1 ORDER BY created_seq",
                &[&task_id],
            )
            .map_err(|e| read_error(&path, "push configs", &e))?
            .iter()
            .map(|j| decode(&path, j))
            .collect()
        })
        .await
    }

    /// One page of task `task_id`'s configs, oldest first: at most `limit` configs created
    /// after the one whose sequence number is `after` (0: from the start), and the sequence
    /// number to continue after when more follow (`None`: this is the last page). The
    /// sequence numbers come from the store and only grow, so a page token made from one stays
    /// valid when configs before or after it are deleted.
    ///
    /// Errors: [`StoreError::Read`] / [`StoreError::Decode`] naming the file.
    pub async fn list_push_configs_page(
        &self,
        task_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<TaskPushNotificationConfig>, Option<i64>), StoreError> {
        let (task_id, path) = (task_id.to_string(), self.path.clone());
        let fetch = i64::try_from(limit.max(1))
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        self.call(move |c| {
            let got: Vec<(i64, String)> = c
                .prepare_cached(
                    "SELECT created_seq, config_json FROM push_configs
                     WHERE task_id = ?1 AND created_seq > ?2 ORDER BY created_seq LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![task_id, after, fetch], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect()
                })
                .map_err(|e| read_error(&path, "push configs", &e))?;
            let more = got.len() > limit.max(1);
            let page = &got[..got.len().min(limit.max(1))];
            let next = more.then(|| page.last().map_or(after, |(seq, _)| *seq));
            let configs = page
                .iter()
                .map(|(_, j)| decode(&path, j))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((configs, next))
        })
        .await
    }

    /// Every stored config of every task (read once when delivery starts).
    ///
    /// Errors: [`StoreError::Read`] / [`StoreError::Decode`] naming the file.
    pub async fn all_push_configs(&self) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let path = self.path.clone();
        self.call(move |c| {
            rows(
                c,
                "SELECT config_json FROM push_configs ORDER BY created_seq",
                &[],
            )
            .map_err(|e| read_error(&path, "push configs", &e))?
            .iter()
            .map(|j| decode(&path, j))
            .collect()
        })
        .await
    }

    /// Deletes config `config_id` of task `task_id`; true when it existed.
    ///
    /// Errors: [`StoreError::Write`] naming the task.
    pub async fn delete_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<bool, StoreError> {
        let (task_id, config_id, path) = (
            task_id.to_string(),
            config_id.to_string(),
            self.path.clone(),
        );
        self.call(move |c| {
            c.prepare_cached("DELETE FROM push_configs WHERE task_id = ?1 AND config_id = ?2")
                .and_then(|mut s| s.execute([&task_id, &config_id]))
                .map(|n| n > 0)
                .map_err(|e| write_error(&path, &task_id, &e))
        })
        .await
    }
}
