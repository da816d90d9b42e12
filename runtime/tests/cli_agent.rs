//! `runtime: cli` at the host level: real programs (`cat`, `printf`, `env`, `true`, `false`,
//! `sleep`, and small Python programs run by the real interpreter, no shell) through
//! `cli_agent::run_program` — stdin vs argument input, chunks streamed while the program still
//! runs, the scrubbed environment, exit codes, the output cap, the time limit, cancel
//! (SIGTERM, then SIGKILL for a program that ignores it) and the working folder's clean-up.
//! The real binary: a missing command stops `run` at preflight naming runtime_config.command.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use molecule_config::{CliInput, Env, WorkspaceConfig};
use molecule_runtime::cli_agent::{run_program, CliSpec, Ended, RunReport, TaskFolder};
use tokio::sync::watch;

/// The real Python interpreter (not a version-manager shim, which needs the environment the
/// program does not get).
fn python() -> PathBuf {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed (dev/setup)");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

fn program(name: &str) -> PathBuf {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is installed"))
}

fn spec(program: PathBuf, args: &[&str], root: &Path) -> CliSpec {
    let args = args.iter().map(|s| s.to_string()).collect();
    common::cli::spec(program, args, root, Duration::from_secs(5))
}

/// Runs `spec` once with `text`; returns the report and the chunks. `cancel` fires when a
/// chunk contains `cancel_on`.
async fn run(spec: &CliSpec, text: &str, cancel_on: Option<&str>) -> (RunReport, Vec<String>) {
    let folder = TaskFolder::create(&spec.work_root, "task-1").expect("folder");
    let (tx, rx) = watch::channel(false);
    let mut chunks = Vec::new();
    let report = run_program(spec, folder.path(), text, rx, |c| {
        if cancel_on.is_some_and(|m| c.contains(m)) {
            let _ = tx.send(true);
        }
        chunks.push(c);
    })
    .await
    .expect("the program starts");
    folder.remove().await;
    (report, chunks)
}

#[tokio::test]
async fn stdin_and_argument_input() {
    let dir = tempfile::tempdir().unwrap();
    let cat = spec(program("cat"), &[], dir.path());
    let (report, chunks) = run(&cat, "hello over stdin\n", None).await;
    assert_eq!(report.ended, Ended::Exited(0));
    assert_eq!(chunks.concat(), "hello over stdin\n");
    // `printf <%s> -- text` would print `--` too: printf's operands follow its format.
    let printf = CliSpec {
        input: CliInput::Argument,
        argument_separator: false,
        ..spec(program("printf"), &["<%s>"], dir.path())
    };
    let (report, chunks) = run(&printf, "as an argument; $HOME `no shell`", None).await;
    assert_eq!(report.ended, Ended::Exited(0));
    assert_eq!(chunks.concat(), "<as an argument; $HOME `no shell`>");
    // Every task's working folder is gone afterwards.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("cli-tasks"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn stdout_streams_while_the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    // The program prints, then waits for `go` in its working folder, which the test makes
    // only once the first chunk arrived: without streaming it would wait until its limit.
    let script = "import os, time\nprint('first', flush=True)\n\
                  while not os.path.exists('go'): time.sleep(0.01)\nprint('second', flush=True)";
    let mut s = spec(python(), &["-c", script], dir.path());
    s.timeout = Duration::from_secs(30);
    let folder = TaskFolder::create(&s.work_root, "stream").unwrap();
    let go = folder.path().join("go");
    let (_tx, rx) = watch::channel(false);
    let mut chunks = Vec::new();
    let report = run_program(&s, folder.path(), "", rx, |c| {
        if c.contains("first") {
            std::fs::write(&go, "").unwrap();
        }
        chunks.push(c);
    })
    .await
    .unwrap();
    assert_eq!(report.ended, Ended::Exited(0), "{chunks:?}");
    assert_eq!(chunks, ["first\n", "second\n"]);
}

#[tokio::test]
async fn only_granted_variables_reach_the_program() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "runtime: cli\nruntime_config:\n  command: {}\n  env: [GRANTED, UNSET_ONE]\n  \
             required_env: [MODEL_KEY]\n",
            program("env").display()
        ),
    )
    .unwrap();
    let env = Env::from_pairs(
        [
            ("GRANTED", "yes"),
            ("MODEL_KEY", "sk-granted"),
            ("HOST_SECRET", "must-not-leak"),
            ("PATH", "/usr/bin:/bin"),
            (
                "MOLECULE_CLI_SHEPHERD",
                env!("CARGO_BIN_EXE_molecule-runtime"),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let config = WorkspaceConfig::load(dir.path(), &env);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let cli = config.cli.clone().expect("cli config");
    let s = CliSpec::new(&cli, &config, &env).expect("spec");
    let (report, chunks) = run(&s, "", None).await;
    assert_eq!(report.ended, Ended::Exited(0));
    let mut names: Vec<String> = chunks
        .concat()
        .lines()
        .map(|l| l.split('=').next().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["GRANTED", "HOME", "MODEL_KEY", "TMPDIR"]);
    let out = chunks.concat();
    // The value reached the program: its output shows it masked (8 bytes or more are masked;
    // `yes` is too short to be told from ordinary text).
    assert!(out.contains("GRANTED=yes\n") && out.contains("MODEL_KEY=**********\n"));
    assert!(!out.contains("sk-granted"));
    assert!(!out.contains("must-not-leak") && !out.contains("PATH="));
}

/// A granted value the program writes in two writes (a read apart) reaches the artifact
/// masked, with the text around it intact.
#[tokio::test]
async fn a_granted_secret_split_across_two_writes_is_masked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "sk-test-0123456789abcdef";
    let script = "import os, sys, time\n\
                  v = os.environ['API_KEY']\n\
                  sys.stdout.write('x' * 40 + 'key=' + v[:9]); sys.stdout.flush()\n\
                  time.sleep(0.3)\n\
                  sys.stdout.write(v[9:] + ' end\\n'); sys.stdout.flush()";
    let mut s = spec(python(), &["-c", script], dir.path());
    s.env = vec![("API_KEY".into(), secret.into())];
    let (report, chunks) = run(&s, "", None).await;
    assert_eq!(report.ended, Ended::Exited(0), "{chunks:?}");
    let out = chunks.concat();
    let masked = "*".repeat(secret.len());
    assert_eq!(out, format!("{}key={masked} end\n", "x".repeat(40)));
    // The first write went out before the second was made (all but the held-back tail).
    assert!(
        chunks.len() >= 2 && chunks[0].starts_with("xxx"),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn exit_codes_map_to_the_task_state() {
    let dir = tempfile::tempdir().unwrap();
    let ok = spec(program("true"), &[], dir.path());
    assert_eq!(run(&ok, "", None).await.0.ended, Ended::Exited(0));
    assert_eq!(ok.failure(Ended::Exited(0)), None);
    let code = spec(python(), &["-c", "import sys; sys.exit(7)"], dir.path());
    let ended = run(&code, "", None).await.0.ended;
    assert_eq!(ended, Ended::Exited(7));
    let reason = code.failure(ended).expect("a failure");
    assert!(reason.ends_with("exited with code 7"), "{reason}");
    let falsy = spec(program("false"), &[], dir.path());
    assert_eq!(run(&falsy, "", None).await.0.ended, Ended::Exited(1));
}

#[tokio::test]
async fn output_past_the_cap_is_dropped_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(python(), &["-c", "print('x' * 100000)"], dir.path());
    s.max_output = 1000;
    let (report, chunks) = run(&s, "", None).await;
    assert_eq!(report.ended, Ended::Exited(0));
    assert!(report.truncated);
    assert_eq!(report.output_bytes, 1000);
    let out = chunks.concat();
    assert!(out.starts_with(&"x".repeat(1000)), "{}", &out[..50]);
    assert!(
        out.contains("more than 1000 bytes (runtime_config.max_output)"),
        "{out}"
    );
}

#[tokio::test]
async fn the_time_limit_stops_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(program("sleep"), &["60"], dir.path());
    s.timeout = Duration::from_millis(300);
    let (report, _) = run(&s, "", None).await;
    assert_eq!(report.ended, Ended::TimedOut);
    // `sleep` ends on SIGTERM: the reason says so, and no SIGKILL.
    assert_eq!(report.program, Some(Ended::Signaled(libc::SIGTERM)));
    let reason = s.failure_of(&report).unwrap();
    assert!(
        reason.contains("time limit of 300ms (runtime_config.timeout")
            && reason.ends_with("and was stopped: SIGTERM ended it"),
        "{reason}"
    );
    assert!(!reason.contains("SIGKILL"), "{reason}");
}

#[tokio::test]
async fn a_program_ignoring_sigterm_at_the_time_limit_is_said_to_be_sigkilled() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
                  print('ready', flush=True)\nwhile True: time.sleep(0.05)";
    let mut s = spec(python(), &["-c", script], dir.path());
    s.timeout = Duration::from_secs(1);
    s.kill_grace = Duration::from_millis(200);
    let (report, chunks) = run(&s, "", None).await;
    assert_eq!(report.ended, Ended::TimedOut, "{chunks:?}");
    assert_eq!(report.program, Some(Ended::Signaled(libc::SIGKILL)));
    let reason = s.failure_of(&report).unwrap();
    assert!(
        reason.ends_with(
            "it was sent SIGTERM, did not exit within 200ms (runtime_config.kill_grace) \
             and was killed with SIGKILL"
        ),
        "{reason}"
    );
    // What the task's processes used is measured (the interpreter's start at least).
    assert!(report.cpu.is_some_and(|c| !c.is_zero()), "{report:?}");
    assert!(report.peak_rss_bytes.is_some_and(|b| b > 0), "{report:?}");
}

