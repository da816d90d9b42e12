//! Starting one run of a CLI agent: the task's shepherd (`shepherd.rs`, the runtime's binary
//! re-executed as `__cli-shepherd`) with the program and its arguments on its command line, a
//! cleared environment holding only the granted variables (plus `HOME`, `TMPDIR` and the
//! task's own `MOLECULE_*` variables), its own process group, the task's working folder, and
//! the status pipe on fd 3; and reading the shepherd's one status line afterwards.

use std::io::Read as _;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use molecule_config::CliInput;
use tokio::process::{Child, Command};

use super::shepherd::{STATUS_FD, SUBCOMMAND};
use super::{CliSpec, Ended};

/// Longest argument Linux takes (`MAX_ARG_STRLEN`: 32 pages of 4 KiB, with the NUL);
/// longer text with `input: argument` is refused before the program starts.
pub const MAX_ARGUMENT_BYTES: usize = 128 * 1024 - 1;

/// A started shepherd and the read end of its status pipe.
pub struct Started {
    /// The shepherd process (not killed if dropped: `process.rs` sends it SIGTERM, so that it
    /// ends the task's processes itself).
    pub child: Child,
    /// Where its status line arrives.
    pub status: OwnedFd,
}

/// Starts the shepherd of `spec`'s program in `workdir` with `text` (as an argument when
/// `input: argument`) and the extra variables `vars`. `Err` names the key at fault.
pub fn spawn(
    spec: &CliSpec,
    workdir: &Path,
    text: &str,
    vars: &[(String, String)],
) -> Result<Started, String> {
    if let Some((name, _)) = vars.iter().find(|(_, v)| v.contains('\0')) {
        return Err(format!(
            "the task's {name} (an id from the client's message) holds a NUL byte, which no \
             environment variable can carry"
        ));
    }
    // Non-blocking: the status is read once the shepherd exited; should anything else still
    // hold the write end, the read finds no more and does not wait.
    let flags = rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK;
    let (read, write) = rustix::pipe::pipe_with(flags)
        .map_err(|e| format!("cannot make the shepherd's status pipe: {e}"))?;
    let mut cmd = Command::new(&spec.shepherd);
    cmd.arg(SUBCOMMAND)
        .arg(spec.kill_grace.as_millis().to_string())
        .arg(&spec.program)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env("HOME", workdir)
        .env("TMPDIR", workdir)
        .current_dir(workdir)
        .process_group(0)
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
    let fd = write.as_raw_fd();
    let runtime = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // calls (dup2, fcntl, prctl, getppid) on a descriptor that is open in the child.
    unsafe {
        cmd.pre_exec(move || {
            status_fd(fd)?;
            end_with_the_runtime(runtime)
        });
    }
    let child = super::reaper::register(|| {
        let child = cmd.spawn()?;
        let pid = child.id();
        Ok::<_, std::io::Error>((child, pid))
    })
    .map_err(|e| start_error(spec, e.raw_os_error(), &e))?;
    drop(write);
    Ok(Started {
        child,
        status: read,
    })
}

/// In the child: the status pipe's write end as fd 3, kept across exec.
fn status_fd(fd: i32) -> std::io::Result<()> {
    // SAFETY: plain fd syscalls on descriptors of this (child) process.
    let rc = unsafe {
        if fd == STATUS_FD {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, STATUS_FD)
        }
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// In the child: SIGTERM when the runtime dies (prctl(2) `PR_SET_PDEATHSIG`, kept across the
/// exec of the shepherd, which then ends the task's processes as on cancel). Set after the
/// fork, so the runtime may have died already: then the parent is no longer `runtime` and
/// the shepherd is not started. (The signal follows the *thread* that forked; the shepherd is
/// spawned from the runtime's tokio workers, which live as long as the runtime.)
fn end_with_the_runtime(runtime: rustix::process::Pid) -> std::io::Result<()> {
    use rustix::process::{getppid, set_parent_process_death_signal, Signal};
    set_parent_process_death_signal(Some(Signal::TERM))?;
    if getppid() != Some(runtime) {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH)); // no allocation after fork
    }
    Ok(())
}

/// The error for a program that could not be started (errno `code`).
fn start_error(spec: &CliSpec, code: Option<i32>, err: &dyn std::fmt::Display) -> String {
    match code {
        Some(libc::E2BIG) => format!(
            "the task's text does not fit in {}'s arguments (runtime_config.input: argument; \
             the OS argument limit): {err}; use `input: stdin`",
            spec.program.display()
        ),
        _ => format!(
            "cannot start {} (runtime_config.command): {err}",
            spec.program.display()
        ),
    }
}

/// What the shepherd told of a run: how the program ended and what the task's processes
/// used (`None` when the line had no usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told {
    /// How the program itself ended (its exit code or signal).
    pub ended: Ended,
    /// User + system CPU time of every process of the task.
    pub cpu: Option<std::time::Duration>,
    /// The largest resident set of one process of the task, in bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// How the run ended, from the shepherd's status line (read once it exited, so the pipe is at
/// its end); `None` when there is none (the shepherd itself was killed). `Err`: the program
/// could not be started.
pub fn read_status(spec: &CliSpec, status: OwnedFd) -> Result<Option<Told>, String> {
    let mut bytes = Vec::new();
    let mut file = std::fs::File::from(status);
    // Bytes read before an error (EAGAIN: a writer is still open) are kept.
    let _ = (&mut file).take(4096).read_to_end(&mut bytes);
    let line = String::from_utf8_lossy(&bytes);
    let mut words = line.trim().splitn(3, ' ');
    let (kind, n) = (words.next(), words.next().and_then(|n| n.parse().ok()));
    let ended = match (kind, n) {
        (Some("exit"), Some(code)) => Ended::Exited(code),
        (Some("signal"), Some(sig)) => Ended::Signaled(sig),
        (Some("spawn"), code) => {
            let why = crate::redact::escape(words.next().unwrap_or("error"));
            return Err(start_error(spec, code, &why));
        }
        _ => return Ok(None),
    };
    let usage = words.next().unwrap_or_default();
    let field = |name: &str| {
        let prefix = format!("{name}=");
        let value = usage
            .split(' ')
            .find_map(|w| w.strip_prefix(prefix.as_str()));
        value.and_then(|v| v.parse::<u64>().ok())
    };
    Ok(Some(Told {
        ended,
        cpu: field("cpu_us").map(std::time::Duration::from_micros),
        peak_rss_bytes: field("maxrss_kib").map(|k| k.saturating_mul(1024)),
    }))
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
