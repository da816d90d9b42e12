//! The per-task *shepherd* of a `runtime: cli` program: the runtime's own binary re-executed
//! as `molecule-runtime __cli-shepherd <kill_grace_ms> <program> [args…]` (a hidden
//! subcommand, dispatched in `main.rs` before anything else runs). It makes itself
//! non-dumpable and a child subreaper (prctl(2) `PR_SET_DUMPABLE`, `PR_SET_CHILD_SUBREAPER`),
//! starts the program (no shell; the environment, working folder, stdio and process group are
//! the ones the runtime gave the shepherd, which reads nothing from its environment), and
//! then waits: every process of the task that is orphaned re-parents to the shepherd, never
//! out of its subtree, so it reaps them all.
//!
//! - When the program exits, everything it left is SIGKILLed, in rounds of "find my children
//!   (`/proc/*/stat` ppid == me), kill, reap" until the shepherd has no child left.
//! - On SIGTERM (the runtime's cancel or time limit), SIGTERM goes to every descendant, then
//!   after `kill_grace` (or as soon as they are gone) the same SIGKILL rounds.
//!
//! - When the runtime dies, the shepherd gets SIGTERM (prctl(2) `PR_SET_PDEATHSIG`, set by
//!   `spawn.rs` before the exec) and does the same; then, its parent gone, it also removes
//!   the task's working folder (its own current folder, named by `workdir.rs` after the
//!   runtime's pid), which the runtime can no longer do.
//!
//! The outcome goes to the runtime on fd 3 (a pipe the runtime opens; close-on-exec here, so
//! the program never holds it) as one line: `exit <code>`, `signal <n>`, or
//! `spawn <errno> <message>` when the program could not be started. `exit` and `signal` are
//! followed by what every process of the task used, from getrusage(2) `RUSAGE_CHILDREN` once
//! all are reaped: `cpu_us=<user + system µs> maxrss_kib=<largest resident set of one>`.

use std::io::Write as _;
use std::os::fd::FromRawFd as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::guard;

/// The hidden subcommand (argv\[1\]) that runs the shepherd.
pub const SUBCOMMAND: &str = "__cli-shepherd";
/// The fd the shepherd reports its outcome on.
pub const STATUS_FD: i32 = 3;
/// Longest wait for a signal before the shepherd looks at its children again.
const TICK: Duration = Duration::from_millis(100);
/// Longest pause between SIGKILL rounds while children are still dying (a child's exit
/// ends the pause at once: SIGCHLD).
const KILL_PAUSE: Duration = Duration::from_millis(50);

/// Runs the shepherd when argv\[1\] is [`SUBCOMMAND`] (`None` otherwise: not a shepherd).
/// Call first thing in `main`, before any thread starts.
pub fn main_if_shepherd() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != SUBCOMMAND {
        return None;
    }
    Some(run(args.collect()))
}

/// The shepherd's body: `args` = `<kill_grace_ms> <program> [args…]`. Exits 0 after reporting
/// on fd 3; 125 when its own arguments or setup are wrong (said on stderr).
fn run(args: Vec<std::ffi::OsString>) -> ExitCode {
    let runtime = rustix::process::getppid();
    // SAFETY: fcntl(2) F_GETFD only asks whether fd 3 is open.
    if unsafe { libc::fcntl(STATUS_FD, libc::F_GETFD) } < 0 {
        eprintln!("{SUBCOMMAND}: fd {STATUS_FD} (the status pipe) is not open; only the runtime runs this");
        return ExitCode::from(125);
    }
    // SAFETY: fd 3 was set up by the runtime for this process alone (dup2 before exec) and
    // nothing else in this fresh process owns it; a bad fd only makes the writes fail.
    let mut status = unsafe { std::fs::File::from_raw_fd(STATUS_FD) };
    let _ = rustix::io::fcntl_setfd(&status, rustix::io::FdFlags::CLOEXEC);
    let grace = args
        .first()
        .and_then(|a| a.to_str()?.parse::<u64>().ok())
        .map(Duration::from_millis);
    let (Some(grace), Some(program)) = (grace, args.get(1)) else {
        eprintln!("{SUBCOMMAND}: expected <kill_grace_ms> <program> [args...]");
        return ExitCode::from(125);
    };
    if let Err(err) = setup() {
        eprintln!("{SUBCOMMAND}: {err}");
        return ExitCode::from(125);
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(&args[2..]);
    // SAFETY: the closure runs in the forked child before exec and only calls
    // pthread_sigmask(3) (async-signal-safe) with a set on its own stack.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let empty = empty_signals();
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn();
    let child = match child {
        Ok(child) => child,
        Err(err) => {
            let errno = err.raw_os_error().unwrap_or(0);
            let _ = writeln!(status, "spawn {errno} {err}");
            return ExitCode::SUCCESS;
        }
    };
    let pid = i32::try_from(child.id()).unwrap_or(0);
    let ended = shepherd(pid, grace);
    let _ = writeln!(status, "{ended} {}", children_usage());
    if rustix::process::getppid() != runtime {
        remove_task_folder(runtime);
    }
    ExitCode::SUCCESS
}

/// `cpu_us=<n> maxrss_kib=<n>` of the reaped descendants (getrusage(2) `RUSAGE_CHILDREN`:
/// every process of the task, since the shepherd reaps them all); empty if it fails.
fn children_usage() -> String {
    // SAFETY: getrusage(2) writes one `rusage` into the zeroed local it is given.
    let (rc, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), usage)
    };
    if rc != 0 {
        return String::new();
    }
    let us = |t: libc::timeval| {
        let secs = u64::try_from(t.tv_sec).unwrap_or(0);
        let micros = u64::try_from(t.tv_usec).unwrap_or(0);
        secs.saturating_mul(1_000_000).saturating_add(micros)
    };
    let cpu = us(usage.ru_utime).saturating_add(us(usage.ru_stime));
    let maxrss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    format!("cpu_us={cpu} maxrss_kib={maxrss}")
}

