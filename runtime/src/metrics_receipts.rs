//! The `/metrics` histograms of call receipts ([`crate::receipt::Receipt`]), one family per
//! quantity, each labelled `kind="tool"` (a skill tool call) or `kind="task"` (a whole A2A
//! task: its adapter call plus its nested tool calls):
//!
//! `molecule_call_wall_seconds`, `molecule_call_cpu_seconds`,
//! `molecule_call_peak_memory_bytes`, `molecule_call_host_calls`,
//! `molecule_call_http_requests`, `molecule_call_http_bytes`, `molecule_call_log_bytes` and
//! `molecule_call_tool_calls`. Rendered by `Metrics::render` through [`render`].

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use crate::receipt::Receipt;

/// Upper bounds of the time buckets, in seconds (those of the other duration histograms).
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];
/// Upper bounds of the byte buckets: 1 KiB to 4 GiB, by fours.
const BYTES: &[f64] = &[
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];
/// Upper bounds of the count buckets.
const COUNTS: &[f64] = &[
    0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0,
];

/// What a receipt was for: the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One skill tool call.
    Tool,
    /// One A2A task (adapter call plus nested tool calls).
    Task,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Task => "task",
        }
    }
}

/// Each family: name, help, bucket bounds, and the value it takes from a receipt.
type Family = (
    &'static str,
    &'static str,
    &'static [f64],
    fn(&Receipt) -> f64,
);

const FAMILIES: [Family; 8] = [
    (
        "molecule_call_wall_seconds",
        "Wall time per call.",
        SECONDS,
        |r| r.wall.as_secs_f64(),
    ),
    (
        "molecule_call_cpu_seconds",
        "CPU time per call (guest code and host work in its polls; see receipt.rs).",
        SECONDS,
        |r| r.cpu.as_secs_f64(),
    ),
    (
        "molecule_call_peak_memory_bytes",
        "Largest linear memory of a call's store, in bytes.",
        BYTES,
        |r| r.peak_memory_bytes as f64,
    ),
    (
        "molecule_call_host_calls",
        "Calls from the guest into the host per call.",
        COUNTS,
        |r| r.host_calls as f64,
    ),
    (
        "molecule_call_http_requests",
        "Outgoing HTTP requests per call.",
        COUNTS,
        |r| r.http_requests as f64,
    ),
    (
        "molecule_call_http_bytes",
        "Outgoing HTTP body bytes (sent plus received) per call.",
        BYTES,
        |r| r.http_bytes as f64,
    ),
    (
        "molecule_call_log_bytes",
        "Guest log, stdout and stderr bytes kept per call.",
        BYTES,
        |r| r.log_bytes as f64,
    ),
    (
        "molecule_call_tool_calls",
        "Nested tool calls per call.",
        COUNTS,
        |r| r.tool_calls as f64,
    ),
];

/// One histogram: counts per bucket (not cumulative), total count and sum.
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.len() != bounds.len() {
            self.counts = vec![0; bounds.len()];
        }
        if let Some(i) = bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += value;
    }

    fn render(&self, out: &mut String, name: &str, kind: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let n = self.count;
        let _ = writeln!(out, "{name}_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {n}");
        let _ = writeln!(out, "{name}_sum{{kind=\"{kind}\"}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{kind=\"{kind}\"}} {n}");
    }
}

/// Every family's histogram, for tool calls and for tasks.
#[derive(Default)]
struct Histograms {
    tool: [Histogram; FAMILIES.len()],
    task: [Histogram; FAMILIES.len()],
}

fn histograms() -> &'static Mutex<Histograms> {
    static HISTOGRAMS: OnceLock<Mutex<Histograms>> = OnceLock::new();
    HISTOGRAMS.get_or_init(Mutex::default)
}

/// Records one receipt of `kind` in every family.
pub fn observe(kind: Kind, receipt: &Receipt) {
    let mut all = histograms().lock().unwrap_or_else(|e| e.into_inner());
    let set = match kind {
        Kind::Tool => &mut all.tool,
        Kind::Task => &mut all.task,
    };
    for (h, (_, _, bounds, value)) in set.iter_mut().zip(FAMILIES) {
        h.observe(bounds, value(receipt));
    }
}

/// Appends every family (HELP, TYPE and both kinds' series) to `out`.
pub fn render(out: &mut String) {
    let all = histograms().lock().unwrap_or_else(|e| e.into_inner());
    for (i, (name, help, bounds, _)) in FAMILIES.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (kind, set) in [(Kind::Tool, &all.tool), (Kind::Task, &all.task)] {
            set[i].render(out, name, kind.label(), bounds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn renders_cumulative_byte_and_time_buckets() {
        let receipt = Receipt {
            wall: Duration::from_millis(3),
            cpu: Duration::from_millis(2),
            peak_memory_bytes: 3 << 20,
            log_bytes: 100,
            ..Receipt::default()
        };
        observe(Kind::Task, &receipt);
        let mut out = String::new();
        render(&mut out);
        let has = |line: &str| out.lines().any(|l| l.starts_with(line));
        assert!(has("# TYPE molecule_call_cpu_seconds histogram"), "{out}");
        assert!(has(
            "molecule_call_peak_memory_bytes_bucket{kind=\"task\",le=\"4194304\"} "
        ));
        assert!(has(
            "molecule_call_peak_memory_bytes_bucket{kind=\"tool\",le=\"+Inf\"} "
        ));
        let line = out
            .lines()
            .find(|l| {
                l.starts_with(
                    "molecule_call_peak_memory_bytes_bucket{kind=\"task\",le=\"1048576\"}",
                )
            })
            .unwrap_or_default();
        let below = out
            .lines()
            .find(|l| {
                l.starts_with(
                    "molecule_call_peak_memory_bytes_bucket{kind=\"task\",le=\"4194304\"}",
                )
            })
            .unwrap_or_default();
        let n = |l: &str| l.rsplit(' ').next().and_then(|v| v.parse::<u64>().ok());
        assert!(
            n(below) > n(line),
            "3 MiB lands between 1 MiB and 4 MiB:\n{out}"
        );
    }
}
