//! Reaping the zombies re-parented to the runtime. The runtime is a child subreaper
//! (`guard::harden_runtime`) and may be PID 1 in its image (there is no init there), so every
//! orphan below it that exits waits for the runtime to collect it. Task programs' orphans go to
//! their shepherd (`shepherd.rs`), so what arrives here is rare: the processes of a task whose
//! shepherd was killed, orphans of other tools, or anything in the container when PID 1.
//!
//! A child the runtime started itself is waited for by its owner (tokio's `Child`, std's
//! `Child`) and must not be taken from it — `waitpid(-1)` would. So [`reap_orphans`] never
//! waits for "any" child: on each SIGCHLD (and every [`SCAN`]) it lists the runtime's zombie
//! children from `/proc` (state `Z`, ppid = the runtime) and reaps, by pid, only those that
//! have stayed zombies for at least `age` (seen in an earlier scan with the same start time).
//! An owner collects its child at once (tokio on SIGCHLD, std from a blocking `wait`), so a
//! zombie that lingers that long has no owner waiting for it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the runtime's children are looked at without a SIGCHLD.
const SCAN: Duration = Duration::from_secs(5);
/// How long a zombie child must linger before [`reap_orphans`] takes it (the default).
pub const ZOMBIE_AGE: Duration = Duration::from_secs(10);

/// Reaps lingering zombie children of this process forever (see the module docs); spawn it
/// once on the runtime's tokio runtime. `age`: how long a zombie must linger ([`ZOMBIE_AGE`]).
pub async fn reap_orphans(age: Duration) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigchld = signal(SignalKind::child()).ok();
    let mut seen: HashMap<(i32, u64), Instant> = HashMap::new();
    let mut tick = tokio::time::interval(SCAN.min(age));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = async { sigchld.as_mut()?.recv().await } => {}
        }
        let zombies = tokio::task::spawn_blocking(zombie_children)
            .await
            .unwrap_or_default();
        let now = Instant::now();
        seen.retain(|key, _| zombies.contains(key));
        for key in zombies {
            let first = *seen.entry(key).or_insert(now);
            if now.duration_since(first) >= age && reap(key.0) {
                seen.remove(&key);
                tracing::debug!(pid = key.0, "reaped an orphan re-parented to the runtime");
            }
        }
    }
}

/// The zombie children of this process: (pid, start time).
fn zombie_children() -> Vec<(i32, u64)> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = text.get(text.rfind(')')? + 1..)?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let zombie = *fields.first()? == "Z";
            let ppid: i32 = fields.get(1)?.parse().ok()?;
            let start: u64 = fields.get(19)?.parse().ok()?;
            (zombie && ppid == me).then_some((pid, start))
        })
        .collect()
}

/// Reaps the exited child `pid`; true when it was.
fn reap(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid(2) on one positive pid writes one int into `status`, a live local.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    got == pid
}