#[tokio::test]
async fn cancel_sends_sigterm_then_sigkill_to_a_program_that_ignores_it() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    let script = "import os, signal, sys, time\n\
                  marks = sys.argv[1]\n\
                  def on_term(*_):\n    open(marks, 'a').write('TERM\\n')\n\
                  signal.signal(signal.SIGTERM, on_term)\n\
                  open(marks, 'a').write('pid %d\\n' % os.getpid())\n\
                  print('ready', flush=True)\n\
                  while True: time.sleep(0.05)";
    let mut s = spec(
        python(),
        &["-c", script, marks.to_str().unwrap()],
        dir.path(),
    );
    s.kill_grace = Duration::from_millis(300);
    let (report, chunks) = run(&s, "", Some("ready")).await;
    assert_eq!(report.ended, Ended::Canceled, "{chunks:?}");
    assert_eq!(s.failure(report.ended), None);
    let marks = std::fs::read_to_string(&marks).unwrap();
    assert!(marks.contains("TERM\n"), "SIGTERM came first: {marks}");
    let pid = marks
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .expect("pid line");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the program is gone after SIGKILL"
    );
}

#[tokio::test]
async fn a_command_that_cannot_start_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path().join("nope"), &[], dir.path());
    let folder = TaskFolder::create(&s.work_root, "t").unwrap();
    let (_tx, rx) = watch::channel(false);
    let err = run_program(&s, folder.path(), "", rx, |_| {})
        .await
        .expect_err("cannot start");
    assert!(err.contains("runtime_config.command"), "{err}");
}

