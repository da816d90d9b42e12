//! `memory`: long-term memories with LOCAL / TEAM / GLOBAL scopes. Backends: the embedded
//! SQLite store ([`SqliteMemory`], the standalone default), the awareness service
//! ([`AwarenessMemory`], when `AWARENESS_URL` is set), and the platform's memory endpoints.
//! Content is secret-redacted before any backend sees it.
//!
//! Budgets (from `SandboxLimits.budgets`, applied by [`WriteBudget`] to every guest-reachable
//! write — this capability and the `commit_memory` built-in tool alike): an entry's size as
//! stored, i.e. after redaction (`sandbox.memory_capability.max_entry_bytes`), writes per call
//! or task (`…max_writes_per_call`) and the bytes a component keeps in the store (`…quota`,
//! enforced by the backend inside the write: SQLite keeps a per-owner sum that counts each
//! entry's content plus [`ENTRY_OVERHEAD`] bytes plus its owner and scope). A search query is
//! bounded by [`check_query`]; a search returns at most [`MAX_SEARCH_LIMIT`] entries and
//! [`MAX_SEARCH_BYTES`] of content, and an SQLite search whose caller gave up (deadline,
//! cancellation) is interrupted so the store is free for the next call.

mod awareness;
mod budget;
mod platform;
mod sqlite;

use async_trait::async_trait;

pub use self::awareness::AwarenessMemory;
pub use self::budget::{check_query, WriteBudget, MAX_QUERY_BYTES, MAX_QUERY_TERMS};
pub use self::platform::PlatformMemory;
pub use self::sqlite::{SqliteMemory, ENTRY_OVERHEAD};
use crate::bindings::imports::molecule::runtime::memory::{self, MemoryEntry, Scope};
use crate::bindings::HostError;
use crate::budgets::{Budget, BudgetHit, Budgets};

use super::grant::Granted;

/// Most entries one search may return.
pub const MAX_SEARCH_LIMIT: u32 = 100;

/// Most content one search may return, in bytes (all entries together); entries past it are
/// left out.
pub const MAX_SEARCH_BYTES: usize = 4 << 20;

/// Who writes and how much that writer may keep: the per-component quota of a write.
#[derive(Debug, Clone, Copy)]
pub struct Quota<'a> {
    /// The writer's label (e.g. `skill notes`): its entries are counted together.
    pub owner: &'a str,
    /// Bytes of content the owner may keep in the store, this write included.
    pub bytes: u64,
}

impl Quota<'_> {
    /// The error of a write refused by this quota (counted in `/metrics`).
    pub fn refusal(&self) -> HostError {
        HostError::Failed(BudgetHit::record(Budget::MemoryQuota, self.bytes).to_string())
    }
}

/// Stores and finds memories.
#[async_trait]
pub trait MemoryBackend: Send + Sync {
    /// Stores `content` under `scope`; returns the id once the write is durable.
    async fn commit(&self, content: &str, scope: Scope) -> Result<String, HostError>;
    /// Stores `content` for `quota.owner`, refusing with [`Quota::refusal`] when the owner's
    /// kept bytes would pass `quota.bytes`; the check and the write are one step. The
    /// default stores it as [`MemoryBackend::commit`] does: for backends that cannot count
    /// what an owner keeps (remote services enforce their own limits). Wrappers must forward.
    async fn commit_within(
        &self,
        content: &str,
        scope: Scope,
        quota: Quota<'_>,
    ) -> Result<String, HostError> {
        let _ = quota;
        self.commit(content, scope).await
    }
    /// Finds up to `limit` memories matching `query`, best first.
    async fn search(
        &self,
        query: &str,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError>;
}

/// The `memory` capability of one store: the granted backend and the call's budgets.
pub struct MemoryCtx {
    granted: Granted<dyn MemoryBackend>,
    budget: WriteBudget,
}

impl MemoryCtx {
    /// `granted`, within the memory budgets of `budgets`.
    pub fn new(granted: Granted<dyn MemoryBackend>, budgets: &Budgets) -> Self {
        MemoryCtx {
            granted,
            budget: WriteBudget::new(budgets),
        }
    }
}

impl memory::Host for MemoryCtx {
    async fn commit(&mut self, content: String, scope: Scope) -> Result<String, HostError> {
        let backend = self.granted.get()?;
        let owner = self.granted.component();
        self.budget
            .commit(backend.as_ref(), owner, &content, scope)
            .await
    }

