//! The workspace's guest-memory budget (`sandbox.admission.max_guest_memory`): every store's
//! limiter counts the linear memory it grants against one account per engine, and gives it
//! back when the store drops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::gauges::GAUGES;
use crate::budgets::{Budget, BudgetHit};

/// Guest linear memory granted across every live store of a workspace, against
/// `max_guest_memory`. Each store holds a [`MemoryLease`] that gives its bytes back on drop.
#[derive(Debug)]
pub struct GuestMemory {
    in_use: AtomicU64,
    limit: AtomicU64,
}

impl GuestMemory {
    /// An account of at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        GuestMemory {
            in_use: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
        }
    }

    /// The budget, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    pub(super) fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes granted now.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// An empty lease for one store.
    pub fn lease(self: &Arc<Self>) -> MemoryLease {
        MemoryLease {
            account: self.clone(),
            bytes: 0,
        }
    }
}

/// One store's share of its workspace's [`GuestMemory`], returned when the store drops.
#[derive(Debug)]
pub struct MemoryLease {
    account: Arc<GuestMemory>,
    bytes: u64,
}

impl MemoryLease {
    /// Takes `bytes` more, or fails with a [`Budget::GuestMemory`] hit (counted) when the
    /// workspace's budget would be passed.
    pub fn grow(&mut self, bytes: u64) -> Result<(), BudgetHit> {
        let limit = self.account.limit();
        let took = self
            .account
            .in_use
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            });
        if took.is_err() {
            return Err(BudgetHit::record(Budget::GuestMemory, limit));
        }
        GAUGES.memory.fetch_add(bytes, Ordering::Relaxed);
        self.bytes += bytes;
        Ok(())
    }

    /// Bytes this store holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        self.account.in_use.fetch_sub(self.bytes, Ordering::Relaxed);
        GAUGES.memory.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_leases_share_the_budget_and_give_back_on_drop() {
        let account = Arc::new(GuestMemory::new(100));
        let mut a = account.lease();
        let mut b = account.lease();
        a.grow(60).unwrap();
        let hit = b.grow(60).expect_err("60 + 60 > 100");
        assert_eq!(hit.budget, Budget::GuestMemory);
        assert!(hit
            .to_string()
            .contains("sandbox.admission.max_guest_memory"));
        b.grow(40).unwrap();
        assert_eq!(account.in_use(), 100);
        drop(a);
        assert_eq!(account.in_use(), 40);
        b.grow(60).unwrap();
        drop(b);
        assert_eq!(account.in_use(), 0);
    }
}
