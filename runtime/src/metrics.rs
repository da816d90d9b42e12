//! The process-wide metrics registry, rendered in the Prometheus text exposition format
//! (version 0.0.4) by [`Metrics::render`]. Hand-written on atomics and small maps: the set of
//! series is small and fixed (tool names are the only open label), so a metrics crate would add
//! build time without adding anything. Fed by the executor bridge (tasks), the skill registry
//! (tool calls), the sandbox (limit hits) and skill reloads (component swaps); served as
//! `GET /metrics` on the A2A port by `workspace::metrics_route`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::limits::LimitHit;

/// Upper bounds (seconds) of the duration histogram buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// A cumulative histogram of durations in seconds.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// The kinds of sandbox limit, as metric label values.
pub const LIMIT_KINDS: [&str; 3] = ["memory", "table", "time"];

/// Every counter and gauge the runtime exports.
pub struct Metrics {
    started: Instant,
    start_unix: f64,
    tasks_started: AtomicU64,
    tasks_active: AtomicI64,
    task_outcomes: Mutex<BTreeMap<&'static str, u64>>,
    task_duration: Mutex<Histogram>,
    tool_calls: Mutex<BTreeMap<(String, &'static str), u64>>,
    tool_duration: Mutex<BTreeMap<String, Histogram>>,
    limit_hits: [AtomicU64; 3],
    swaps: Mutex<BTreeMap<&'static str, u64>>,
    activity: Mutex<Vec<molecule_platform::ActivityCounters>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process-wide registry (created on first use; uptime counts from then, which is
/// process start for the binary because `run` touches it first).
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let start_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Metrics {
            started: Instant::now(),
            start_unix,
            tasks_started: AtomicU64::new(0),
            tasks_active: AtomicI64::new(0),
            task_outcomes: Mutex::default(),
            task_duration: Mutex::default(),
            tool_calls: Mutex::default(),
            tool_duration: Mutex::default(),
            limit_hits: Default::default(),
            swaps: Mutex::default(),
            activity: Mutex::default(),
        }
    }

    /// A task's executor started; finish the returned guard with the outcome. A guard dropped
    /// unfinished (the executor was aborted by a cancel) counts as `canceled`.
    pub fn task_started(&'static self) -> TaskGuard {
        self.tasks_started.fetch_add(1, Ordering::Relaxed);
        self.tasks_active.fetch_add(1, Ordering::Relaxed);
        TaskGuard {
            metrics: self,
            started: Instant::now(),
            done: false,
        }
    }

    /// A task's executor started and the task failed `busy` without getting an admission slot
    /// (a full queue, or a wait past `sandbox.admission.max_wait`): counted as started and as
    /// finished with outcome `busy`. Never active and not in the run-time histogram: it ran
    /// nothing.
    pub fn task_busy(&self) {
        self.tasks_started.fetch_add(1, Ordering::Relaxed);
        *lock(&self.task_outcomes).entry("busy").or_default() += 1;
    }

    fn task_finished(&self, outcome: &'static str, elapsed: Duration) {
        self.tasks_active.fetch_sub(1, Ordering::Relaxed);
        *lock(&self.task_outcomes).entry(outcome).or_default() += 1;
        lock(&self.task_duration).observe(elapsed.as_secs_f64());
    }

    /// Records one tool call with its outcome label (`ok`, or [`crate::sandbox::CallError::outcome`]) and duration.
    pub fn tool_call(&self, tool: &str, outcome: &'static str, elapsed: Duration) {
        *lock(&self.tool_calls)
            .entry((tool.to_owned(), outcome))
            .or_default() += 1;
        lock(&self.tool_duration)
            .entry(tool.to_owned())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Records a sandbox limit that stopped a guest.
    pub fn limit_hit(&self, hit: &LimitHit) {
        let i = match hit {
            LimitHit::Memory { .. } => 0,
            LimitHit::Table { .. } => 1,
            LimitHit::Time { .. } => 2,
        };
        self.limit_hits[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Records that a running component was replaced by a new version (`kind`: `skill`,
    /// `adapter`).
    pub fn component_swapped(&self, kind: &'static str) {
        *lock(&self.swaps).entry(kind).or_default() += 1;
    }

    /// Adds the counters of a workspace's activity reporter to the `molecule_activity_*`
    /// series (process-wide, like every series here: summed over the workspaces booted).
    pub fn set_activity(&self, counters: molecule_platform::ActivityCounters) {
        lock(&self.activity).push(counters);
    }

    /// Number of tasks whose executor is running.
    pub fn tasks_active(&self) -> i64 {
        self.tasks_active.load(Ordering::Relaxed)
    }

    /// Renders every series; `tasks_by_state` (state label → count, from the task store) is
    /// rendered as the `molecule_tasks` gauge.
    pub fn render(&self, tasks_by_state: &[(&str, usize)]) -> String {
        let mut out = String::with_capacity(4096);
        let uptime = self.started.elapsed().as_secs_f64();
        gauge(
            &mut out,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            self.start_unix,
        );
        gauge(
            &mut out,
            "molecule_uptime_seconds",
            "Seconds since the runtime started.",
            uptime,
        );
        if let Some(rss) = resident_bytes() {
            gauge(
                &mut out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss as f64,
            );
        }

        header(
            &mut out,
            "molecule_tasks",
            "gauge",
            "Tasks in the task store, by state.",
        );
        for (state, n) in tasks_by_state {
            let _ = writeln!(out, "molecule_tasks{{state=\"{state}\"}} {n}");
        }
        header(
            &mut out,
            "molecule_tasks_started_total",
            "counter",
            "Tasks whose executor started (including those that then failed busy).",
        );
        let _ = writeln!(
            out,
            "molecule_tasks_started_total {}",
            self.tasks_started.load(Ordering::Relaxed)
        );
        gauge(
            &mut out,
            "molecule_tasks_active",
            "Tasks whose executor is running now.",
            self.tasks_active() as f64,
        );
        header(
            &mut out,
            "molecule_tasks_finished_total",
            "counter",
            "Executor runs that ended, by outcome (ok, failed, canceled, busy: failed waiting for an admission slot).",
        );
        for (outcome, n) in lock(&self.task_outcomes).iter() {
            let _ = writeln!(
                out,
                "molecule_tasks_finished_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        header(
            &mut out,
            "molecule_task_duration_seconds",
            "histogram",
            "Executor run time per task.",
        );
        lock(&self.task_duration).render(&mut out, "molecule_task_duration_seconds", "");

        header(
            &mut out,
            "molecule_tool_calls_total",
            "counter",
            "Skill tool calls, by tool and outcome.",
        );
        for ((tool, outcome), n) in lock(&self.tool_calls).iter() {
            let tool = escape(tool);
            let _ = writeln!(
                out,
                "molecule_tool_calls_total{{tool=\"{tool}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        header(
            &mut out,
            "molecule_tool_call_duration_seconds",
            "histogram",
            "Skill tool call duration, by tool.",
        );
        for (tool, h) in lock(&self.tool_duration).iter() {
            h.render(
                &mut out,
                "molecule_tool_call_duration_seconds",
                &format!("tool=\"{}\"", escape(tool)),
            );
        }

        header(
            &mut out,
            "molecule_sandbox_limit_hits_total",
            "counter",
            "Guests stopped by a sandbox limit, by kind.",
        );
        for (kind, n) in LIMIT_KINDS.iter().zip(&self.limit_hits) {
            let _ = writeln!(
                out,
                "molecule_sandbox_limit_hits_total{{kind=\"{kind}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let (running, waiting, guest_memory) = crate::scheduler::gauges();
        gauge(
            &mut out,
            "molecule_sandbox_calls_running",
            "Guest calls holding an admission slot (sandbox.admission.max_concurrent_calls).",
            running as f64,
        );
        gauge(
            &mut out,
            "molecule_sandbox_calls_waiting",
            "Calls and tasks waiting for an admission slot (sandbox.admission.max_waiting).",
            waiting as f64,
        );
        gauge(
            &mut out,
            "molecule_sandbox_guest_memory_bytes",
            "Guest linear memory granted across live calls (sandbox.admission.max_guest_memory).",
            guest_memory as f64,
        );
        header(
            &mut out,
            "molecule_budget_hits_total",
            "counter",
            "Guest actions refused because a budget was spent, by budget (see budgets.rs); budget=\"waiting\" counts calls and tasks refused busy: the queue was full (sandbox.admission.max_waiting) or a wait passed sandbox.admission.max_wait.",
        );
        for (budget, n) in crate::budgets::hits() {
            let label = budget.label();
            let _ = writeln!(out, "molecule_budget_hits_total{{budget=\"{label}\"}} {n}");
        }
        header(
            &mut out,
            "molecule_component_swaps_total",
            "counter",
            "Running components replaced by a new version, by kind.",
        );
        for (kind, n) in lock(&self.swaps).iter() {
            let _ = writeln!(out, "molecule_component_swaps_total{{kind=\"{kind}\"}} {n}");
        }
        self.render_activity(&mut out);
        render_started_here(&mut out);
        crate::metrics_receipts::render(&mut out);
        out
    }
}

impl Metrics {
    /// `molecule_activity_*`: reports to the platform sent, dropped (queue full) and queued;
    /// zeros when the workspace reports to no platform.
    fn render_activity(&self, out: &mut String) {
        let mut stats = molecule_platform::ActivityStats::default();
        for c in lock(&self.activity).iter().map(|c| c.stats()) {
            stats.sent += c.sent;
            stats.dropped += c.dropped;
            stats.rejected += c.rejected;
            stats.queued += c.queued;
        }
        let counters = [
            (
                "molecule_activity_sent_total",
                "Activity reports the platform accepted.",
                stats.sent,
            ),
            (
                "molecule_activity_dropped_total",
                "Activity reports dropped because the bounded queue was full (oldest first).",
                stats.dropped,
            ),
            (
                "molecule_activity_rejected_total",
                "Activity reports the platform refused (not retried).",
                stats.rejected,
            ),
        ];
        for (name, help, value) in counters {
            header(out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        gauge(
            out,
            "molecule_activity_queued",
            "Activity reports waiting to be sent.",
            stats.queued as f64,
        );
    }
}

/// Ends a task's metrics: [`finish`](TaskGuard::finish) with the outcome, or drop for
/// `canceled`.
pub struct TaskGuard {
    metrics: &'static Metrics,
    started: Instant,
    done: bool,
}

impl TaskGuard {
    /// Records the executor's outcome (`ok` or `failed`).
    pub fn finish(mut self, outcome: &'static str) {
        self.done = true;
        self.metrics.task_finished(outcome, self.started.elapsed());
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if !self.done {
            self.metrics
                .task_finished("canceled", self.started.elapsed());
        }
    }
}

/// `molecule_guest_calls_started_here_total` and `molecule_guest_calls_hopped_total`: MCP tool
/// calls whose first poll ran on the server thread, and those that hopped to the guest pool
/// (see `scheduler::start_here`).
fn render_started_here(out: &mut String) {
    let (started, hopped) = crate::scheduler::start_here::counts();
    const STARTED: &str = "MCP tool calls whose first poll ran on the server thread, by outcome (answered in it, moved to the guest pool, lost to a panic).";
    const HOPPED: &str = "MCP tool calls that went straight to the guest pool instead, by reason (turn_taken, budget, one_worker, files, barred).";
    let name = "molecule_guest_calls_started_here_total";
    labelled_counter(out, name, STARTED, "outcome", &started);
    let name = "molecule_guest_calls_hopped_total";
    labelled_counter(out, name, HOPPED, "reason", &hopped);
}

/// A counter family with one label `key`: one series per `(label value, count)`.
fn labelled_counter(out: &mut String, name: &str, help: &str, key: &str, series: &[(&str, u64)]) {
    header(out, name, "counter", help);
    for (value, n) in series {
        let _ = writeln!(out, "{name}{{{key}=\"{value}\"}} {n}");
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `VmRSS` of this process from /proc (Linux only).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        let mut out = String::new();
        h.render(&mut out, "x", "tool=\"t\"");
        assert!(out.contains("x_bucket{tool=\"t\",le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{tool=\"t\",le=\"0.25\"} 2"), "{out}");
        assert!(out.contains("x_bucket{tool=\"t\",le=\"+Inf\"} 2"), "{out}");
        assert!(out.contains("x_count{tool=\"t\"} 2"), "{out}");
    }

    #[test]
    fn renders_every_family() {
        let m = global();
        m.tool_call("say\"hi", "ok", Duration::from_millis(3));
        m.limit_hit(&LimitHit::Time {
            limit: Duration::from_secs(1),
        });
        m.task_started().finish("ok");
        m.task_busy();
        let text = m.render(&[("completed", 1)]);
        for family in [
            "molecule_tasks{state=\"completed\"} 1",
            "molecule_tool_calls_total{tool=\"say\\\"hi\",outcome=\"ok\"}",
            "molecule_sandbox_limit_hits_total{kind=\"time\"}",
            "molecule_uptime_seconds ",
            "molecule_tasks_finished_total{outcome=\"ok\"}",
            "molecule_tasks_finished_total{outcome=\"busy\"}",
            "budget=\"waiting\" counts calls and tasks refused busy",
            "molecule_guest_calls_started_here_total{outcome=\"moved\"} ",
            "molecule_guest_calls_hopped_total{reason=\"files\"} ",
        ] {
            assert!(text.contains(family), "missing {family} in\n{text}");
        }
    }
}
