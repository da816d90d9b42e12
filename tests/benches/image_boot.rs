//! Container start to Agent Card, measured on the image's own binary and layout: the root
//! filesystem `tests/image.rs` exported from the built image, booted on the host (this
//! machine cannot run containers) as the image's entrypoint would be — `run`, the image's
//! environment, its precompiled cache, a fresh data folder each time — from process spawn
//! to the first 200 answer of `/.well-known/agent-card.json`. Prints the median and range.
//! Run: `cargo test -p molecule-tests --test image` once, then
//! `cargo bench -p molecule-tests --bench image_boot`.

use std::time::{Duration, Instant};

use molecule_tests::image::{boot_rootfs, exported_rootfs, wait_for_card};

const RUNS: usize = 15;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = exported_rootfs();
    if !root.join("usr/local/bin/molecule-runtime").is_file() {
        eprintln!(
            "no exported image at {}: run `cargo test -p molecule-tests --test image` first",
            root.display()
        );
        std::process::exit(2);
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let data = tempfile::tempdir().expect("a data folder");
        let started = Instant::now();
        let booted = boot_rootfs(&root, data.path());
        let card = wait_for_card(&booted.base, Duration::from_secs(60)).await;
        let elapsed = started.elapsed();
        assert!(card.is_some(), "no Agent Card within 60 s");
        times.push(elapsed);
        drop(booted);
    }
    times.sort();
    println!(
        "image start to Agent Card ({RUNS} boots, fresh data folder each): median {:.1} ms \
         (min {:.1} ms, max {:.1} ms)",
        ms(times[RUNS / 2]),
        ms(times[0]),
        ms(times[RUNS - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
