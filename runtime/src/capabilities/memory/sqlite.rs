//! The embedded memory store: SQLite in WAL mode with an FTS5 index ranked by BM25.
//! Writes are synchronous (`synchronous=FULL`), so a commit is durable when it returns.
//! Each entry records its owner (the writing component); `memory_usage` keeps each owner's
//! total bytes, maintained by triggers on insert and delete, so a quota check is one lookup.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::{parse_scope, scope_name, MemoryBackend, Quota, MAX_SEARCH_BYTES};
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

/// Version 1: entries have an owner and each owner's bytes are summed in `memory_usage`.
/// Run once per store file (tracked by `PRAGMA user_version`); it backfills the sums.
const OWNERS: &str = "
CREATE TABLE IF NOT EXISTS memory_usage (
    owner TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS memories_usage_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memory_usage(owner, bytes) VALUES (new.owner, length(CAST(new.content AS BLOB)))
    ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS memories_usage_ad AFTER DELETE ON memories BEGIN
    UPDATE memory_usage SET bytes = bytes - length(CAST(old.content AS BLOB))
    WHERE owner = old.owner;
END;
DELETE FROM memory_usage;
INSERT INTO memory_usage(owner, bytes)
    SELECT owner, SUM(length(CAST(content AS BLOB))) FROM memories GROUP BY owner;
PRAGMA user_version = 1;
";

/// Memory backed by one SQLite file (or an in-memory database for tests).
#[derive(Clone)]
pub struct SqliteMemory {
    conn: Arc<Mutex<Connection>>,
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
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn)
            .map_err(|e| anyhow::anyhow!("preparing memory store {}: {e}", path.display()))
    }

    /// An in-memory store that disappears with the value.
    pub fn in_memory() -> anyhow::Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> anyhow::Result<Self> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(SqliteMemory {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with_conn<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, HostError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| HostError::Failed(format!("memory store task failed: {e}")))?
        .map_err(|e| HostError::Failed(format!("memory store: {e}")))
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
                let len = content.len() as u64;
                if kept(&tx, &owner)?.saturating_add(len) > quota {
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

/// Adds owners and the usage sums to a store that lacks them.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= 1 {
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
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_and_ranks() {
        let store = SqliteMemory::in_memory().unwrap();
        store
            .commit("the deploy key rotates on Mondays", Scope::Local)
            .await
            .unwrap();
        store.commit("lunch is at noon", Scope::Team).await.unwrap();
        store
            .commit("deploy deploy deploy checklist", Scope::Local)
            .await
            .unwrap();
        let hits = store.search("deploy", None, 10).await.unwrap();
        assert_eq!(hits.len(), 2);
        assert!(hits[0].content.contains("checklist"), "{hits:?}");
        let team = store.search("", Some(Scope::Team), 10).await.unwrap();
        assert_eq!(team.len(), 1);
        assert_eq!(team[0].content, "lunch is at noon");
        let none = store.search("AND OR NOT \"(", None, 10).await.unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn usage_is_summed_per_owner_and_backfilled_for_old_stores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            // A store from before owners: no owner column, no usage table.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO memories(content, scope) VALUES ('héllo', 'LOCAL')",
                [],
            )
            .unwrap();
        }
        let store = SqliteMemory::open(&path).unwrap();
        assert_eq!(
            store.kept_bytes("").await.unwrap(),
            6,
            "backfilled, in bytes"
        );
        let quota = |bytes| Quota {
            owner: "skill a",
            bytes,
        };
        store
            .commit_within("0123456789", Scope::Local, quota(15))
            .await
            .unwrap();
        let refused = store
            .commit_within("0123456789", Scope::Local, quota(15))
            .await;
        assert!(matches!(refused, Err(HostError::Failed(_))), "{refused:?}");
        assert_eq!(store.kept_bytes("skill a").await.unwrap(), 10);
        assert_eq!(store.kept_bytes("").await.unwrap(), 6);
        store
            .with_conn(|c| c.execute("DELETE FROM memories WHERE owner = 'skill a'", []))
            .await
            .unwrap();
        assert_eq!(store.kept_bytes("skill a").await.unwrap(), 0);
        drop(store);
        let reopened = SqliteMemory::open(&path).unwrap();
        assert_eq!(reopened.kept_bytes("").await.unwrap(), 6, "migrated once");
    }

    #[tokio::test]
    async fn a_search_returns_a_bounded_amount_of_content() {
        let store = SqliteMemory::in_memory().unwrap();
        let big = "word ".repeat((1 << 20) / 5);
        for _ in 0..6 {
            store.commit(&big, Scope::Local).await.unwrap();
        }
        let found = store.search("word", None, 100).await.unwrap();
        let total: usize = found.iter().map(|e| e.content.len()).sum();
        assert!(total <= MAX_SEARCH_BYTES, "{total}");
        assert_eq!(found.len(), 4);
    }

    #[tokio::test]
    async fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let id = SqliteMemory::open(&path)
            .unwrap()
            .commit("persisted fact", Scope::Global)
            .await
            .unwrap();
        let hits = SqliteMemory::open(&path)
            .unwrap()
            .search("fact", None, 5)
            .await
            .unwrap();
        assert_eq!(hits[0].id, id);
        assert_eq!(hits[0].scope, Scope::Global);
    }
}
