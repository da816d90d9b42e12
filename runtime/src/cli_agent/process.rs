//! One run of the granted program (`runtime: cli`), under its task's shepherd (`spawn.rs`,
//! `shepherd.rs`): no shell, a cleared environment holding only the granted variables, its
//! own process group, a fresh working folder, the task's text on stdin or as the last
//! argument; stdout handed on in chunks as it arrives (within `max_output`, the granted
//! values masked), stderr to the log (escaped, masked, capped). The time limit and cancel
//! send SIGTERM to the shepherd, which passes it to every process of the task and SIGKILLs
//! them after the grace; when the program exits, the shepherd kills whatever it left. The
//! shepherd exits only once the task has no process left. Should the shepherd itself be
//! killed, every task process re-parented to the runtime is ended (`reaper.rs`: the runtime's
//! children outside its process group), and what the runtime's own tracking (`guard.rs`) saw
//! of the tree.

use std::path::Path;
use std::time::Duration;

use molecule_config::CliInput;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};

use super::guard::{Descendants, SCAN_EVERY};
use super::output::Output;
use super::spawn::{read_status, spawn, Started};
use super::stderr::log_stderr;
use super::CliSpec;

pub use super::spawn::MAX_ARGUMENT_BYTES;

/// Stdout bytes read at once.
const READ_BYTES: usize = 16 * 1024;
/// How long stdout may gather before the pending bytes go out as one chunk (bounds the number
/// of events a program writing byte by byte causes: about 40 a second).
const COALESCE: Duration = Duration::from_millis(25);
/// How long stdout is still read after the program and everything it started are gone (a
/// writer that escaped the kill cannot hold the task open).
const DRAIN: Duration = Duration::from_secs(2);
/// How long past `kill_grace` the shepherd has to finish its SIGKILL rounds before the
/// runtime kills it (and falls back on its own tracking).
const SHEPHERD_MARGIN: Duration = Duration::from_secs(2);
/// Pending stdout that goes out at once, without waiting for [`COALESCE`].
const FLUSH_BYTES: usize = 64 * 1024;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The program exited with this code.
    Exited(i32),
    /// The program was ended by this signal (not ours).
    Signaled(i32),
    /// It ran past its time limit and was stopped.
    TimedOut,
    /// The task was canceled and the program stopped.
    Canceled,
    /// The task's shepherd was ended by this signal (not by the runtime; the program can, it
    /// runs with the runtime's uid) before it reported; the task's processes were ended.
    ShepherdKilled(i32),
}

/// What a run did: how it ended and how much of its stdout was passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    /// How it ended.
    pub ended: Ended,
    /// Stdout bytes passed on (at most `max_output`).
    pub output_bytes: u64,
    /// Whether stdout went past `max_output` (the rest was dropped, with a notice).
    pub truncated: bool,
    /// How the program itself ended, as its shepherd saw it — also after the time limit or
    /// a cancel (e.g. `Signaled(15)`: SIGTERM ended it; `Signaled(9)`: it outlived
    /// `kill_grace` and was SIGKILLed). `None`: the shepherd was killed before it could tell
    /// (the runtime then SIGKILLed what it saw of the task).
    pub program: Option<Ended>,
    /// User + system CPU time of every process of the task (the shepherd's getrusage(2)
    /// `RUSAGE_CHILDREN`); `None` when the shepherd did not tell.
    pub cpu: Option<Duration>,
    /// The largest resident set of one process of the task (`ru_maxrss`), in bytes; `None`
    /// when the shepherd did not tell.
    pub peak_rss_bytes: Option<u64>,
}

/// Runs `spec`'s program once in `workdir` with `text` as its input; `chunk` gets stdout text
/// as it arrives; `cancel` turning `true` stops it. `Err`: it could not be started (the
/// message names the program).
pub async fn run_program(
    spec: &CliSpec,
    workdir: &Path,
    text: &str,
    cancel: watch::Receiver<bool>,
    chunk: impl FnMut(String),
) -> Result<RunReport, String> {
    run_task(spec, workdir, text, &[], cancel, chunk).await
}

