//! The embedded memory store: SQLite in WAL mode with an FTS5 index ranked by BM25.
//! Writes are synchronous (`synchronous=FULL`), so a commit is durable when it returns.
//! Each entry records its owner (the writing component); `memory_usage` keeps each owner's
//! total bytes, maintained by triggers on insert and delete, so a quota check is one lookup.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, InterruptHandle, OptionalExtension};

use super::{check_query, parse_scope, scope_name, MemoryBackend, Quota, MAX_SEARCH_BYTES};
use crate::bindings::imports::molecule::runtime::memory::{MemoryEntry, Scope};
use crate::bindings::HostError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY,
    content TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS memories_scope ON memories(scope, id);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts
    USING fts5(content, content='memories', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
";

/// What one entry costs its owner's quota besides its content, in bytes: the row, its
/// index entries and its full-text postings take about this much on disk (5000 one-byte
/// entries took ~467 KB). Its owner's and scope's bytes are counted on top.
pub const ENTRY_OVERHEAD: u64 = 256;

/// Version 2: entries have an owner and each owner's bytes — content plus
/// [`ENTRY_OVERHEAD`] plus owner and scope — are summed in `memory_usage`. Run once per
/// store file (tracked by `PRAGMA user_version`); it (re)builds the triggers and the sums.
const OWNERS: &str = "
CREATE TABLE IF NOT EXISTS memory_usage (
    owner TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
DROP TRIGGER IF EXISTS memories_usage_ai;
DROP TRIGGER IF EXISTS memories_usage_ad;
CREATE TRIGGER memories_usage_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memory_usage(owner, bytes) VALUES (new.owner, 256
        + length(CAST(new.content AS BLOB)) + length(CAST(new.owner AS BLOB))
        + length(CAST(new.scope AS BLOB)))
    ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER memories_usage_ad AFTER DELETE ON memories BEGIN
    UPDATE memory_usage SET bytes = bytes - (256
        + length(CAST(old.content AS BLOB)) + length(CAST(old.owner AS BLOB))
        + length(CAST(old.scope AS BLOB)))
    WHERE owner = old.owner;
END;
DELETE FROM memory_usage;
INSERT INTO memory_usage(owner, bytes)
    SELECT owner, SUM(256 + length(CAST(content AS BLOB)) + length(CAST(owner AS BLOB))
        + length(CAST(scope AS BLOB))) FROM memories GROUP BY owner;
PRAGMA user_version = 2;
";

/// The bytes one entry of `content` under `scope` by `owner` counts against a quota.
fn entry_cost(content: &str, scope: Scope, owner: &str) -> u64 {
    ENTRY_OVERHEAD + (content.len() + owner.len() + scope_name(scope).len()) as u64
}

/// Memory backed by one SQLite file (or an in-memory database for tests).
#[derive(Clone)]
pub struct SqliteMemory {
    conn: Arc<Mutex<Connection>>,
    /// Stops the statement running on `conn` (its call's caller gave up).
    interrupt: Arc<InterruptHandle>,
    /// The job holding `conn` now (0: none); locked while it is set, cleared or interrupted.
    running: Arc<Mutex<u64>>,
    next_job: Arc<AtomicU64>,
    /// The store's file name (not its host path, which a guest must not learn), for errors.
    name: Arc<str>,
}

impl SqliteMemory {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating memory directory {}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| anyhow::anyhow!("opening memory store {}: {e}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| anyhow::anyhow!("setting up memory store {}: {e}", path.display()))?;
        let name = path.file_name().map_or_else(
            || "memory store".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::init(conn, &name)
            .map_err(|e| anyhow::anyhow!("preparing memory store {}: {e}", path.display()))
    }

    /// An in-memory store that disappears with the value.
    pub fn in_memory() -> anyhow::Result<Self> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(conn: Connection, name: &str) -> anyhow::Result<Self> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(SqliteMemory {
            interrupt: Arc::new(conn.get_interrupt_handle()),
            conn: Arc::new(Mutex::new(conn)),
            running: Arc::new(Mutex::new(0)),
            next_job: Arc::new(AtomicU64::new(1)),
            name: name.into(),
        })
    }

    /// Runs `f` on the connection on a blocking thread. When the returned future is dropped
    /// (the call's deadline passed, the task was cancelled) before `f` ends, `f` is skipped or
    /// its running statement interrupted, so the connection is free for the next call.
    async fn with_conn<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, HostError> {
        let job = self.next_job.fetch_add(1, Ordering::Relaxed);
        let guard = Abandon {
            job,
            gone: Arc::new(AtomicBool::new(false)),
            running: self.running.clone(),
            interrupt: self.interrupt.clone(),
        };
        let (conn, gone, running) = (self.conn.clone(), guard.gone.clone(), self.running.clone());
        let result = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            {
                let mut now = running.lock().unwrap_or_else(|p| p.into_inner());
                if gone.load(Ordering::Acquire) {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                        Some("the caller gave up before the store was free".into()),
                    ));
                }
                *now = job;
            }
            let out = f(&conn);
            *running.lock().unwrap_or_else(|p| p.into_inner()) = 0;
            out
        })
        .await;
        drop(guard);
        let name = &self.name;
        result
            .map_err(|e| HostError::Failed(format!("memory store {name}: the task failed: {e}")))?
            .map_err(|e| HostError::Failed(format!("memory store {name}: {e}")))
    }

    /// Bytes of content `owner` keeps in this store (one indexed lookup).
    pub async fn kept_bytes(&self, owner: &str) -> Result<u64, HostError> {
        let owner = owner.to_owned();
        self.with_conn(move |c| kept(c, &owner)).await
    }

    async fn insert(
        &self,
        content: &str,
        scope: Scope,
        owner: &str,
        quota: Option<u64>,
    ) -> Result<Option<i64>, HostError> {
        let (content, owner) = (content.to_owned(), owner.to_owned());
        self.with_conn(move |c| {
            let tx = c.unchecked_transaction()?;
            if let Some(quota) = quota {
                let cost = entry_cost(&content, scope, &owner);
                if kept(&tx, &owner)?.saturating_add(cost) > quota {
                    return Ok(None);
                }
            }
            tx.execute(
                "INSERT INTO memories(content, scope, owner) VALUES (?1, ?2, ?3)",
                params![content, scope_name(scope), owner],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Some(id))
        })
        .await
    }
}

