//! `molecule-runtime smoke` (also `run`, or no subcommand, when `MOLECULE_SMOKE_MODE` is on):
//! preflight, load and link-check every component, execute once on a stub request, exit 0 or
//! 1 — never register, heartbeat or listen. `--json` prints the report on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::workspace::smoke::{smoke, smoke_env};

use super::Context;

/// Arguments of `smoke`.
#[derive(Debug, Args, Default)]
pub struct SmokeArgs {
    /// The folder holding config.yaml (overrides WORKSPACE_CONFIG_PATH).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Print a machine-readable JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs smoke mode; the exit code is the report's.
pub async fn run(ctx: &Context, args: SmokeArgs) -> anyhow::Result<ExitCode> {
    let env = smoke_env(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    let overrides = Overrides {
        config_dir: args.config_dir,
        // Nothing listens in smoke mode; the address only feeds the plan.
        port: None,
        bind: None,
    };
    let plan = Plan::new(env, &overrides);
    eprintln!("{}", plan.preflight.render());
    if plan.preflight.has_failures() {
        eprintln!("preflight failed: fix the FAIL lines above");
    }
    let report = smoke(plan, ctx.host.clone(), ctx.builder.clone()).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    Ok(ExitCode::from(report.exit_code))
}
