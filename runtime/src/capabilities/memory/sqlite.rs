//! The embedded memory store: SQLite in WAL mode with an FTS5 index ranked by BM25.
//! Writes are synchronous (`synchronous=FULL`), so a commit is durable when it returns.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::{parse_scope, scope_name, MemoryBackend};
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
}

#[async_trait]
impl MemoryBackend for SqliteMemory {
    async fn commit(&self, content: &str, scope: Scope) -> Result<String, HostError> {
        let content = content.to_owned();
        let id = self
            .with_conn(move |c| {
                c.execute(
                    "INSERT INTO memories(content, scope) VALUES (?1, ?2)",
                    params![content, scope_name(scope)],
                )?;
                Ok(c.last_insert_rowid())
            })
            .await?;
        Ok(format!("mem-{id}"))
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
                    rows.collect::<rusqlite::Result<Vec<_>>>()?
                }
                None => {
                    let mut stmt = c.prepare_cached(
                        "SELECT id, content, scope, created_at, NULL FROM memories
                         WHERE (?1 IS NULL OR scope = ?1) ORDER BY id DESC LIMIT ?2",
                    )?;
                    let rows = stmt.query_map(params![scope, limit], row_to_entry)?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()?
                }
            };
            Ok(rows)
        })
        .await
    }
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
