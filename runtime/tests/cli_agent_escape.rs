//! `runtime: cli` against a program that tries to get out: reading the runtime's environment
//! through `/proc/<parent>/environ` (refused once the runtime is non-dumpable), descendants
//! that leave the group with `setsid` and hold stdout open (killed and reaped at exit and at
//! cancel), task text starting with `-` with `input: argument` (`--` goes first), text over
//! the OS argument limit (an error naming runtime_config.input), and config.yaml granting the
//! runtime's own credentials (refused, naming the file and the key).

use std::path::{Path, PathBuf};
use std::time::Duration;

use molecule_config::{CliInput, Env, WorkspaceConfig};
use molecule_runtime::cli_agent::guard::harden_runtime;
use molecule_runtime::cli_agent::{run_program, CliSpec, Ended, RunReport, TaskFolder};
use tokio::sync::watch;

#[path = "common/cli.rs"]
mod cli_spec;

/// The real Python interpreter (not a version-manager shim).
fn python() -> PathBuf {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed (dev/setup)");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

fn spec(program: PathBuf, args: &[&str], root: &Path) -> CliSpec {
    let args = args.iter().map(|s| s.to_string()).collect();
    cli_spec::spec(program, args, root, Duration::from_secs(1))
}

/// Runs `spec` once with `text` (failing the test instead of hanging past 60 s); `cancel`
/// fires when a chunk contains `cancel_on`.
async fn run(
    spec: &CliSpec,
    text: &str,
    cancel_on: Option<&str>,
) -> Result<(RunReport, String), String> {
    let folder = TaskFolder::create(&spec.work_root, "task-1").expect("folder");
    let (tx, rx) = watch::channel(false);
    let mut chunks = String::new();
    let run = run_program(spec, folder.path(), text, rx, |c| {
        if cancel_on.is_some_and(|m| c.contains(m)) {
            let _ = tx.send(true);
        }
        chunks.push_str(&c);
    });
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ends (no descendant holds it open)");
    folder.remove().await;
    report.map(|r| (r, chunks))
}

/// The same uid, no capabilities: the program reads `/proc/<runtime>/environ` and is refused.
/// Root passes every such check (CAP_SYS_PTRACE), so as root this test runs its body again
/// as `nobody` (the test binary itself, through `setpriv`), the way a deployment should run.
#[test]
fn the_program_cannot_read_the_runtimes_environment() {
    if !rustix::process::getuid().is_root() {
        return environ_is_unreadable();
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args(["--exact", "environ_as_nobody", "--ignored", "--nocapture"])
        .env("TMPDIR", "/tmp")
        .output()
        .expect("setpriv runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 passed"), "{text}");
}

/// The body of the test above when started as `nobody` (ignored otherwise).
#[test]
#[ignore = "run by the_program_cannot_read_the_runtimes_environment as an unprivileged uid"]
fn environ_as_nobody() {
    assert!(!rustix::process::getuid().is_root(), "runs as nobody");
    environ_is_unreadable();
}

fn environ_is_unreadable() {
    harden_runtime().expect("prctl");
    let dir = tempfile::tempdir().unwrap();
    let script = "import os\n\
                  try:\n    open(f'/proc/{os.getppid()}/environ', 'rb').read(); print('READ')\n\
                  except PermissionError:\n    print('DENIED')";
    let s = spec(
        PathBuf::from("/usr/bin/python3"),
        &["-c", script],
        dir.path(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (report, out) = rt.block_on(run(&s, "", None)).expect("starts");
    assert_eq!(report.ended, Ended::Exited(0), "{out}");
    assert_eq!(out.trim(), "DENIED");
}

/// A program whose grandchild leaves the session (`setsid`), writes its pid to argv[1], keeps
/// stdout open and sleeps; the program prints `started` and then exits (argv[2] = `exit`) or
/// sleeps (anything else).
const ESCAPER: &str = "import os, sys, time\n\
if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        \
open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid())); os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n        \
time.sleep(1000)\n    time.sleep(0.5)\n    os._exit(0)\n\
while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n\
time.sleep(1)\nprint('started', flush=True)\n\
if sys.argv[2] != 'exit': time.sleep(1000)\n";

/// Whether `pid` no longer exists at all (killed and reaped, not a zombie).
fn gone(pid: &str) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

async fn escaper_is_stopped(mode: &str, cancel_on: Option<&str>, expect: Ended) {
    harden_runtime().expect("prctl");
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("pid");
    let s = spec(
        python(),
        &["-c", ESCAPER, marks.to_str().unwrap(), mode],
        dir.path(),
    );
    let (report, out) = run(&s, "", cancel_on).await.expect("starts");
    assert_eq!(report.ended, expect, "{out}");
    let pid = std::fs::read_to_string(&marks).unwrap();
    assert!(
        gone(pid.trim()),
        "the setsid grandchild {pid} is still there"
    );
}

#[tokio::test]
async fn a_setsid_descendant_is_killed_and_reaped_when_the_program_exits() {
    escaper_is_stopped("exit", None, Ended::Exited(0)).await;
}

#[tokio::test]
async fn a_setsid_descendant_is_killed_and_reaped_on_cancel() {
    escaper_is_stopped("stay", Some("started"), Ended::Canceled).await;
}

/// A program that double-forks a sleeper — the child leaves the session (`setsid`), forks the
/// sleeper and exits at once, so the sleeper is an orphan before any scan could see it — and
/// then sleeps itself; the sleeper writes its pid to argv\[1\] and the program its own to
/// argv\[2\] before printing `started`.
const DOUBLE_FORK: &str = "import os, sys, time\n\
if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        \
open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid())); os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n        \
time.sleep(1000)\n    os._exit(0)\n\
while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n\
open(sys.argv[2], 'w').write(str(os.getpid()))\n\
print('started', flush=True)\ntime.sleep(1000)\n";

/// Cancel ends every process of a double-forked tree: the sleeper orphaned at once cannot
/// leave the shepherd's subtree (repeated: a race would show in one of the rounds).
#[tokio::test]
async fn a_double_forked_orphan_is_gone_after_cancel() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let sleeper = dir.path().join(format!("sleeper-{round}"));
        let program = dir.path().join(format!("program-{round}"));
        let s = spec(
            python(),
            &[
                "-c",
                DOUBLE_FORK,
                sleeper.to_str().unwrap(),
                program.to_str().unwrap(),
            ],
            dir.path(),
        );
        let (report, out) = run(&s, "", Some("started")).await.expect("starts");
        assert_eq!(report.ended, Ended::Canceled, "{out}");
        for file in [&sleeper, &program] {
            let pid = std::fs::read_to_string(file).unwrap();
            assert!(
                gone(pid.trim()),
                "round {round}: {} {pid} is still there",
                file.display()
            );
        }
    }
}

/// A task process re-parented to the runtime (a subreaper) — out of the runtime's process
/// group (`setsid`), not a shepherd — is killed and reaped, not left running or a zombie: its
/// parent writes its pid and exits at once.
#[tokio::test]
async fn a_leftover_re_parented_to_the_runtime_is_killed_and_reaped() {
    use molecule_runtime::cli_agent::reaper::reap_orphans;
    harden_runtime().expect("prctl");
    let reaper = tokio::spawn(reap_orphans());
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("orphan");
    let script = "import os, sys, time\n\
                  pid = os.fork()\n\
                  if pid == 0:\n    os.setsid()\n    time.sleep(1000)\n    os._exit(0)\n\
                  open(sys.argv[1], 'w').write(str(pid))\n";
    let status = tokio::process::Command::new(python())
        .args(["-c", script, marks.to_str().unwrap()])
        .status()
        .await
        .expect("python runs");
    assert!(status.success());
    let pid = std::fs::read_to_string(&marks).unwrap_or_default();
    for _ in 0..200 {
        if gone(&pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reaper.abort();
    assert!(!pid.is_empty(), "the orphan ran");
    assert!(gone(&pid), "the orphan {pid} is still there");
}

#[tokio::test]
async fn text_starting_with_a_dash_is_not_an_option() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(PathBuf::from("/usr/bin/basename"), &[], dir.path());
    s.input = CliInput::Argument;
    let (report, out) = run(&s, "-a", None).await.expect("starts");
    assert_eq!((report.ended, out.as_str()), (Ended::Exited(0), "-a\n"));
    s.argument_separator = false;
    let err = run(&s, "-a", None).await.expect_err("refused");
    assert!(err.contains("argument_separator"), "{err}");
}

#[tokio::test]
async fn text_over_the_argument_limit_names_the_input_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(PathBuf::from("/usr/bin/basename"), &[], dir.path());
    s.input = CliInput::Argument;
    let err = run(&s, &"x".repeat(200 * 1024), None)
        .await
        .expect_err("refused");
    assert!(err.contains("runtime_config.input"), "{err}");
    assert!(!err.contains("runtime_config.command"), "{err}");
}

#[test]
fn granting_the_runtimes_own_credentials_is_refused() {
    for (key, name) in [
        ("env", "MOLECULE_WORKSPACE_TOKEN"),
        ("required_env", "MOLECULE_INBOUND_SECRET"),
        ("env", "LANGFUSE_SECRET_KEY"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let yaml =
            format!("runtime: cli\nruntime_config:\n  command: /bin/true\n  {key}: [{name}]\n");
        std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
        let config =
            WorkspaceConfig::load(dir.path(), &Env::from_pairs(Vec::<(String, String)>::new()));
        let errors = format!("{:?}", config.errors);
        assert!(
            errors.contains(&format!("runtime_config.{key}")) && errors.contains(name),
            "{errors}"
        );
    }
}

#[test]
fn a_bad_argument_separator_or_work_root_is_an_error() {
    for (line, key) in [
        ("argument_separator: null", "argument_separator"),
        ("argument_separator: \"yes\"", "argument_separator"),
        ("work_root: relative/dir", "work_root"),
        ("work_roots: /tmp/x", "work_roots"),
        ("history_max_bytes: null", "history_max_bytes"),
        ("history_max_bytes: lots", "history_max_bytes"),
        ("history_max_bytes: 64MiB", "history_max_bytes"),
        ("history_max_byte: 1KiB", "history_max_byte"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!("runtime: cli\nruntime_config:\n  command: /bin/true\n  {line}\n");
        std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
        let config =
            WorkspaceConfig::load(dir.path(), &Env::from_pairs(Vec::<(String, String)>::new()));
        let errors = format!("{:?}", config.errors);
        assert!(
            errors.contains(&format!("runtime_config.{key}")),
            "{line}: {errors}"
        );
    }
}

/// A NUL in a task variable (a client's context id that got past the A2A checks) is refused
/// naming the variable, not blamed on `runtime_config.command`.
#[tokio::test]
async fn a_nul_in_a_task_variable_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(PathBuf::from("/bin/true"), &[], dir.path());
    let folder = TaskFolder::create(&s.work_root, "task-nul").expect("folder");
    let (_tx, rx) = watch::channel(false);
    let vars = [("MOLECULE_CONTEXT_ID".to_owned(), "ab\0cd".to_owned())];
    let err = molecule_runtime::cli_agent::run_task(&s, folder.path(), "", &vars, rx, |_| {})
        .await
        .expect_err("refused");
    folder.remove().await;
    assert!(err.contains("MOLECULE_CONTEXT_ID"), "{err}");
    assert!(!err.contains("runtime_config.command"), "{err}");
}
