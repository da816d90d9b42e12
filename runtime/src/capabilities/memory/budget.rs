//! The budgets every memory write and search goes through, whoever calls: the `memory`
//! capability of a skill ([`super::MemoryCtx`]) and the `commit_memory` / `search_memory`
//! built-in tools of an adapter's task. A write is redacted first and its stored (redacted)
//! size is checked against `sandbox.memory_capability.max_entry_bytes`; writes are counted
//! against `…max_writes_per_call` (per call, or per task for the built-ins); the backend
//! checks the owner's quota (`…quota`) in the same step as the write. A search query is
//! bounded to [`MAX_QUERY_BYTES`] and [`MAX_QUERY_TERMS`] words before any backend sees it.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{MemoryBackend, Quota};
use crate::bindings::imports::molecule::runtime::memory::Scope;
use crate::bindings::HostError;
use crate::budgets::{Budget, BudgetHit, Budgets};

/// Longest search query, in bytes (UTF-8).
pub const MAX_QUERY_BYTES: usize = 1024;

/// Most words (runs of letters and digits) a search query may have.
pub const MAX_QUERY_TERMS: usize = 32;

/// The write budgets of one call (a skill's capability) or one task (the built-in tools).
#[derive(Debug)]
pub struct WriteBudget {
    entry_bytes: u64,
    quota_bytes: u64,
    max_writes: u64,
    writes: AtomicU64,
}

impl WriteBudget {
    /// The memory budgets of `budgets`, no write made yet.
    pub fn new(budgets: &Budgets) -> Self {
        WriteBudget {
            entry_bytes: budgets.memory_entry_bytes,
            quota_bytes: budgets.memory_quota_bytes,
            max_writes: budgets.memory_writes,
            writes: AtomicU64::new(0),
        }
    }

    /// Counts one write and returns `content` as it will be stored (redacted), or the
    /// budget it passes: writes (`Failed`), the stored size or an empty text (`InvalidInput`).
    pub fn admit(&self, content: &str) -> Result<String, HostError> {
        let writes = self
            .writes
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if writes > self.max_writes {
            let hit = BudgetHit::record(Budget::MemoryWrites, self.max_writes);
            return Err(HostError::Failed(hit.to_string()));
        }
        // A text over twice the limit is refused before any work is spent redacting it.
        if content.len() as u64 > self.entry_bytes.saturating_mul(2) {
            return Err(self.too_big(content.len()));
        }
        let stored = crate::redact::redact(content);
        if stored.len() as u64 > self.entry_bytes {
            return Err(self.too_big(stored.len()));
        }
        if stored.trim().is_empty() {
            return Err(HostError::InvalidInput("content: must not be empty".into()));
        }
        Ok(stored)
    }

    fn too_big(&self, len: usize) -> HostError {
        let hit = BudgetHit::record(Budget::MemoryEntryBytes, self.entry_bytes);
        HostError::InvalidInput(format!("content: {len} bytes as stored; {hit}"))
    }

    /// Admits `content` and stores it for `owner` within the quota: the only write path
    /// guest-reachable code uses.
    pub async fn commit(
        &self,
        backend: &dyn MemoryBackend,
        owner: &str,
        content: &str,
        scope: Scope,
    ) -> Result<String, HostError> {
        let stored = self.admit(content)?;
        let quota = Quota {
            owner,
            bytes: self.quota_bytes,
        };
        backend.commit_within(&stored, scope, quota).await
    }
}

/// Refuses a query longer than [`MAX_QUERY_BYTES`] or with more than [`MAX_QUERY_TERMS`]
/// words (`InvalidInput`, naming the limit).
pub fn check_query(query: &str) -> Result<(), HostError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(HostError::InvalidInput(format!(
            "query: {} bytes; a memory search query is limited to {MAX_QUERY_BYTES} bytes",
            query.len()
        )));
    }
    let terms = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count();
    if terms > MAX_QUERY_TERMS {
        return Err(HostError::InvalidInput(format!(
            "query: {terms} words; a memory search query is limited to {MAX_QUERY_TERMS} words"
        )));
    }
    Ok(())
}
