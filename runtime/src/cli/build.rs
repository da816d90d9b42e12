//! `molecule-runtime build PATH…`: build component crates and compile them into the cache.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_runtime::cache::CacheOutcome;

use super::{label_for, Context};

/// Arguments of `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Crate folders or skill folders to build (a Python skill folder builds the shared
    /// Python interpreter).
    #[arg(required_unless_present = "python")]
    pub paths: Vec<PathBuf>,
    /// Build and compile the shared Python interpreter component (once per machine and
    /// source) and print where it is.
    #[arg(long)]
    pub python: bool,
}

/// Runs `build`.
pub async fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    if args.python {
        let started = std::time::Instant::now();
        let result = ctx.builder.python().ensure().and_then(|interp| {
            let wasm = std::fs::read(&interp.wasm)?;
            let (_, outcome) = ctx.host.compile(&wasm, "the Python interpreter")?;
            Ok((interp, outcome))
        });
        match result {
            Ok((interp, outcome)) => println!(
                "python interpreter: ok ({}, {}, {}, {:.1?})",
                interp.wasm.display(),
                if interp.built_now {
                    "built now"
                } else {
                    "cached"
                },
                match outcome {
                    CacheOutcome::Hit => "compiled code cached",
                    CacheOutcome::Compiled => "compiled now",
                },
                started.elapsed()
            ),
            Err(err) => {
                failed = true;
                eprintln!("python interpreter: {err:#}");
            }
        }
    }
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
