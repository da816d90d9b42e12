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
    /// Python interpreter, a JavaScript one the shared JavaScript engine).
    #[arg(required_unless_present_any = ["python", "js"])]
    pub paths: Vec<PathBuf>,
    /// Build and compile the shared Python interpreter component (once per machine and
    /// source) and print where it is.
    #[arg(long)]
    pub python: bool,
    /// Build and compile the shared JavaScript engine component (once per machine and
    /// source; needs clang, llvm-ar and wasi-libc: `dev/setup`) and print where it is.
    #[arg(long)]
    pub js: bool,
}

/// Prints `what: ok (wasm, built now|cached, compiled now|cached, time)`, or the error.
fn report(
    what: &str,
    started: std::time::Instant,
    result: anyhow::Result<(PathBuf, bool, CacheOutcome)>,
) -> bool {
    match result {
        Ok((wasm, built_now, outcome)) => {
            println!(
                "{what}: ok ({}, {}, {}, {:.1?})",
                wasm.display(),
                if built_now { "built now" } else { "cached" },
                match outcome {
                    CacheOutcome::Hit => "compiled code cached",
                    CacheOutcome::Compiled => "compiled now",
                },
                started.elapsed()
            );
            true
        }
        Err(err) => {
            eprintln!("{what}: {err:#}");
            false
        }
    }
}

/// Runs `build`.
pub async fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let compile = |wasm: &std::path::Path, label: &str| -> anyhow::Result<CacheOutcome> {
        let bytes = std::fs::read(wasm)?;
        Ok(ctx.host.compile(&bytes, label)?.1)
    };
    if args.python {
        let started = std::time::Instant::now();
        let result = ctx.builder.python().ensure().and_then(|interp| {
            let outcome = compile(&interp.wasm, "the Python interpreter")?;
            Ok((interp.wasm, interp.built_now, outcome))
        });
        failed |= !report("python interpreter", started, result);
    }
    if args.js {
        let started = std::time::Instant::now();
        let result = molecule_runtime::javascript::engine::ensure(&ctx.builder).and_then(|e| {
            let outcome = compile(&e.wasm, "the JavaScript engine")?;
            Ok((e.wasm, e.built_now, outcome))
        });
        failed |= !report("javascript engine", started, result);
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
