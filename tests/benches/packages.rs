//! Skill packages against a real registry on 127.0.0.1 (Debian's `docker-registry`): the time
//! to push a skill (a prebuilt component), to sign it, to pull it cold (empty cache: manifest,
//! signature check, blobs, unpack) and warm (blobs and the unpacked folder cached: manifest,
//! signature check, re-hash). Prints medians of 15 runs.
//! Run: `cargo bench -p molecule-tests --bench packages`.

use std::time::{Duration, Instant};

use molecule_packages::testing::Registry;
use molecule_packages::{generate_key_pair, PackageRef, PullOptions, TrustedKey};
use molecule_tests::guest_wasm;

const RUNS: usize = 15;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("ver");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(skill.join("SKILL.md"), "---\nname: ver\n---\n").unwrap();
    let wasm = guest_wasm("tests/guests/versioned");
    std::fs::write(skill.join("tool.wasm"), wasm.as_slice()).unwrap();
    let (key, public) = generate_key_pair(dir.path(), "signer").unwrap();
    let options = |cache: &std::path::Path| PullOptions {
        cache_dir: cache.to_owned(),
        trusted_keys: vec![TrustedKey::load(&public).unwrap()],
        ..PullOptions::default()
    };
    let (mut push, mut sign, mut cold, mut warm) = (vec![], vec![], vec![], vec![]);
    for i in 0..RUNS {
        let reference = PackageRef::parse(&format!("{}/bench{i}/ver:1", registry.host)).unwrap();
        let t = Instant::now();
        let pushed = molecule_packages::push(&skill, &reference, &Default::default(), &[])
            .await
            .unwrap();
        push.push(t.elapsed());
        let pinned = PackageRef::parse(&pushed.pinned).unwrap();
        let t = Instant::now();
        molecule_packages::sign(&pinned, &key, None, &[])
            .await
            .unwrap();
        sign.push(t.elapsed());
        let cache = dir.path().join(format!("cache{i}"));
        let t = Instant::now();
        molecule_packages::pull(&pinned, &options(&cache))
            .await
            .unwrap();
        cold.push(t.elapsed());
        let t = Instant::now();
        molecule_packages::pull(&pinned, &options(&cache))
            .await
            .unwrap();
        warm.push(t.elapsed());
    }
    println!(
        "skill package of {} KiB component, {RUNS} runs, medians:",
        wasm.len() / 1024
    );
    println!("  push:                 {:?}", median(push));
    println!("  sign:                 {:?}", median(sign));
    println!("  pull (cold cache):    {:?}", median(cold));
    println!("  pull (warm cache):    {:?}", median(warm));
}
