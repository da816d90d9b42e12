//! `log`: guest log records go to the host's `tracing` log, tagged with the component and
//! counted against the call's output budget ([`LogBudget`], shared with the guest's stdout and
//! stderr). Always granted; there is no other backend.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::bindings::imports::molecule::runtime::log::{self, Level};

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
        // Every record costs at least a byte, so empty records cannot flood the log either;
        // once the budget is spent, records are dropped (the budget logs that once).
        let want = message.len().clamp(1, MAX_RECORD);
        let keep = self.budget.take(component, want);
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

/// Bytes of guest output (stdout, stderr and `log`) still allowed in one call. Shared by the
/// streams of a store; once spent, further output is dropped and one note is logged.
#[derive(Clone, Debug)]
pub struct LogBudget {
    remaining: Arc<AtomicUsize>,
    noted: Arc<AtomicBool>,
}

impl LogBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        LogBudget {
            remaining: Arc::new(AtomicUsize::new(bytes)),
            noted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Takes up to `want` bytes from the budget and returns how many may be kept. Logs once
    /// when the budget runs out.
    pub fn take(&self, component: &str, want: usize) -> usize {
        let mut granted = 0;
        let _ = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                granted = want.min(left);
                Some(left - granted)
            });
        if granted < want && !self.noted.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                component,
                "guest output budget spent; dropping further output"
            );
        }
        granted
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
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

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[tokio::test]
    async fn records_past_the_budget_are_dropped_even_empty_ones() {
        use log::Host as _;
        let budget = LogBudget::new(4);
        let mut ctx = LogCtx::new("skill s", budget.clone());
        for _ in 0..3 {
            ctx.write(Level::Info, String::new()).await;
        }
        assert_eq!(
            budget.take("skill s", 10),
            1,
            "three empty records cost three bytes"
        );
        ctx.write(Level::Info, "dropped".into()).await;
        assert_eq!(budget.take("skill s", 10), 0);
    }

    #[test]
    fn the_budget_is_shared_and_runs_out() {
        let budget = LogBudget::new(10);
        let other = budget.clone();
        assert_eq!(budget.take("c", 6), 6);
        assert_eq!(other.take("c", 6), 4);
        assert_eq!(budget.take("c", 1), 0);
    }
}
