//! What keeps a `runtime: cli` program away from the runtime and stops everything it started:
//! [`harden_runtime`] makes the runtime process non-dumpable (so `/proc/<runtime>/environ`,
//! `/proc/<runtime>/mem` are root-only and a same-uid program cannot read the runtime's
//! secrets; prctl(2) `PR_SET_DUMPABLE`) and a child subreaper (`PR_SET_CHILD_SUBREAPER`:
//! descendants that leave the program's group or session with `setsid` are re-parented to
//! the runtime instead of init); [`Descendants`] follows the task's process tree through
//! `/proc/<pid>/stat` while it runs — the fallback, used only when the task's shepherd
//! (`shepherd.rs`, which contains the tree structurally) was itself killed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often the task's process tree is read while it runs (the fallback record: a
/// descendant that forks and orphans itself faster than this can escape it, not the shepherd).
pub const SCAN_EVERY: Duration = Duration::from_millis(50);
/// Rounds of kill-and-reap at the end of a run (each waits [`REAP_PAUSE`] at most).
const KILL_ROUNDS: u32 = 40;
/// Pause between rounds.
const REAP_PAUSE: Duration = Duration::from_millis(25);

/// Makes the runtime non-dumpable and a child subreaper (Linux prctl(2)); call once at start,
/// before any secret is read into memory. `Err`: the prctl that failed.
pub fn harden_runtime() -> Result<(), String> {
    use rustix::process::{getpid, set_child_subreaper, set_dumpable_behavior, DumpableBehavior};
    set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| format!("prctl(PR_SET_DUMPABLE, 0): {e}"))?;
    // Any non-zero argument turns the attribute on.
    set_child_subreaper(Some(getpid()))
        .map_err(|e| format!("prctl(PR_SET_CHILD_SUBREAPER, 1): {e}"))
}

/// One process as `/proc/<pid>/stat` shows it: parent and start time (clock ticks after boot,
/// which tells a reused pid from the one recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    start: u64,
}

/// Reads `/proc/<pid>/stat` fields 4 (ppid) and 22 (starttime), after the `(comm)` field,
/// which may hold spaces and parentheses (proc(5)).
fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, starttime field 22.
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every live process: pid → stat.
fn table() -> HashMap<i32, Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| stat(pid).map(|s| (pid, s)))
        .collect()
}

/// Every process below `root` now (children, their children, …), from one read of `/proc`.
pub(crate) fn descendants_of(root: i32) -> Vec<i32> {
    let table = table();
    let mut found = vec![root];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        found.extend(
            table
                .iter()
                .filter(|(pid, s)| s.ppid == parent && !found.contains(pid))
                .map(|(pid, _)| *pid)
                .collect::<Vec<_>>(),
        );
        at += 1;
    }
    found.remove(0);
    found
}

/// The processes a program started, recorded as (pid, start time) while it runs.
#[derive(Debug, Default)]
pub struct Descendants {
    root: Option<(i32, u64)>,
    seen: HashSet<(i32, u64)>,
}

impl Descendants {
    /// Tracking for the program `root` (its pid).
    pub fn new(root: Option<i32>) -> Descendants {
        Descendants {
            root: root
                .filter(|p| *p > 1)
                .and_then(|p| stat(p).map(|s| (p, s.start))),
            seen: HashSet::new(),
        }
    }

    /// Records every process now below the program or below one recorded before (those
    /// re-parented to the runtime after their parent exited stay recorded).
    pub fn scan(&mut self) {
        let table = table();
        let mut parents: HashSet<i32> = self
            .seen
            .iter()
            .chain(&self.root)
            .filter(|(pid, start)| table.get(pid).is_some_and(|s| s.start == *start))
            .map(|(pid, _)| *pid)
            .collect();
        if parents.is_empty() {
            return;
        }
        loop {
            let found: Vec<(i32, u64)> = table
                .iter()
                .filter(|(pid, s)| parents.contains(&s.ppid) && !parents.contains(pid))
                .map(|(pid, s)| (*pid, s.start))
                .collect();
            if found.is_empty() {
                break;
            }
            for (pid, start) in found {
                parents.insert(pid);
                self.seen.insert((pid, start));
            }
        }
    }

    /// Processes recorded so far.
    pub fn count(&self) -> usize {
        self.seen.len()
    }

    /// SIGKILLs every recorded process still alive (and anything below it), then reaps those
    /// that became the runtime's children (the subreaper's orphans), off the async threads.
    /// Returns how many were still alive at the end (0 when all are gone).
    pub async fn kill_all(&mut self) -> usize {
        let mut this = std::mem::take(self);
        let done = tokio::task::spawn_blocking(move || {
            for _ in 0..KILL_ROUNDS {
                this.scan();
                let alive = this.kill_and_reap();
                if alive == 0 {
                    return 0;
                }
                std::thread::sleep(REAP_PAUSE);
            }
            this.kill_and_reap()
        });
        done.await.unwrap_or(0)
    }

    /// One round: SIGKILL each live recorded process, reap our own exited children among
    /// them; the number not yet gone.
    fn kill_and_reap(&mut self) -> usize {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let mut alive = 0;
        self.seen.retain(|&(pid, start)| {
            let Some(s) = stat(pid).filter(|s| s.start == start) else {
                return false;
            };
            kill(pid);
            if s.ppid == me && reap(pid) {
                return false;
            }
            alive += 1;
            true
        });
        alive
    }
}

/// SIGKILL to one process (never a group, never "all", never init or the runtime).
fn kill(pid: i32) {
    if pid <= 1 || u32::try_from(pid).ok() == Some(std::process::id()) {
        return;
    }
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Reaps `pid` (a child of the runtime) if it has exited; true when reaped. Only that pid is
/// waited for, so tokio's own children are never reaped behind its back.
fn reap(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid(2) writes one int into `status`, a live local; the pid is one we
    // recorded (> 0), so no other child's status is taken.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    got == pid
}
