//! The one warning per period about activity reports that were dropped (queue full) or refused
//! by the platform, naming the cause: a platform that was failing, or reports produced faster
//! than the platform accepts them. The first warning goes out at once, later ones at most once
//! per period, each counting what happened since the previous one.

use std::time::{Duration, Instant};

/// What the next warning will say, and when it may go out.
pub(crate) struct Summary {
    every: Duration,
    last: Option<Instant>,
    dropped_seen: u64,
    rejected_seen: u64,
    last_failure: Option<(Instant, String)>,
    last_refusal: Option<String>,
    workspace: String,
}

impl Summary {
    /// At most one warning per `every`, about `workspace`'s reports.
    pub(crate) fn new(every: Duration, workspace: String) -> Self {
        Summary {
            every,
            last: None,
            dropped_seen: 0,
            rejected_seen: 0,
            last_failure: None,
            last_refusal: None,
            workspace,
        }
    }

    /// A round failed with `error` (kept to name the cause of drops).
    pub(crate) fn failed(&mut self, error: &str) {
        self.last_failure = Some((Instant::now(), error.to_owned()));
    }

    /// The platform refused a report with `error`.
    pub(crate) fn refused(&mut self, error: &str) {
        self.last_refusal = Some(error.to_owned());
    }

    /// Drops and refusals not yet reported, of the totals `dropped` and `rejected`.
    fn pending(&self, dropped: u64, rejected: u64) -> (u64, u64) {
        (
            dropped.saturating_sub(self.dropped_seen),
            rejected.saturating_sub(self.rejected_seen),
        )
    }

    /// When the next warning may go out, given the totals so far, if there is anything to
    /// report.
    pub(crate) fn due(&self, dropped: u64, rejected: u64) -> Option<Instant> {
        match self.pending(dropped, rejected) {
            (0, 0) => None,
            _ => Some(self.last.map_or_else(Instant::now, |l| l + self.every)),
        }
    }

    /// Logs the warning when the totals so far leave something to report and the period
    /// allows; `capacity` is the queue's.
    pub(crate) fn log_if_due(&mut self, total_dropped: u64, total_rejected: u64, capacity: usize) {
        let (dropped, refused) = self.pending(total_dropped, total_rejected);
        if (dropped, refused) == (0, 0) || self.last.is_some_and(|l| l.elapsed() < self.every) {
            return;
        }
        let message = self.message(dropped, refused, capacity);
        let workspace = &self.workspace;
        tracing::warn!(%workspace, dropped, refused, total_dropped, "{message}");
        self.dropped_seen += dropped;
        self.rejected_seen += refused;
        self.last = Some(Instant::now());
        self.last_refusal = None;
    }

    fn message(&self, dropped: u64, refused: u64, capacity: usize) -> String {
        let every = self.every;
        let mut parts = Vec::new();
        if dropped > 0 {
            // A failure within the last period is the cause; otherwise the platform answers,
            // just not as fast as reports come.
            let cause = match &self.last_failure {
                Some((at, err)) if at.elapsed() <= every => {
                    format!("while the platform was failing (last error: {err})")
                }
                _ => format!(
                    "because reports came faster than the platform accepted them (the queue \
                     holds {capacity})"
                ),
            };
            parts.push(format!(
                "activity queue full: dropped the {dropped} oldest reports {cause}; \
                 molecule_activity_dropped_total counts every drop"
            ));
        }
        if refused > 0 {
            let answer = self.last_refusal.as_deref().unwrap_or("unknown");
            parts.push(format!(
                "the platform refused {refused} activity reports, not retried (last answer: \
                 {answer})"
            ));
        }
        format!(
            "{} (at most one such warning per {every:?})",
            parts.join("; ")
        )
    }
}
