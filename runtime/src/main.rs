//! The `molecule-runtime` command line.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    // A `runtime: cli` task's shepherd (the runtime re-executed): nothing else runs in it.
    if let Some(code) = molecule_runtime::cli_agent::shepherd::main_if_shepherd() {
        return code;
    }
    // First, before any secret is read: a `runtime: cli` program (same uid) must not read
    // this process's environment or memory, nor escape its task by re-parenting to init.
    if let Err(err) = molecule_runtime::cli_agent::guard::harden_runtime() {
        eprintln!("error: cannot protect the runtime process: {err}");
        return ExitCode::FAILURE;
    }
    let args = cli::Cli::parse();
    // Declared before the async runtime so it drops after it: queued spans are flushed last.
    let _telemetry = match cli::init_logging(&args.global) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match async_runtime() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The runtime is a subreaper (and may be PID 1): task processes re-parented to it (outside
    // its process group, not a shepherd) are killed and reaped.
    let reaper = molecule_runtime::cli_agent::reaper::reap_orphans;
    runtime.spawn(reaper());
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The multi-threaded tokio runtime. `TOKIO_WORKER_THREADS` is checked here (tokio itself
/// panics on a value it cannot parse) and then applied.
fn async_runtime() -> Result<tokio::runtime::Runtime, String> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(raw) = std::env::var_os("TOKIO_WORKER_THREADS") {
        let raw = raw.to_string_lossy();
        let threads = raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!("TOKIO_WORKER_THREADS is `{raw}`: expected a number of threads (1 or more), or unset it")
            })?;
        builder.worker_threads(threads);
    }
    builder.build().map_err(|e| e.to_string())
}
