//! What one `runtime: cli` task costs the host beyond the program itself: `run_program` of
//! `/bin/cat` (or `/usr/bin/cat`) on a short text — working folder made and removed, the
//! process spawned in its own group with a cleared environment, stdin written, stdout read to
//! its end, the group killed, the exit reaped — [`RUNS`] times after a warm-up; prints the
//! median, p90 and max wall time per run.
//!
//! Run: `cargo bench -p molecule-tests --bench cli_agent` (the dev profile gives the same
//! figure within noise: the time is the kernel's fork/exec/wait, the dependencies are
//! optimised either way: `--profile dev`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use molecule_config::CliInput;
use molecule_runtime::cli_agent::{run_program, CliSpec, Ended, TaskFolder};
use tokio::sync::watch;

/// Measured runs.
const RUNS: usize = 500;

fn cat() -> PathBuf {
    ["/usr/bin/cat", "/bin/cat"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("cat is installed")
}

async fn once(spec: &CliSpec) -> Duration {
    let started = Instant::now();
    let folder = TaskFolder::create(&spec.work_root, "bench").expect("folder");
    let (_tx, rx) = watch::channel(false);
    let mut bytes = 0;
    let report = run_program(spec, folder.path(), "hello from the bench\n", rx, |c| {
        bytes += c.len()
    })
    .await
    .expect("cat runs");
    folder.remove().await;
    assert_eq!((report.ended, bytes), (Ended::Exited(0), 21));
    started.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = CliSpec {
        program: cat(),
        args: Vec::new(),
        input: CliInput::Stdin,
        env: vec![("LANG".into(), "C.UTF-8".into())],
        timeout: Duration::from_secs(30),
        kill_grace: Duration::from_secs(1),
        max_output: 1 << 20,
        max_concurrent: 1,
        max_waiting: 0,
        max_wait: Duration::from_secs(1),
        work_root: Path::new(dir.path()).join("cli-tasks"),
        argument_separator: true,
        shepherd: PathBuf::from(env!("CARGO_BIN_EXE_cli-shepherd")),
        history_max_bytes: 1 << 16,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut times: Vec<Duration> = rt.block_on(async {
        for _ in 0..20 {
            once(&spec).await;
        }
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            times.push(once(&spec).await);
        }
        times
    });
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "cli_agent run_program(cat) x{RUNS}: median {:?}, p90 {:?}, max {:?}",
        at(0.5),
        at(0.9),
        times[times.len() - 1]
    );
}
