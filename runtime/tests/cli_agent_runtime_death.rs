//! `runtime: cli` when the runtime dies mid-task (a re-executed test binary stands in for it
//! and is SIGKILLed): the shepherd's parent-death signal ends the task's processes and the
//! shepherd removes the task's folder. A binary of its own: the shepherd must not be
//! re-parented to a test process that is itself a subreaper ending leftovers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use molecule_runtime::cli_agent::guard::harden_runtime;
use molecule_runtime::cli_agent::{run_program, CliSpec, TaskFolder};
use tokio::sync::watch;

#[path = "common/cli.rs"]
mod cli_spec;

fn spec(script: &str, marks: &Path, root: &Path) -> CliSpec {
    cli_spec::sh_spec(script, marks, root)
}

/// Whether `pid` is gone or a zombie (ended; a zombie waits for whoever is its parent).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

/// Set in the re-executed test binary that stands in for the runtime: where to write.
const PARENT_DIR: &str = "MOLECULE_TEST_RUNTIME_STAND_IN";

/// The stand-in runtime (only with [`PARENT_DIR`] set; otherwise a no-op): runs a task whose
/// program writes its pid and sleeps, until it is killed.
#[tokio::test]
async fn stand_in_runtime() {
    let Some(dir) = std::env::var_os(PARENT_DIR).map(PathBuf::from) else {
        return;
    };
    harden_runtime().expect("prctl");
    let marks = dir.join("program");
    let script = "echo \"$(pwd)\" > \"$1.dir\"; echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; \
                  exec sleep 777";
    let s = spec(script, &marks, &dir);
    let folder = TaskFolder::create(&s.work_root, "task-1").expect("folder");
    let (_tx, rx) = watch::channel(false);
    let _ = run_program(&s, folder.path(), "", rx, |_| {}).await;
}

/// The runtime is SIGKILLed mid-task: the shepherd gets SIGTERM (its parent-death signal) and
/// ends the task's processes, and removes the task's folder.
#[test]
fn the_task_ends_when_the_runtime_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut runtime = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stand_in_runtime", "--nocapture"])
        .env(PARENT_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the stand-in runs");
    let marks = dir.path().join("program");
    let mut pid = String::new();
    for _ in 0..600 {
        pid = std::fs::read_to_string(&marks).unwrap_or_default();
        if !pid.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    runtime.kill().expect("SIGKILL");
    runtime.wait().expect("reaped");
    assert!(!pid.is_empty(), "the program ran");
    let folder = std::fs::read_to_string(dir.path().join("program.dir")).unwrap();
    for _ in 0..200 {
        if ended(&pid) && !Path::new(folder.trim()).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ended(&pid), "the program {pid} outlived the runtime");
    assert!(
        !Path::new(folder.trim()).exists(),
        "the task's folder {folder} stayed"
    );
}