/// Marks its job abandoned when dropped, interrupting it if it holds the connection.
struct Abandon {
    job: u64,
    gone: Arc<AtomicBool>,
    running: Arc<Mutex<u64>>,
    interrupt: Arc<InterruptHandle>,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let now = self.running.lock().unwrap_or_else(|p| p.into_inner());
        self.gone.store(true, Ordering::Release);
        if *now == self.job {
            self.interrupt.interrupt();
        }
    }
}

/// Adds owners and (re)builds the usage sums of a store from before version 2.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= 2 {
        return Ok(());
    }
    let has_owner = conn
        .prepare("SELECT 1 FROM pragma_table_info('memories') WHERE name = 'owner'")?
        .exists([])?;
    let tx = conn.unchecked_transaction()?;
    if !has_owner {
        tx.execute_batch("ALTER TABLE memories ADD COLUMN owner TEXT NOT NULL DEFAULT ''")?;
    }
    tx.execute_batch(OWNERS)?;
    tx.commit()
}

/// The bytes `owner` keeps.
fn kept(c: &Connection, owner: &str) -> rusqlite::Result<u64> {
    let bytes: Option<i64> = c
        .query_row(
            "SELECT bytes FROM memory_usage WHERE owner = ?1",
            [owner],
            |r| r.get(0),
        )
        .optional()?;
    Ok(bytes.unwrap_or(0).max(0) as u64)
}

#[async_trait]
impl MemoryBackend for SqliteMemory {
    async fn commit(&self, content: &str, scope: Scope) -> Result<String, HostError> {
        let id = self.insert(content, scope, "", None).await?;
        Ok(format!("mem-{}", id.unwrap_or_default()))
    }

    async fn commit_within(
        &self,
        content: &str,
        scope: Scope,
        quota: Quota<'_>,
    ) -> Result<String, HostError> {
        match self
            .insert(content, scope, quota.owner, Some(quota.bytes))
            .await?
        {
            Some(id) => Ok(format!("mem-{id}")),
            None => Err(quota.refusal()),
        }
    }

    async fn search(
        &self,
        query: &str,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError> {
        check_query(query)?;
        let fts = fts_query(query);
        let scope = scope.map(scope_name);
        self.with_conn(move |c| {
            let rows = match &fts {
                Some(fts) => {
                    let mut stmt = c.prepare_cached(
                        "SELECT m.id, m.content, m.scope, m.created_at, -bm25(memories_fts)
                         FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid
                         WHERE memories_fts MATCH ?1 AND (?2 IS NULL OR m.scope = ?2)
                         ORDER BY bm25(memories_fts) LIMIT ?3",
                    )?;
                    let rows = stmt.query_map(params![fts, scope, limit], row_to_entry)?;
                    bounded(rows)?
                }
                None => {
                    let mut stmt = c.prepare_cached(
                        "SELECT id, content, scope, created_at, NULL FROM memories
                         WHERE (?1 IS NULL OR scope = ?1) ORDER BY id DESC LIMIT ?2",
                    )?;
                    let rows = stmt.query_map(params![scope, limit], row_to_entry)?;
                    bounded(rows)?
                }
            };
            Ok(rows)
        })
        .await
    }
}

/// The rows, read one at a time, until their content would pass [`MAX_SEARCH_BYTES`].
fn bounded(
    rows: impl Iterator<Item = rusqlite::Result<MemoryEntry>>,
) -> rusqlite::Result<Vec<MemoryEntry>> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for row in rows {
        let row = row?;
        total = total.saturating_add(row.content.len());
        if total > MAX_SEARCH_BYTES {
            break;
        }
        out.push(row);
    }
    Ok(out)
}

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<MemoryEntry> {
    let id: i64 = row.get(0)?;
    let scope: String = row.get(2)?;
    Ok(MemoryEntry {
        id: format!("mem-{id}"),
        content: row.get(1)?,
        scope: parse_scope(&scope).unwrap_or(Scope::Local),
        created_at: row.get(3)?,
        score: row.get(4)?,
    })
}

/// Turns free text into an FTS5 query: each word quoted (so operators in user text are
/// inert), any word may match. `None` when the text has no words.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

#[cfg(test)]
mod tests;
