//! `memory`: long-term memories with LOCAL / TEAM / GLOBAL scopes. Backends: the embedded
//! SQLite store ([`SqliteMemory`], the standalone default), the awareness service
//! ([`AwarenessMemory`], when `AWARENESS_URL` is set), and the platform's memory endpoints.
//! Content is secret-redacted before any backend sees it.

mod awareness;
mod platform;
mod sqlite;

use async_trait::async_trait;

pub use self::awareness::AwarenessMemory;
pub use self::platform::PlatformMemory;
pub use self::sqlite::SqliteMemory;
use crate::bindings::imports::molecule::runtime::memory::{self, MemoryEntry, Scope};
use crate::bindings::HostError;

use super::grant::Granted;

/// Most entries one search may return.
pub const MAX_SEARCH_LIMIT: u32 = 100;

/// Stores and finds memories.
#[async_trait]
pub trait MemoryBackend: Send + Sync {
    /// Stores `content` under `scope`; returns the id once the write is durable.
    async fn commit(&self, content: &str, scope: Scope) -> Result<String, HostError>;
    /// Finds up to `limit` memories matching `query`, best first.
    async fn search(
        &self,
        query: &str,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError>;
}

/// The `memory` capability of one store.
pub type MemoryCtx = Granted<dyn MemoryBackend>;

impl memory::Host for MemoryCtx {
    async fn commit(&mut self, content: String, scope: Scope) -> Result<String, HostError> {
        let backend = self.get()?;
        if content.trim().is_empty() {
            return Err(HostError::InvalidInput("content: must not be empty".into()));
        }
        backend
            .commit(&crate::redact::redact(&content), scope)
            .await
    }

    async fn search(
        &mut self,
        query: String,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError> {
        let backend = self.get()?;
        backend
            .search(&query, scope, limit.clamp(1, MAX_SEARCH_LIMIT))
            .await
    }
}

/// The contract's spelling of a scope: `LOCAL`, `TEAM`, `GLOBAL`.
pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Local => "LOCAL",
        Scope::Team => "TEAM",
        Scope::Global => "GLOBAL",
    }
}

/// Parses a scope name in any case.
pub fn parse_scope(name: &str) -> Option<Scope> {
    match name.to_ascii_uppercase().as_str() {
        "LOCAL" => Some(Scope::Local),
        "TEAM" => Some(Scope::Team),
        "GLOBAL" => Some(Scope::Global),
        _ => None,
    }
}

/// The capability alone, without a guest: its WIT trait called on a context built here.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::capabilities::Denial;
    use memory::Host as _;

    fn ctx(backend: Option<Arc<dyn MemoryBackend>>) -> MemoryCtx {
        MemoryCtx::new("memory", backend, Denial::new("skill notes", "the test"))
    }

    #[tokio::test]
    async fn ungranted_memory_is_denied_and_granted_memory_redacts_secrets() {
        let mut denied = ctx(None);
        assert_eq!(
            denied.commit("x".into(), Scope::Local).await,
            Err(HostError::Denied(
                "skill notes is not granted `memory`; grant it in the test".into()
            ))
        );
        let backend: Arc<dyn MemoryBackend> = Arc::new(SqliteMemory::in_memory().unwrap());
        let mut granted = ctx(Some(backend));
        assert!(matches!(
            granted.commit("  ".into(), Scope::Local).await,
            Err(HostError::InvalidInput(_))
        ));
        let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789";
        granted
            .commit(format!("the key is {key}"), Scope::Team)
            .await
            .unwrap();
        let found = granted.search("key".into(), None, 500).await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(!found[0].content.contains(key), "{}", found[0].content);
    }
}
