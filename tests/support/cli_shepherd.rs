//! The `runtime: cli` task shepherd as its own small binary, for tests and benches that run
//! CLI agents from a test binary (which has no `__cli-shepherd` subcommand): run as
//! `cli-shepherd __cli-shepherd <kill_grace_ms> <program> [args…]`, exactly like
//! `molecule-runtime __cli-shepherd …`.

use std::process::ExitCode;

fn main() -> ExitCode {
    molecule_runtime::cli_agent::shepherd::main_if_shepherd().unwrap_or_else(|| {
        eprintln!("cli-shepherd: run as `cli-shepherd __cli-shepherd <kill_grace_ms> <program> [args...]`");
        ExitCode::from(2)
    })
}
