//! `molecule-runtime build PATH…`: build component crates and compile them into the cache.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_runtime::cache::CacheOutcome;

use super::{label_for, Context};

/// Arguments of `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Crate folders or skill folders to build.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `build`.
pub async fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in &args.paths {
        let label = label_for(path);
        let started = std::time::Instant::now();
        let result = ctx
            .component_bytes(path)
            .and_then(|wasm| ctx.host.compile(&wasm, &label).map(|c| (wasm.len(), c.1)));
        match result {
            Ok((size, outcome)) => {
                let compiled = match outcome {
                    CacheOutcome::Hit => "compiled code cached",
                    CacheOutcome::Compiled => "compiled now",
                };
                println!(
                    "{label}: ok ({} KiB component, {compiled}, {:.1?})",
                    size / 1024,
                    started.elapsed()
                );
            }
            Err(err) => {
                failed = true;
                eprintln!("{label}: {err:#}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