#[test]
fn run_stops_at_preflight_when_the_command_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "runtime: cli\nruntime_config: {command: ./bin/missing-agent}\n",
    )
    .unwrap();
    let out = common::server::run_command(dir.path(), &dir.path().join("data"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAIL  runtime_config.command") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

/// `smoke --json` on a `runtime: cli` workspace in `dir`.
fn smoke(dir: &Path) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .env("MOLECULE_CACHE_DIR", common::cache_dir())
        .env("MOLECULE_SMOKE_TIMEOUT_SECS", "2")
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("PLATFORM_URL")
        .args(["smoke", "--json", "--config-dir", dir.to_str().unwrap()])
        .output()
        .expect("running molecule-runtime smoke");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
}

#[test]
fn smoke_runs_the_granted_program_once() {
    let dir = tempfile::tempdir().unwrap();
    let write = |cmd: &str, args: &str| {
        std::fs::write(
            dir.path().join("config.yaml"),
            format!("runtime: cli\nruntime_config: {{command: {cmd}, args: [{args}]}}\n"),
        )
        .unwrap();
    };
    write(&program("cat").display().to_string(), "");
    let (code, report) = smoke(dir.path());
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["execute"]["outcome"], "clean", "{report:#}");
    let cat = program("cat").display().to_string();
    assert_eq!(report["components"][0]["source"], cat.as_str());
    // The stub task gets the task variables a real run sets (printenv exits 1 if one is unset).
    write(
        &program("printenv").display().to_string(),
        "MOLECULE_HISTORY_FILE, MOLECULE_FILES_FILE, MOLECULE_TASK_ID, MOLECULE_CONTEXT_ID",
    );
    let (code, report) = smoke(dir.path());
    assert_eq!(
        (code, &report["execute"]["outcome"]),
        (0, &"clean".into()),
        "{report:#}"
    );
    // A non-zero exit is an ordinary error (PASS); running past the smoke limit a timeout.
    write(&program("false").display().to_string(), "");
    let (code, report) = smoke(dir.path());
    assert_eq!((code, &report["execute"]["outcome"]), (0, &"error".into()));
    assert!(report["execute"]["detail"]
        .as_str()
        .unwrap()
        .ends_with("exited with code 1"));
    write(&program("sleep").display().to_string(), "\"60\"");
    let (code, report) = smoke(dir.path());
    assert_eq!(
        (code, &report["execute"]["outcome"]),
        (0, &"timeout".into())
    );
    // A missing program fails at preflight.
    write("./missing", "");
    let (code, report) = smoke(dir.path());
    assert_eq!(code, 1, "{report:#}");
}

