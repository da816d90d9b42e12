//! `heartbeat`: what the component is doing now, and whether it is wedged. The backend
//! forwards it to the platform's heartbeat loop. The interface returns nothing a guest could
//! act on, so an ungranted call is not an error: it is logged (a wedged report at WARN) with
//! the same denial text as every other capability.
//!
//! Guest text is bounded before anyone sees it: a summary or reason is cut to
//! [`MAX_REASON`] bytes (with a marker) and escaped. Wedged reports are budgeted per call
//! (`sandbox.heartbeat.max_wedged_reports`, granted or not): past the budget a report is
//! dropped, and one notice per call says so.

use crate::bindings::imports::molecule::runtime::heartbeat;
use crate::budgets::{Budget, BudgetHit};

use super::grant::Granted;
use super::log::truncate;

/// Longest summary or wedged reason passed on, in bytes of guest text.
pub const MAX_REASON: usize = 4 << 10;

/// Receives liveness signals from components.
pub trait HeartbeatBackend: Send + Sync {
    /// The component's current task summary changed (at most [`MAX_REASON`] bytes, escaped).
    fn set_current_task(&self, component: &str, summary: &str);
    /// The component declared itself unable to make progress (reason: at most
    /// [`MAX_REASON`] bytes, escaped).
    fn report_wedged(&self, component: &str, reason: &str);
}

/// The `heartbeat` capability of one store: the granted backend and the call's budget of
/// wedged reports.
pub struct HeartbeatCtx {
    granted: Granted<dyn HeartbeatBackend>,
    max_reports: u64,
    reports: u64,
}

impl HeartbeatCtx {
    /// `granted`, with at most `max_reports` wedged reports per call.
    pub fn new(granted: Granted<dyn HeartbeatBackend>, max_reports: u64) -> Self {
        HeartbeatCtx {
            granted,
            max_reports,
            reports: 0,
        }
    }

    /// Counts one wedged report; false past the budget (the first time: the hit and a
    /// notice).
    fn take_report(&mut self) -> bool {
        self.reports = self.reports.saturating_add(1);
        if self.reports <= self.max_reports {
            return true;
        }
        if self.reports == self.max_reports + 1 {
            let hit = BudgetHit::record(Budget::WedgedReports, self.max_reports);
            tracing::warn!(
                component = self.granted.component(),
                "wedged reports dropped from here on: {hit}"
            );
        }
        false
    }
}

/// `text` cut to [`MAX_REASON`] bytes (with a marker saying how much was cut) and escaped.
pub fn bounded(text: &str) -> String {
    let kept = truncate(text, MAX_REASON);
    let escaped = crate::redact::escape(kept);
    let mut out = truncate(&escaped, MAX_REASON).to_owned();
    if kept.len() < text.len() || out.len() < escaped.len() {
        out.push_str(&format!(" … [cut: {} bytes in all]", text.len()));
    }
    out
}

impl heartbeat::Host for HeartbeatCtx {
    async fn set_current_task(&mut self, summary: String) {
        let summary = bounded(&summary);
        match self.granted.get() {
            Ok(b) => b.set_current_task(self.granted.component(), &summary),
            Err(denied) => tracing::debug!(component = self.granted.component(), ?denied),
        }
    }

    async fn report_wedged(&mut self, reason: String) {
        if !self.take_report() {
            return;
        }
        let reason = bounded(&reason);
        match self.granted.get() {
            Ok(b) => b.report_wedged(self.granted.component(), &reason),
            Err(denied) => tracing::warn!(
                component = self.granted.component(),
                reason = %reason,
                ?denied,
                "component reports itself wedged (heartbeat not granted)"
            ),
        }
    }
}

/// The capability alone, without a guest: its WIT trait called on a context built here.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::capabilities::Denial;
    use heartbeat::Host as _;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl HeartbeatBackend for Recorder {
        fn set_current_task(&self, _: &str, _: &str) {}
        fn report_wedged(&self, _: &str, reason: &str) {
            self.0.lock().unwrap().push(reason.to_owned());
        }
    }

    #[tokio::test]
    async fn reports_past_the_budget_are_dropped_and_reasons_are_capped_and_escaped() {
        let recorder = Arc::new(Recorder::default());
        let backend: Arc<dyn HeartbeatBackend> = recorder.clone();
        let granted = Granted::new("heartbeat", Some(backend), Denial::new("skill w", "test"));
        let mut ctx = HeartbeatCtx::new(granted, 3);
        let before = crate::budgets::hits()
            .find(|(b, _)| *b == Budget::WedgedReports)
            .map_or(0, |(_, n)| n);
        ctx.report_wedged("line one\nFORGED line".into()).await;
        ctx.report_wedged("y".repeat(1 << 20)).await;
        for _ in 0..1_000 {
            ctx.report_wedged("again".into()).await;
        }
        let seen = recorder.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "the budget of 3 held");
        assert_eq!(seen[0], "line one\\nFORGED line");
        assert!(seen[1].len() < MAX_REASON + 64, "{}", seen[1].len());
        assert!(
            seen[1].ends_with("[cut: 1048576 bytes in all]"),
            "{}",
            &seen[1][4000..]
        );
        let after = crate::budgets::hits()
            .find(|(b, _)| *b == Budget::WedgedReports)
            .map_or(0, |(_, n)| n);
        assert_eq!(
            after - before,
            1,
            "one hit per call, not per dropped report"
        );
    }
}
