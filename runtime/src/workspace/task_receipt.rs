//! A task's receipt (`crate::receipt`): what one execution of the task cost, reported in its
//! `task` span and in `/metrics`, and — summed with what the task's earlier executions cost
//! (a task that paused for a human and was resumed runs its adapter more than once) — in the
//! task's A2A metadata `molecule.receipt`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_a2a::{EventSink, RequestContext};

use crate::metrics_receipts;
use crate::receipt::{Receipt, Receipts, METADATA_KEY};

/// Reports what a task cost — in its `task` span, in `/metrics` and in its A2A metadata
/// (`molecule.receipt`, [`Receipt::to_task_json`], plus the task's earlier executions) —
/// once: when the executor calls [`TaskReceipt::report`] (before the adapter's held final
/// status is released, so the reply, the stream's final status event and GetTask all carry
/// it), or when it is dropped unreported (a cancel or a shutdown stopped the task, or it
/// paused for a human): then with what was spent until then, the wall time running to that
/// moment.
pub struct TaskReceipt {
    receipts: Arc<Receipts>,
    span: tracing::Span,
    events: EventSink,
    waited: Duration,
    started: Instant,
    reported: bool,
    /// What the task's earlier executions cost, and their admission waits.
    earlier: Option<(Receipt, Duration)>,
}

impl TaskReceipt {
    /// The receipt of `ctx`'s execution starting now, summed from `receipts`, after waiting
    /// `waited` for admission; a continued task's stored receipt is its earlier executions'.
    pub fn new(
        ctx: &RequestContext,
        events: &EventSink,
        receipts: Arc<Receipts>,
        span: tracing::Span,
        waited: Duration,
    ) -> TaskReceipt {
        let stored = ctx.task.metadata.as_ref().and_then(|m| m.get(METADATA_KEY));
        let earlier = stored
            .filter(|_| ctx.is_continuation)
            .and_then(Receipt::from_task_json);
        TaskReceipt {
            receipts,
            span,
            events: events.clone(),
            waited,
            started: Instant::now(),
            reported: false,
            earlier,
        }
    }

    /// The task's span.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Reports `receipt`, this execution's (see the type's docs).
    pub fn report(&mut self, receipt: &Receipt) {
        self.reported = true;
        receipt.record(&self.span);
        metrics_receipts::observe(metrics_receipts::Kind::Task, receipt);
        let (mut task, mut waited) = (*receipt, self.waited);
        if let Some((earlier, earlier_waited)) = &self.earlier {
            task.add(earlier);
            waited += *earlier_waited;
        }
        let _ = self
            .events
            .metadata(METADATA_KEY, task.to_task_json(waited));
    }
}

impl Drop for TaskReceipt {
    fn drop(&mut self) {
        if !self.reported {
            let mut receipt = self.receipts.total();
            receipt.wall = receipt.wall.max(self.started.elapsed());
            self.report(&receipt);
        }
    }
}