#[test]
fn check_names_the_granted_program() {
    let dir = tempfile::tempdir().unwrap();
    let cat = program("cat");
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "runtime: cli\nruntime_config: {{command: {}}}\n",
            cat.display()
        ),
    )
    .unwrap();
    let check = |dir: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
            .env("MOLECULE_CACHE_DIR", common::cache_dir())
            .env_remove("WORKSPACE_CONFIG_PATH")
            .env_remove("PLATFORM_URL")
            .args(["check", "--config-dir", dir.to_str().unwrap()])
            .output()
            .expect("running molecule-runtime check")
    };
    let out = check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!("adapter cli: ok (native program {}", cat.display());
    assert!(stdout.contains(&want), "{stdout}");
    assert!(out.status.success(), "{stdout}");
    std::fs::write(
        dir.path().join("config.yaml"),
        "runtime: cli\nruntime_config: {command: ./gone}\n",
    )
    .unwrap();
    let out = check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("adapter cli: FAIL") && stdout.contains("runtime_config.command"),
        "{stdout}"
    );
}

/// Whether `pid` is gone (or a zombie waiting to be reaped by init).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn what_the_program_leaves_running_is_killed_when_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    let script = "import subprocess, sys\n\
                  p = subprocess.Popen([sys.argv[2], '60'], stdout=subprocess.DEVNULL)\n\
                  open(sys.argv[1], 'w').write(str(p.pid))\n\
                  print('left one behind', flush=True)";
    let sleep = program("sleep");
    let s = spec(
        python(),
        &[
            "-c",
            script,
            marks.to_str().unwrap(),
            sleep.to_str().unwrap(),
        ],
        dir.path(),
    );
    let (report, chunks) = run(&s, "", None).await;
    assert_eq!(report.ended, Ended::Exited(0), "{chunks:?}");
    let pid = std::fs::read_to_string(&marks).unwrap();
    // SIGKILL is delivered asynchronously: allow the kernel a moment (not a speed check).
    for _ in 0..100 {
        if gone(pid.trim()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone(pid.trim()), "the background `sleep` {pid} still runs");
}
