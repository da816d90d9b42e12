//! Ending the leftovers of `runtime: cli` tasks that reach the runtime. The runtime is a child
//! subreaper (`guard::harden_runtime`) and may be PID 1 in its image, so a task process whose
//! shepherd is gone (killed by the program itself: same uid) is re-parented to the runtime.
//!
//! The rule, structural rather than timed: the runtime's own children are its shepherds and
//! the tools it runs itself (cargo, rustup, python, … through std's or tokio's `Command`,
//! none of which leaves the runtime's process group; only the shepherd is started with
//! `process_group(0)`, `spawn.rs`). So a child of the runtime whose process group is not the
//! runtime's and which is not a live shepherd ([`register`]) can only be a task's leftover:
//! [`kill_leftovers`] SIGKILLs and reaps (by pid) every such child, in rounds (a killed
//! process's own children re-parent to the runtime next). It runs when a shepherd ended
//! without reporting (`process.rs`) and on every SIGCHLD and [`SCAN`] ([`reap_orphans`]).
//! A child in the runtime's group is never touched: its owner waits for it, however late
//! (std's `Command::output` waits only once the pipes close).
//!
//! Left alone: an orphan in the runtime's own group (a build tool's background process) is
//! not taken, so it can stay a zombie until the runtime exits.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How often the runtime's children are looked at without a SIGCHLD.
const SCAN: Duration = Duration::from_secs(5);
/// Rounds of [`kill_leftovers`] (each pauses [`ROUND_PAUSE`] while something is left).
const ROUNDS: u32 = 40;
/// Pause between rounds.
const ROUND_PAUSE: Duration = Duration::from_millis(25);

/// The pids of the live shepherds (children of the runtime in their own process group).
static SHEPHERDS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

fn shepherds() -> MutexGuard<'static, Option<HashSet<i32>>> {
    SHEPHERDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts a shepherd with `spawn` and records its pid (the `u32` it returns) as live, holding
/// the record's lock across the fork, so [`kill_leftovers`] never sees an unrecorded shepherd.
pub fn register<T, E>(spawn: impl FnOnce() -> Result<(T, Option<u32>), E>) -> Result<T, E> {
    let mut live = shepherds();
    let (child, pid) = spawn()?;
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        live.get_or_insert_with(HashSet::new).insert(pid);
    }
    Ok(child)
}

/// Forgets the shepherd `pid` (call once it was waited for, or its `Child` dropped).
pub fn unregister(pid: i32) {
    if let Some(live) = shepherds().as_mut() {
        live.remove(&pid);
    }
}

/// Reaps and kills leftovers forever (see the module docs); spawn it once on the runtime's
/// tokio runtime.
pub async fn reap_orphans() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigchld = signal(SignalKind::child()).ok();
    let mut tick = tokio::time::interval(SCAN);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = async { sigchld.as_mut()?.recv().await } => {}
        }
        let _ = tokio::task::spawn_blocking(|| kill_round(&mut HashSet::new())).await;
    }
}

/// SIGKILLs and reaps every leftover child of the runtime (module docs), in up to [`ROUNDS`]
/// rounds until none is found; off the async threads. Returns how many processes it ended.
pub async fn kill_leftovers() -> usize {
    let done = tokio::task::spawn_blocking(|| {
        let mut ended = HashSet::new();
        for _ in 0..ROUNDS {
            if kill_round(&mut ended) == 0 {
                break;
            }
            std::thread::sleep(ROUND_PAUSE);
        }
        ended.len()
    });
    done.await.unwrap_or(0)
}

/// One round: SIGKILL each leftover child, reap those that have exited (adding their
/// (pid, start) to `ended`); the number of leftovers found.
fn kill_round(ended: &mut HashSet<(i32, u64)>) -> usize {
    let found = leftovers();
    for &(pid, start) in &found {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
        if reap(pid) {
            ended.insert((pid, start));
            tracing::debug!(pid, "ended a task's leftover re-parented to the runtime");
        }
    }
    found.len()
}

/// The runtime's children outside its process group that are not live shepherds:
/// (pid, start time).
fn leftovers() -> Vec<(i32, u64)> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let group = rustix::process::getpgrp().as_raw_nonzero().get();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let children: Vec<(i32, i32, u64)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let (ppid, pgid, start) = stat(pid)?;
            (ppid == me && pgid != group && pid > 1).then_some((pid, pgid, start))
        })
        .collect();
    // The check under the lock: a shepherd is recorded before `register` lets go of it.
    let live = shepherds();
    children
        .into_iter()
        .filter(|(pid, _, _)| !live.as_ref().is_some_and(|l| l.contains(pid)))
        .map(|(pid, _, start)| (pid, start))
        .collect()
}

/// `/proc/<pid>/stat` fields 4 (ppid), 5 (pgrp) and 22 (starttime), read after the `(comm)`
/// field, which may hold spaces and parentheses (proc(5)).
fn stat(pid: i32) -> Option<(i32, i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((
        fields.get(1)?.parse().ok()?,
        fields.get(2)?.parse().ok()?,
        fields.get(19)?.parse().ok()?,
    ))
}

/// Reaps the exited child `pid`; true when it was.
fn reap(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid(2) on one positive pid writes one int into `status`, a live local.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    got == pid
}