    async fn search(
        &mut self,
        query: String,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError> {
        let backend = self.granted.get()?;
        check_query(&query)?;
        let limit = limit.clamp(1, MAX_SEARCH_LIMIT);
        let mut found = backend.search(&query, scope, limit).await?;
        found.truncate(limit as usize);
        let mut total = 0usize;
        found.retain(|e| {
            total = total.saturating_add(e.content.len());
            total <= MAX_SEARCH_BYTES
        });
        Ok(found)
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
        budgeted(backend, &Budgets::default())
    }

    fn budgeted(backend: Option<Arc<dyn MemoryBackend>>, budgets: &Budgets) -> MemoryCtx {
        let denial = Denial::new("skill notes", "the test");
        MemoryCtx::new(Granted::new("memory", backend, denial), budgets)
    }

    fn hits(budget: Budget) -> u64 {
        crate::budgets::hits()
            .find(|(b, _)| *b == budget)
            .map_or(0, |(_, n)| n)
    }

    #[tokio::test]
    async fn entry_size_writes_per_call_and_the_quota_are_budgeted() {
        let store = Arc::new(SqliteMemory::in_memory().unwrap());
        let backend: Arc<dyn MemoryBackend> = store.clone();
        let budgets = Budgets {
            memory_entry_bytes: 100,
            // Each entry costs its content + 256 + owner (11) + scope (5): 372 for 100 bytes.
            memory_quota_bytes: 1066,
            memory_writes: 4,
            ..Budgets::default()
        };
        let mut call = budgeted(Some(backend.clone()), &budgets);
        let (entry, quota, writes) = (
            hits(Budget::MemoryEntryBytes),
            hits(Budget::MemoryQuota),
            hits(Budget::MemoryWrites),
        );
        let too_big = call.commit("x".repeat(101), Scope::Local).await;
        let Err(HostError::InvalidInput(text)) = too_big else {
            panic!("{too_big:?}")
        };
        assert!(text.contains("memory_capability.max_entry_bytes"), "{text}");
        assert!(text.contains("limited to 100 bytes"), "{text}");
        call.commit("a".repeat(100), Scope::Local).await.unwrap();
        call.commit("b".repeat(100), Scope::Local).await.unwrap();
        let over = call.commit("c".repeat(100), Scope::Local).await;
        let Err(HostError::Failed(text)) = over else {
            panic!("{over:?}")
        };
        assert!(text.contains("sandbox.memory_capability.quota"), "{text}");
        assert_eq!(store.kept_bytes("skill notes").await.unwrap(), 744);
        let fifth = call.commit("d".into(), Scope::Local).await;
        let Err(HostError::Failed(text)) = fifth else {
            panic!("{fifth:?}")
        };
        assert!(text.contains("max_writes_per_call"), "{text}");
        assert!(text.contains("limited to 4 "), "{text}");
        // A new call has its own writes, the quota stays with the component.
        let mut next = budgeted(Some(backend), &budgets);
        next.commit("e".repeat(50), Scope::Local).await.unwrap();
        assert!(next.commit("f".into(), Scope::Local).await.is_err());
        assert_eq!(store.kept_bytes("skill notes").await.unwrap(), 1066);
        assert!(hits(Budget::MemoryEntryBytes) > entry);
        assert!(hits(Budget::MemoryQuota) > quota);
        assert!(hits(Budget::MemoryWrites) > writes);
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

    #[tokio::test]
    async fn the_stored_redacted_size_is_checked_and_big_queries_are_refused() {
        let store = Arc::new(SqliteMemory::in_memory().unwrap());
        let backend: Arc<dyn MemoryBackend> = store.clone();
        let budgets = Budgets {
            memory_entry_bytes: 12,
            ..Budgets::default()
        };
        let mut call = budgeted(Some(backend), &budgets);
        // 7 bytes in, but `token=[REDACTED]`-like once stored: over 12.
        let redacted = crate::redact::redact("token=x");
        assert!(redacted.len() > 12, "{redacted}");
        let refused = call.commit("token=x".into(), Scope::Local).await;
        let Err(HostError::InvalidInput(text)) = refused else {
            panic!("{refused:?}")
        };
        assert!(text.contains("as stored"), "{text}");
        assert!(text.contains("max_entry_bytes"), "{text}");
        assert_eq!(store.kept_bytes("skill notes").await.unwrap(), 0);
        let long = "w ".repeat(600);
        let refused = call.search(long, None, 5).await;
        assert!(
            matches!(&refused, Err(HostError::InvalidInput(t)) if t.contains("1024 bytes")),
            "{refused:?}"
        );
        let many = "w ".repeat(33);
        let refused = call.search(many, None, 5).await;
        assert!(
            matches!(&refused, Err(HostError::InvalidInput(t)) if t.contains("32 words")),
            "{refused:?}"
        );
        assert!(call.search("w ".repeat(32), None, 5).await.is_ok());
    }
}
