//! `runtime: cli` when the task's shepherd is not there to end the task: the program kills
//! its own shepherd (same uid) after leaving a `setsid` sleeper (the sleeper, re-parented to
//! the runtime, is killed and reaped; the run reports the shepherd killed, not the program);
//! and the runtime's own `Command::output()` children are never taken by the reaper. (The
//! runtime dying: `cli_agent_runtime_death.rs`.)

use std::path::Path;
use std::time::Duration;

use molecule_runtime::cli_agent::guard::harden_runtime;
use molecule_runtime::cli_agent::reaper::reap_orphans;
use molecule_runtime::cli_agent::{run_program, CliSpec, Ended, RunReport, TaskFolder};
use tokio::sync::watch;

#[path = "common/cli.rs"]
mod cli_spec;

fn spec(script: &str, marks: &Path, root: &Path) -> CliSpec {
    cli_spec::sh_spec(script, marks, root)
}

/// Runs `spec` once in a fresh task folder (failing the test instead of hanging past 60 s).
async fn run(spec: &CliSpec) -> Result<RunReport, String> {
    let folder = TaskFolder::create(&spec.work_root, "task-1").expect("folder");
    let (_tx, rx) = watch::channel(false);
    let run = run_program(spec, folder.path(), "", rx, |_| {});
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ends");
    folder.remove().await;
    report
}

/// The processes whose command line is `sleep <arg>` (zombies have none: ended).
fn sleeping(arg: &str) -> Vec<i32> {
    let want = format!("sleep\0{arg}\0");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes())
        })
        .collect()
}

/// The reviewer's repro: `setsid -f sleep 777 …; kill -9 $PPID` (the shepherd) at once. The
/// sleeper is re-parented to the runtime and must be killed and reaped by the end of the run;
/// several rounds, so a race would show.
#[tokio::test]
async fn a_program_that_kills_its_shepherd_leaves_nothing_running() {
    harden_runtime().expect("prctl");
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let arg = format!("777.{}{round}", std::process::id());
        let script =
            format!("setsid -f sleep {arg} </dev/null >/dev/null 2>&1; kill -9 $PPID; sleep 5");
        let marks = dir.path().join("unused");
        let report = run(&spec(&script, &marks, dir.path()))
            .await
            .expect("starts");
        assert_eq!(report.ended, Ended::ShepherdKilled(9), "round {round}");
        let left = sleeping(&arg);
        for pid in &left {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
        assert!(
            left.is_empty(),
            "round {round}: `sleep {arg}` survived: {left:?}"
        );
    }
}

/// The runtime's own `Command::output()` (it waits only once the pipes close, so its child
/// stays a zombie meanwhile) keeps its child: the reaper, woken by that exit, takes nothing
/// from the runtime's process group. (An age-based reaper took it after ~10 s.)
#[tokio::test]
async fn the_reaper_never_takes_the_runtimes_own_children() {
    harden_runtime().expect("prctl");
    let reaper = tokio::spawn(reap_orphans());
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new("sh")
            .args(["-c", "sleep 16 & echo hi; exit 0"])
            .output()
    })
    .await
    .expect("joins");
    reaper.abort();
    let out = out.expect("output() gets its child's status");
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hi\n");
}
