//! The receipt of a `runtime: cli` task: `molecule.receipt` in its A2A metadata, as every
//! task has (`crate::receipt::METADATA_KEY`), with what can be measured of a native program
//! (it has no store, host calls or linear memory):
//! `{wall_ms, cpu_ms, waited_ms, peak_rss_bytes, output_bytes, exit_code, signal}`.
//!
//! - `wall_ms`: from the program's start to the end of its run (its processes gone, stdout
//!   read); 0 when it never started (a task that failed busy has its wait alone).
//! - `cpu_ms`: user + system CPU time of every process of the task (the shepherd's getrusage(2)
//!   `RUSAGE_CHILDREN`: it reaps them all); null when the shepherd itself was killed.
//! - `waited_ms`: the time the task waited SUBMITTED for a program slot.
//! - `peak_rss_bytes`: the largest resident set of one process of the task (`ru_maxrss`), not
//!   a sum; null when unknown.
//! - `output_bytes`: stdout bytes passed on (within `runtime_config.max_output`).
//! - `exit_code` / `signal`: how the program itself ended (a program stopped at the time limit
//!   or on cancel included); null when it did not end that way or it is unknown.
//!
//! Times are in milliseconds to the microsecond.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Ended, RunReport};

/// The receipt's JSON: `run` is the program's run and its wall time, `None` when it did not
/// run.
pub fn receipt_json(waited: Duration, run: Option<(Duration, &RunReport)>) -> Value {
    let Some((wall, report)) = run else {
        return json!({"wall_ms": 0.0, "cpu_ms": 0.0, "waited_ms": millis(waited),
                      "peak_rss_bytes": 0, "output_bytes": 0, "exit_code": null,
                      "signal": null});
    };
    let (code, signal) = match report.program {
        Some(Ended::Exited(code)) => (Some(code), None),
        Some(Ended::Signaled(sig)) => (None, Some(sig)),
        _ => (None, None),
    };
    json!({
        "wall_ms": millis(wall),
        "cpu_ms": report.cpu.map(millis),
        "waited_ms": millis(waited),
        "peak_rss_bytes": report.peak_rss_bytes,
        "output_bytes": report.output_bytes,
        "exit_code": code,
        "signal": signal,
    })
}

/// A duration in milliseconds, rounded to the microsecond.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}