/// [`run_program`] with `vars` added to the program's environment (the task's own
/// `MOLECULE_TASK_ID`, `MOLECULE_CONTEXT_ID`, `MOLECULE_HISTORY_FILE`).
pub async fn run_task(
    spec: &CliSpec,
    workdir: &Path,
    text: &str,
    vars: &[(String, String)],
    mut cancel: watch::Receiver<bool>,
    mut chunk: impl FnMut(String),
) -> Result<RunReport, String> {
    let Started { child, status } = spawn(spec, workdir, text, vars)?;
    let shepherd_pid = child.id().and_then(|p| i32::try_from(p).ok());
    let mut shepherd = Shepherd(child, shepherd_pid);
    let child = &mut shepherd.0;
    let pid = shepherd_pid;
    let stdin = child.stdin.take();
    if let (Some(mut stdin), CliInput::Stdin) = (stdin, spec.input) {
        let bytes = text.as_bytes().to_vec();
        // A program that never reads its input gets EPIPE here; that is not an error.
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let values: Vec<String> = spec.env.iter().map(|(_, v)| v.clone()).collect();
    if let Some(stderr) = child.stderr.take() {
        let program = spec.program.display().to_string();
        tokio::spawn(log_stderr(stderr, program, values.clone()));
    }
    let stdout = child.stdout.take();
    let mut out = Output::masking(spec.max_output, values);
    let deadline = Instant::now() + spec.timeout;
    let mut tree = Descendants::new(pid);
    let stopped = tokio::select! {
        status = pump(child, stdout, &mut out, &mut chunk, &mut tree) => Err(status),
        () = sleep_until(deadline) => Ok(Ended::TimedOut),
        _ = cancel.wait_for(|c| *c) => Ok(Ended::Canceled),
    };
    let shepherd = match stopped {
        Err(status) => status,
        Ok(_) => {
            tree.scan();
            stop(child, pid, spec.kill_grace).await
        }
    };
    let told = tokio::task::spawn_blocking({
        let spec = spec.clone();
        move || read_status(&spec, status)
    })
    .await
    .map_err(|e| e.to_string())??;
    if told.is_none() {
        // The shepherd did not finish its work (it was killed): its processes re-parented to
        // the runtime are ended, and what we saw of the tree.
        super::reaper::kill_leftovers().await;
        tree.kill_all().await;
    }
    if let Some(text) = out.finish() {
        chunk(text);
    }
    let ended = match (stopped, told.as_ref()) {
        (Ok(why), _) => why,
        (Err(_), Some(told)) => told.ended,
        (Err(_), None) => match shepherd {
            Ended::Signaled(sig) => Ended::ShepherdKilled(sig),
            other => other,
        },
    };
    Ok(RunReport {
        ended,
        output_bytes: out.passed(),
        truncated: out.truncated(),
        program: told.map(|t| t.ended),
        cpu: told.and_then(|t| t.cpu),
        peak_rss_bytes: told.and_then(|t| t.peak_rss_bytes),
    })
}

/// The running shepherd. Should the task's future be dropped while it runs (a shutdown), it
/// gets SIGTERM and ends the task's processes itself (SIGKILL after the grace); tokio reaps
/// it. `Child::id` is `None` once it was waited for, so a reused pid is never signalled. The
/// pid (the second field) leaves the reaper's record of live shepherds then.
struct Shepherd(Child, Option<i32>);

impl Drop for Shepherd {
    fn drop(&mut self) {
        if let Some(pid) = self.1 {
            super::reaper::unregister(pid);
        }
        let pid = self
            .0
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32));
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}

/// Reads stdout into `out` (handing chunks to `chunk`) until the shepherd exits (once the
/// program and all it started are gone), recording the processes of the task in `tree`;
/// should the shepherd have been killed, kills what it left (the runtime's leftover children,
/// `reaper.rs`, and `tree`; never the shepherd's group by its reaped, reusable pid); then
/// reads the rest of stdout, for at most [`DRAIN`]. Returns how the shepherd ended.
async fn pump(
    child: &mut Child,
    stdout: Option<ChildStdout>,
    out: &mut Output,
    chunk: &mut impl FnMut(String),
    tree: &mut Descendants,
) -> Ended {
    let mut stdout = stdout;
    let mut scan = tokio::time::interval(SCAN_EVERY);
    let mut buf = vec![0u8; READ_BYTES];
    let mut flush_at: Option<Instant> = None;
    let status = loop {
        tokio::select! {
            n = read_some(&mut stdout, &mut buf) => {
                match n {
                    0 => stdout = None,
                    n => {
                        out.push(&buf[..n]);
                        flush_at.get_or_insert_with(|| Instant::now() + COALESCE);
                    }
                }
            }
            () = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => {
                flush_at = None;
                if let Some(text) = out.take() { chunk(text) }
            }
            _ = scan.tick() => tree.scan(),
            status = child.wait() => break status,
        }
        if out.pending() >= FLUSH_BYTES {
            flush_at = None;
            if let Some(text) = out.take() {
                chunk(text);
            }
        }
    };
    if !status.as_ref().is_ok_and(|s| s.success()) {
        super::reaper::kill_leftovers().await;
        tree.kill_all().await;
    }
    // Everything is gone: read what is left of stdout (EOF comes once every writer exited).
    if stdout.is_some() {
        let drain = async {
            loop {
                match read_some(&mut stdout, &mut buf).await {
                    0 => break,
                    n => out.push(&buf[..n]),
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN, drain).await;
    }
    match status {
        Ok(s) => exit_of(s),
        Err(_) => Ended::Signaled(0),
    }
}

/// Reads once from `stream`; 0 at EOF, on an error, or when there is no stream (then it
/// waits forever, leaving the other branches to finish).
async fn read_some<R: AsyncRead + Unpin>(stream: &mut Option<R>, buf: &mut [u8]) -> usize {
    match stream {
        Some(s) => s.read(buf).await.unwrap_or(0),
        None => std::future::pending().await,
    }
}

fn exit_of(status: std::process::ExitStatus) -> Ended {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ended::Exited(code),
        (None, Some(sig)) => Ended::Signaled(sig),
        (None, None) => Ended::Signaled(0),
    }
}

/// SIGTERM to the shepherd (which passes it on and SIGKILLs the task after `grace`), up to
/// `grace` + [`SHEPHERD_MARGIN`] for it to exit, else SIGKILL to the group and the shepherd.
/// Returns how the shepherd ended.
async fn stop(child: &mut Child, pid: Option<i32>, grace: Duration) -> Ended {
    if let Some(pid) = pid.and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let exited = tokio::select! {
        s = child.wait() => s.ok(),
        () = sleep(grace + SHEPHERD_MARGIN) => None,
    };
    if let Some(status) = exited {
        return exit_of(status);
    }
    if let Some(pid) = pid {
        signal_group(pid, libc::SIGKILL);
    }
    let _ = child.start_kill();
    child.wait().await.map_or(Ended::Signaled(0), exit_of)
}

/// Sends `signal` to the process group `pid` leads (the shepherd was started with
/// `process_group(0)`, so its group id is its pid).
fn signal_group(pid: i32, signal: i32) {
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a negative pid
    // addresses the group the program leads (pid > 0 checked above, so never -0 or -1 = all).
    unsafe {
        libc::kill(-pid, signal);
    }
}
