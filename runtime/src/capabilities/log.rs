//! `log`: guest log records go to the host's `tracing` log, tagged with the component and
//! counted against the call's output budget ([`LogBudget`], shared with the guest's stdout and
//! stderr): bytes (`sandbox.log.max_bytes`) and records (`sandbox.log.max_records`). Past
//! either, nothing more is written; one notice per call names the budget that was spent.
//! Always granted; there is no other backend.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::bindings::imports::molecule::runtime::log::{self, Level};
use crate::budgets::{Budget, BudgetHit};

/// Longest single record kept, in bytes; longer ones are cut at a character boundary.
const MAX_RECORD: usize = 8 << 10;

/// The `log` capability of one store.
pub struct LogCtx {
    component: Arc<str>,
    budget: LogBudget,
}

impl LogCtx {
    /// Records of the component labelled `component`, within `budget`.
    pub fn new(component: impl Into<Arc<str>>, budget: LogBudget) -> Self {
        LogCtx {
            component: component.into(),
            budget,
        }
    }
}

impl log::Host for LogCtx {
    async fn write(&mut self, level: Level, message: String) {
        let component = &*self.component;
        // One record, and at least a byte, so empty records cannot flood the log either;
        // once a budget is spent, records are dropped (the budget logs that once).
        if !self.budget.take_record(component) {
            return;
        }
        let keep = self
            .budget
            .take(component, message.len().clamp(1, MAX_RECORD));
        if keep == 0 {
            return;
        }
        // Guest text: escaped, so a record is one line and cannot forge others.
        let text = crate::redact::escape(truncate(&message, keep));
        match level {
            Level::Trace => tracing::trace!(target: "guest", component, "{text}"),
            Level::Debug => tracing::debug!(target: "guest", component, "{text}"),
            Level::Info => tracing::info!(target: "guest", component, "{text}"),
            Level::Warn => tracing::warn!(target: "guest", component, "{text}"),
            Level::Error => tracing::error!(target: "guest", component, "{text}"),
        }
    }
}

/// Guest output (stdout, stderr and `log`) still allowed in one call: bytes and records.
/// Shared by the streams of a store (clones share the counters). Once either is spent, all
/// further output is dropped and one notice naming the spent budget is logged.
#[derive(Clone, Debug)]
pub struct LogBudget {
    inner: Arc<Counters>,
}

#[derive(Debug)]
struct Counters {
    max_bytes: usize,
    max_records: u64,
    bytes_left: AtomicUsize,
    records: AtomicU64,
    spent: AtomicBool,
}

impl LogBudget {
    /// A budget of `bytes` of text and `records` records (log calls and output lines).
    pub fn new(bytes: usize, records: u64) -> Self {
        LogBudget {
            inner: Arc::new(Counters {
                max_bytes: bytes,
                max_records: records,
                bytes_left: AtomicUsize::new(bytes),
                records: AtomicU64::new(0),
                spent: AtomicBool::new(false),
            }),
        }
    }

    /// True once either budget is spent: nothing more is written this call.
    pub fn is_spent(&self) -> bool {
        self.inner.spent.load(Ordering::Relaxed)
    }

    /// Takes one record; false (and, the first time, the notice) when the records are spent
    /// or the bytes ran out earlier.
    pub fn take_record(&self, component: &str) -> bool {
        let c = &self.inner;
        if self.is_spent() {
            return false;
        }
        if c.records.fetch_add(1, Ordering::Relaxed) >= c.max_records {
            self.spend(component, Budget::LogRecords, c.max_records);
            return false;
        }
        true
    }

    /// Takes up to `want` bytes and returns how many may be kept; 0 once a budget is spent.
    /// Logs the notice the first time a budget stops output.
    pub fn take(&self, component: &str, want: usize) -> usize {
        if self.is_spent() {
            return 0;
        }
        let mut granted = 0;
        let _ = self
            .inner
            .bytes_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                granted = want.min(left);
                Some(left - granted)
            });
        if granted < want {
            self.spend(component, Budget::LogBytes, self.inner.max_bytes as u64);
        }
        granted
    }

    /// What this call has written so far: (bytes, records). For receipts.
    pub fn used(&self) -> (u64, u64) {
        let c = &self.inner;
        let bytes = c.max_bytes - c.bytes_left.load(Ordering::Relaxed);
        let records = c.records.load(Ordering::Relaxed).min(c.max_records);
        (bytes as u64, records)
    }

    /// Marks the budget spent; the first caller counts the hit and logs the one notice.
    fn spend(&self, component: &str, budget: Budget, limit: u64) {
        if !self.inner.spent.swap(true, Ordering::Relaxed) {
            let hit = BudgetHit::record(budget, limit);
            tracing::warn!(component, "guest output dropped from here on: {hit}");
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(budget: Budget) -> u64 {
        crate::budgets::hits()
            .find(|(b, _)| *b == budget)
            .map_or(0, |(_, n)| n)
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[tokio::test]
    async fn records_past_the_byte_budget_are_dropped_even_empty_ones() {
        use log::Host as _;
        let budget = LogBudget::new(4, 1_000);
        let mut ctx = LogCtx::new("skill s", budget.clone());
        for _ in 0..3 {
            ctx.write(Level::Info, String::new()).await;
        }
        assert_eq!(
            budget.used(),
            (3, 3),
            "three empty records cost three bytes"
        );
        let before = hits(Budget::LogBytes);
        ctx.write(Level::Info, "dropped".into()).await;
        assert!(budget.is_spent());
        for _ in 0..1_000 {
            ctx.write(Level::Info, String::new()).await;
        }
        assert_eq!(budget.take("skill s", 10), 0);
        assert_eq!(budget.used().0, 4);
        assert!(hits(Budget::LogBytes) > before);
    }

    #[tokio::test]
    async fn the_record_budget_stops_output_with_bytes_left() {
        use log::Host as _;
        let budget = LogBudget::new(1 << 20, 5);
        let mut ctx = LogCtx::new("skill s", budget.clone());
        let before = hits(Budget::LogRecords);
        for _ in 0..100 {
            ctx.write(Level::Info, "x".into()).await;
        }
        assert_eq!(budget.used(), (5, 5));
        assert!(budget.is_spent());
        assert!(!budget.take_record("skill s"));
        assert_eq!(budget.take("skill s", 1), 0, "bytes are refused too");
        assert!(hits(Budget::LogRecords) > before);
    }

    #[test]
    fn the_budget_is_shared_and_runs_out() {
        let budget = LogBudget::new(10, 100);
        let other = budget.clone();
        assert_eq!(budget.take("c", 6), 6);
        assert_eq!(other.take("c", 6), 4);
        assert_eq!(budget.take("c", 1), 0);
    }
}
