//! Fairness of push delivery, so one slow or failing webhook cannot starve the others:
//!
//! - [`Admission`]: the delivery queue's bounds. A notification is admitted while fewer than
//!   `max_queue` (`PushOptions::max_queue`) are pending in all and fewer than
//!   [`MAX_PENDING_PER_TASK`] for its task; and, once the queue is half full, only if each
//!   webhook origin (`scheme://host:port`) of its task's configs holds fewer than
//!   `max_queue /` [`ORIGIN_SHARE`] — so the tasks of one webhook host that does not answer
//!   fill at most half of the queue, and the other half stays for the others (one healthy
//!   origin serving every task may still use the whole first half). A dropped notification
//!   is counted (`PushMetrics::dropped`); only a task's first drop is logged.
//! - [`Circuits`]: a circuit per webhook origin. After [`CIRCUIT_FAILURES`] failed attempts in
//!   a row (connection error, timeout, 408, 429, 5xx) the circuit opens for [`CIRCUIT_OPEN`]:
//!   notifications to that origin are then dropped without an attempt (counted in
//!   `PushMetrics::short_circuited`, logged once when it opens). After the pause the next
//!   attempt is a trial: success closes the circuit, one more failure opens it again.
//!
//! All fixed constants, documented in runtime/a2a/README.md ("Wire decisions").

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Notifications one task may have pending (queued or being sent).
pub const MAX_PENDING_PER_TASK: usize = 64;
/// Once `max_queue / 2` notifications are pending, an origin holding `max_queue /
/// ORIGIN_SHARE` (at least 1) of them gets no more.
pub const ORIGIN_SHARE: usize = 4;
/// Failed attempts in a row that open an origin's circuit.
pub const CIRCUIT_FAILURES: u32 = 5;
/// How long an open circuit drops its origin's notifications.
pub const CIRCUIT_OPEN: Duration = Duration::from_secs(60);
/// Entries kept at most in the per-task and per-origin maps before idle ones are pruned.
const MAX_TRACKED: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What [`Admission::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Queued; release it with [`Admission::release`] once finished.
    Queued,
    /// Dropped; `log` is true for the task's first drop (log it, then stay quiet).
    Dropped { log: bool, why: &'static str },
}

#[derive(Default)]
struct TaskSlot {
    pending: usize,
    warned: bool,
}

#[derive(Default)]
struct AdmissionState {
    total: usize,
    tasks: HashMap<String, TaskSlot>,
    origins: HashMap<String, usize>,
}

/// The pending counts (in all, per task, per origin).
#[derive(Default)]
pub(super) struct Admission {
    state: Mutex<AdmissionState>,
}

impl Admission {
    /// Admits a notification of `task_id` for `origins` (its task's webhook origins, no
    /// duplicates) if every bound has room, counting it as pending.
    pub(super) fn admit(&self, task_id: &str, origins: &[String], max_queue: usize) -> Admit {
        let mut s = lock(&self.state);
        let per_origin = (max_queue / ORIGIN_SHARE).max(1);
        let task_pending = s.tasks.get(task_id).map_or(0, |t| t.pending);
        let why = if s.total >= max_queue {
            Some("delivery queue full")
        } else if task_pending >= MAX_PENDING_PER_TASK {
            Some("the task's share of the delivery queue is full")
        } else if s.total >= max_queue / 2
            && origins
                .iter()
                .any(|o| s.origins.get(o).is_some_and(|n| *n >= per_origin))
        {
            Some("the webhook host's share of the delivery queue is full")
        } else {
            None
        };
        if s.tasks.len() >= MAX_TRACKED && !s.tasks.contains_key(task_id) {
            s.tasks.retain(|_, t| t.pending > 0);
        }
        let slot = s.tasks.entry(task_id.to_string()).or_default();
        if let Some(why) = why {
            let log = !slot.warned;
            slot.warned = true;
            return Admit::Dropped { log, why };
        }
        slot.pending += 1;
        s.total += 1;
        for o in origins {
            *s.origins.entry(o.clone()).or_default() += 1;
        }
        Admit::Queued
    }

    /// Ends a notification admitted with the same `task_id` and `origins`; `last`: the task
    /// sends nothing more (its entry goes).
    pub(super) fn release(&self, task_id: &str, origins: &[String], last: bool) {
        let mut s = lock(&self.state);
        s.total = s.total.saturating_sub(1);
        for o in origins {
            if let Some(n) = s.origins.get_mut(o) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    s.origins.remove(o);
                }
            }
        }
        if let Some(t) = s.tasks.get_mut(task_id) {
            t.pending = t.pending.saturating_sub(1);
            if t.pending == 0 && (last || !t.warned) {
                s.tasks.remove(task_id);
            }
        }
    }
}

struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
}

/// The circuit of every webhook origin that failed lately.
#[derive(Default)]
pub(super) struct Circuits {
    map: Mutex<HashMap<String, Circuit>>,
}

impl Circuits {
    /// Whether an attempt to `origin` may go out now (false while its circuit is open).
    pub(super) fn allow(&self, origin: &str) -> bool {
        let mut map = lock(&self.map);
        let Some(c) = map.get_mut(origin) else {
            return true;
        };
        match c.open_until {
            Some(t) if Instant::now() < t => false,
            Some(_) => {
                // Half-open: this attempt is a trial; one more failure opens it again.
                c.open_until = None;
                c.failures = CIRCUIT_FAILURES - 1;
                true
            }
            None => true,
        }
    }

    /// The webhook at `origin` answered: its circuit closes.
    pub(super) fn success(&self, origin: &str) {
        lock(&self.map).remove(origin);
    }

    /// An attempt to `origin` failed; true when this failure opened its circuit.
    pub(super) fn failure(&self, origin: &str) -> bool {
        let mut map = lock(&self.map);
        if map.len() >= MAX_TRACKED && !map.contains_key(origin) {
            map.retain(|_, c| c.open_until.is_some());
        }
        let c = map.entry(origin.to_string()).or_insert(Circuit {
            failures: 0,
            open_until: None,
        });
        if c.open_until.is_some() {
            return false;
        }
        c.failures += 1;
        if c.failures >= CIRCUIT_FAILURES {
            c.open_until = Some(Instant::now() + CIRCUIT_OPEN);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_origin_fills_at_most_half_the_queue_and_warns_once_per_task() {
        let a = Admission::default();
        let hostile = vec!["http://slow:80".to_string()];
        let mut queued = 0;
        let mut logs = 0;
        for t in 0..20 {
            match a.admit(&format!("t{t}"), &hostile, 16) {
                Admit::Queued => queued += 1,
                Admit::Dropped { log, .. } => logs += usize::from(log),
            }
        }
        assert_eq!(queued, 8, "half of 16");
        assert_eq!(logs, 12);
        assert!(matches!(
            a.admit("t8", &hostile, 16),
            Admit::Dropped { log: false, .. }
        ));
        let victim = vec!["http://fine:80".to_string()];
        assert_eq!(a.admit("victim", &victim, 16), Admit::Queued);
        a.release("victim", &victim, true);
        a.release("t0", &hostile, true);
        assert_eq!(
            a.admit("t99", &hostile, 16),
            Admit::Queued,
            "below half again"
        );
    }

    #[test]
    fn circuit_opens_after_failures_in_a_row() {
        let c = Circuits::default();
        for _ in 0..CIRCUIT_FAILURES - 1 {
            assert!(c.allow("o"));
            assert!(!c.failure("o"));
        }
        c.success("o");
        for _ in 0..CIRCUIT_FAILURES - 1 {
            assert!(!c.failure("o"));
        }
        assert!(c.failure("o"), "the 5th failure in a row opens it");
        assert!(!c.allow("o"));
        assert!(!c.failure("o"), "opened once");
        assert!(c.allow("other"));
    }
}
