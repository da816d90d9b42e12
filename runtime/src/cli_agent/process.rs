//! One run of the granted program (`runtime: cli`), with `tokio::process`: no shell, a cleared
//! environment holding only the granted variables, its own process group, a fresh working
//! folder, the task's text on stdin or as the last argument; stdout handed on in chunks as it
//! arrives (within `max_output`), stderr to the log (escaped, capped); the time limit and
//! cancel stop it with SIGTERM to its group, then SIGKILL after the grace. When the program
//! exits, whatever it left running in its group is killed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use molecule_config::CliInput;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};

use super::guard::{Descendants, SCAN_EVERY};
use super::output::Output;
use super::stderr::log_stderr;
use super::CliSpec;

/// Stdout bytes read at once.
const READ_BYTES: usize = 16 * 1024;
/// How long stdout may gather before the pending bytes go out as one chunk (bounds the number
/// of events a program writing byte by byte causes: about 40 a second).
const COALESCE: Duration = Duration::from_millis(25);
/// How long stdout is still read after the program and everything it started are gone (a
/// writer that escaped the kill cannot hold the task open).
const DRAIN: Duration = Duration::from_secs(2);
/// Longest single argument Linux takes (`MAX_ARG_STRLEN`: 32 pages of 4 KiB, with the NUL);
/// longer text with `input: argument` is refused before the program starts.
pub const MAX_ARGUMENT_BYTES: usize = 128 * 1024 - 1;
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
}

/// Runs `spec`'s program once in `workdir` with `text` as its input; `chunk` gets stdout text
/// as it arrives; `cancel` turning `true` stops it. `Err`: it could not be started (the
/// message names the program).
pub async fn run_program(
    spec: &CliSpec,
    workdir: &Path,
    text: &str,
    mut cancel: watch::Receiver<bool>,
    mut chunk: impl FnMut(String),
) -> Result<RunReport, String> {
    let mut child = spawn(spec, workdir, text)?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let stdin = child.stdin.take();
    if let (Some(mut stdin), CliInput::Stdin) = (stdin, spec.input) {
        let bytes = text.as_bytes().to_vec();
        // A program that never reads its input gets EPIPE here; that is not an error.
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    if let Some(stderr) = child.stderr.take() {
        let values = spec.env.iter().map(|(_, v)| v.clone()).collect();
        tokio::spawn(log_stderr(
            stderr,
            spec.program.display().to_string(),
            values,
        ));
    }
    let stdout = child.stdout.take();
    let mut out = Output::new(spec.max_output);
    let deadline = Instant::now() + spec.timeout;
    let mut tree = Descendants::new(pid);
    let stopped = tokio::select! {
        status = pump(&mut child, pid, stdout, &mut out, &mut chunk, &mut tree) => Err(status),
        () = sleep_until(deadline) => Ok(Ended::TimedOut),
        _ = cancel.wait_for(|c| *c) => Ok(Ended::Canceled),
    };
    let ended = match stopped {
        Err(status) => status,
        Ok(why) => {
            tree.scan();
            stop(&mut child, pid, spec.kill_grace).await;
            why
        }
    };
    tree.kill_all().await;
    if let Some(text) = out.finish() {
        chunk(text);
    }
    Ok(RunReport {
        ended,
        output_bytes: out.passed(),
        truncated: out.truncated(),
    })
}

/// Starts the program: no shell, nothing of the host environment but `spec.env` (and `HOME`
/// and `TMPDIR` pointing at `workdir`), its own process group, killed if dropped.
fn spawn(spec: &CliSpec, workdir: &Path, text: &str) -> Result<Child, String> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("HOME", workdir)
        .env("TMPDIR", workdir)
        .current_dir(workdir)
        .process_group(0)
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match spec.input {
        CliInput::Stdin => cmd.stdin(Stdio::piped()),
        CliInput::Argument => {
            check_argument(spec, text)?;
            if spec.argument_separator {
                cmd.arg("--");
            }
            cmd.arg(text).stdin(Stdio::null())
        }
    };
    cmd.spawn().map_err(|e| match e.raw_os_error() {
        Some(libc::E2BIG) => format!(
            "the task's text does not fit in {}'s arguments (runtime_config.input: argument; \
             the OS argument limit): {e}; use `input: stdin`",
            spec.program.display()
        ),
        _ => format!(
            "cannot start {} (runtime_config.command): {e}",
            spec.program.display()
        ),
    })
}

/// Refuses text that cannot be one argument: over [`MAX_ARGUMENT_BYTES`], holding NUL, or
/// starting with `-` when no `--` goes before it (`runtime_config.argument_separator: false`).
fn check_argument(spec: &CliSpec, text: &str) -> Result<(), String> {
    if text.len() > MAX_ARGUMENT_BYTES {
        return Err(format!(
            "the task's text ({} bytes) is over the OS limit of {MAX_ARGUMENT_BYTES} bytes for \
             one argument (runtime_config.input: argument); use `input: stdin`",
            text.len()
        ));
    }
    if text.contains('\0') {
        return Err(
            "the task's text holds a NUL byte, which no argument can carry \
                    (runtime_config.input: argument); use `input: stdin`"
                .to_owned(),
        );
    }
    if !spec.argument_separator && text.starts_with('-') {
        return Err(
            "the task's text starts with `-` and would be read as an option \
                    (runtime_config.input: argument with argument_separator: false)"
                .to_owned(),
        );
    }
    Ok(())
}

/// Reads stdout into `out` (handing chunks to `chunk`) until the program exits, recording
/// the processes it starts in `tree`; then kills what it left (its group and `tree`) and
/// reads the rest of stdout, for at most [`DRAIN`].
async fn pump(
    child: &mut Child,
    pid: Option<i32>,
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
    if let Some(pid) = pid {
        signal_group(pid, libc::SIGKILL);
    }
    tree.kill_all().await;
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

/// SIGTERM to the program's group, up to `grace` for it to exit, then SIGKILL to the group.
async fn stop(child: &mut Child, pid: Option<i32>, grace: Duration) {
    if let Some(pid) = pid {
        signal_group(pid, libc::SIGTERM);
    }
    let exited = tokio::select! {
        _ = child.wait() => true,
        () = sleep(grace) => false,
    };
    if let Some(pid) = pid {
        signal_group(pid, libc::SIGKILL);
    }
    if !exited {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// Sends `signal` to the process group `pid` leads (the program was started with
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