/// Removes the current folder when it is a task folder of the runtime `runtime` (named
/// `<task>-<runtime pid>-<n>`, `workdir.rs`): the runtime died and cannot.
fn remove_task_folder(runtime: Option<rustix::process::Pid>) {
    let Some(runtime) = runtime else { return };
    let Ok(folder) = std::env::current_dir() else {
        return;
    };
    let mark = format!("-{}-", runtime.as_raw_nonzero());
    let name = folder.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains(&mark) {
        let _ = std::fs::remove_dir_all(&folder);
    }
}

/// Non-dumpable (the program, same uid, cannot ptrace or read this process), a subreaper,
/// SIGTERM and SIGCHLD blocked (taken with sigtimedwait(2) in [`shepherd`]; the program gets
/// an empty mask again before its exec).
fn setup() -> Result<(), String> {
    use rustix::process::{getpid, set_child_subreaper, set_dumpable_behavior, DumpableBehavior};
    set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| format!("prctl(PR_SET_DUMPABLE, 0): {e}"))?;
    set_child_subreaper(Some(getpid()))
        .map_err(|e| format!("prctl(PR_SET_CHILD_SUBREAPER, 1): {e}"))?;
    let set = signals();
    // SAFETY: `set` is an initialised sigset_t on our stack; the old mask is not asked for.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(format!("pthread_sigmask: error {rc}"));
    }
    Ok(())
}

/// The empty signal set.
fn empty_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set on our stack.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    }
}

/// {SIGTERM, SIGCHLD}.
fn signals() -> libc::sigset_t {
    let mut set = empty_signals();
    // SAFETY: sigaddset writes into the initialised set with valid signal numbers.
    unsafe {
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        set
    }
}

/// Waits up to `wait` for SIGTERM or SIGCHLD; true when SIGTERM came.
fn wait_signal(wait: Duration) -> bool {
    let set = signals();
    let ts = libc::timespec {
        // At most i32::MAX s, so it fits `time_t` of any width (not named: musl deprecates
        // the alias while it moves to 64 bits).
        tv_sec: wait
            .as_secs()
            .min(i32::MAX as u64)
            .try_into()
            .unwrap_or_default(),
        tv_nsec: libc::c_long::from(i32::try_from(wait.subsec_nanos()).unwrap_or(0)),
    };
    // SAFETY: sigtimedwait(2) reads `set` and `ts` (live locals) and writes no info (null).
    let got = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    got == libc::SIGTERM
}

/// The loop described in the module docs; returns the status line of the program `pid`.
fn shepherd(pid: i32, grace: Duration) -> String {
    let mut ended: Option<String> = None;
    let mut term_at: Option<Instant> = None;
    loop {
        let (program, any_left) = reap_all(pid);
        if let Some(line) = program {
            ended = Some(line);
        }
        if !any_left {
            break;
        }
        let killing = ended.is_some() || term_at.is_some_and(|t| t.elapsed() >= grace);
        if killing {
            signal_descendants(libc::SIGKILL);
            wait_signal(KILL_PAUSE);
            continue;
        }
        let wait = term_at.map_or(TICK, |t| grace.saturating_sub(t.elapsed()).min(TICK));
        if wait_signal(wait) && term_at.is_none() {
            term_at = Some(Instant::now());
            signal_descendants(libc::SIGTERM);
        }
    }
    ended.unwrap_or_else(|| "signal 9".to_owned())
}

/// Reaps every exited child; the program's status line when it was among them, and whether
/// any child is left.
fn reap_all(program: i32) -> (Option<String>, bool) {
    let mut line = None;
    loop {
        let mut raw = 0;
        // SAFETY: waitpid(2) writes one int into `raw`, a live local.
        let got = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
        if got < 0 {
            return (line, false); // ECHILD: no child at all
        }
        if got == 0 {
            return (line, true);
        }
        if got == program {
            let status = std::process::ExitStatus::from_raw(raw);
            line = Some(match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                (None, None) => "signal 0".to_owned(),
            });
        }
    }
}

/// Sends `signal` to every process below the shepherd (orphans re-parent to it, so all of
/// the task's processes are in this tree).
fn signal_descendants(signal: i32) {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    for pid in guard::descendants_of(me) {
        if pid > 1 && pid != me {
            // SAFETY: kill(2) on one positive pid (checked above: never a group or "all").
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}
