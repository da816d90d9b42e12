//! Benchmarks of the call path:
//!
//! * `instantiate_call/*`: a fresh store, instantiation from the pre-instance and one tool
//!   call of `json-query`, with the component already compiled (pooling and on-demand);
//! * `whole_process/call`: the `molecule-runtime call` command end to end with a warm
//!   compiled-code cache (needs the release binary: `cargo build --release -p molecule-runtime`;
//!   skipped with a note when it is missing).

use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use molecule_runtime::engine::{Allocation, EngineOptions};
use molecule_runtime::grants::Grants;
use molecule_runtime::sandbox::Sandbox;
use molecule_tests::{guest_wasm, host_with, repo_root, test_cache_dir};

const INPUT: &str = r#"{"json":{"a":[1,2],"b":{"c":"d"}},"pointer":"/a/1"}"#;

fn instantiate_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let wasm = guest_wasm("demo/skills/json-query");
    let mut group = c.benchmark_group("instantiate_call");
    for (name, allocation) in [
        ("pooling", Allocation::Auto),
        ("on_demand", Allocation::OnDemand),
    ] {
        let host = host_with(EngineOptions {
            allocation,
            ..EngineOptions::default()
        });
        let skill = rt
            .block_on(host.load_skill(&wasm, Grants::builder("skill json-query").build()))
            .expect("load json-query");
        let sandbox = Sandbox::new(host.engine().clone());
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = rt
                    .block_on(sandbox.call_tool(&skill, "query", INPUT))
                    .expect("call");
                assert_eq!(out, "2");
            })
        });
    }
    group.finish();
}

fn whole_process(c: &mut Criterion) {
    let bin = std::env::var_os("MOLECULE_RUNTIME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            test_cache_dir()
                .parent()
                .unwrap()
                .join("release/molecule-runtime")
        });
    if !bin.is_file() {
        eprintln!(
            "whole_process: skipped, {} is missing (cargo build --release -p molecule-runtime)",
            bin.display()
        );
        return;
    }
    let run = || {
        let out = Command::new(&bin)
            .current_dir(repo_root())
            .env("MOLECULE_CACHE_DIR", test_cache_dir())
            .args(["call", "demo/skills/json-query", "query", "--args", INPUT])
            .output()
            .expect("run molecule-runtime");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"2\n");
    };
    run(); // warm the build and compiled-code caches
    let mut group = c.benchmark_group("whole_process");
    group.sample_size(30);
    group.bench_function("call", |b| b.iter(run));
    group.finish();
}

criterion_group!(benches, instantiate_call, whole_process);
criterion_main!(benches);
