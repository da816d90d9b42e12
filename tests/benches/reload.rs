//! Hot-reload latency: the time from a file change to the new version serving, through the
//! real watcher (100 ms debounce), build, compile, link check and swap.
//!
//! (a) a prebuilt `tool.wasm` replaced, (b) `SKILL.md` edited, (c) the Rust source of a
//! crate skill edited (the cargo build time is reported apart). Prints medians.
//! Run: `cargo bench -p molecule-tests --bench reload`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::workspace::reload::{watch_skills, DEBOUNCE};
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{copy_crate, host, test_cache_dir, versioned_wasm};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn until(mut done: impl FnMut() -> bool, started: Instant) -> Duration {
    while !done() {
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(started.elapsed() < Duration::from_secs(120), "no reload");
    }
    started.elapsed()
}

async fn version(registry: &SkillRegistry) -> String {
    registry.call("version", "{}").await.unwrap_or_default()
}

async fn serving(registry: &SkillRegistry, want: &str, started: Instant) -> Duration {
    loop {
        if version(registry).await.contains(want) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(started.elapsed() < Duration::from_secs(300), "no reload");
    }
}

fn registry(root: &Path) -> Arc<SkillRegistry> {
    Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        vec![root.to_owned()],
    ))
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

async fn run() {
    let (v1, v2) = (versioned_wasm("v1"), versioned_wasm("v2"));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ver");
    std::fs::create_dir_all(&dir).unwrap();
    let md = |d: &str| format!("---\nname: ver\ndescription: {d}\n---\nbody\n");
    std::fs::write(dir.join("SKILL.md"), md("d0")).unwrap();
    replace(&dir.join("tool.wasm"), &v1);
    let reg = registry(root.path());
    reg.load_all().await;
    let _watcher = watch_skills(reg.clone(), DEBOUNCE).unwrap();

    let mut wasm_times = Vec::new();
    for i in 0..15 {
        let (bytes, want) = if i % 2 == 0 { (&v2, "v2") } else { (&v1, "v1") };
        let started = Instant::now();
        replace(&dir.join("tool.wasm"), bytes);
        wasm_times.push(serving(&reg, want, started).await);
    }
    let mut md_times = Vec::new();
    for i in 1..=15 {
        let want = format!("d{i}");
        let started = Instant::now();
        std::fs::write(dir.join("SKILL.md"), md(&want)).unwrap();
        let reg2 = reg.clone();
        md_times.push(
            until(
                move || reg2.snapshot().skills["ver"].dir.meta.description == want,
                started,
            )
            .await,
        );
    }
    println!(
        "reload (a) tool.wasm replaced: median {:?} over {} runs",
        median(wasm_times),
        15
    );
    println!(
        "reload (b) SKILL.md edited:    median {:?} over {} runs",
        median(md_times),
        15
    );

    // (c) a crate skill whose source is edited.
    let root_c = tempfile::tempdir().unwrap();
    let krate = copy_crate("tests/guests/versioned", &root_c.path().join("ver"));
    let reg = registry(root_c.path());
    reg.load_all().await;
    let _watcher = watch_skills(reg.clone(), DEBOUNCE).unwrap();
    let lib = krate.join("src/lib.rs");
    let original = std::fs::read_to_string(&lib).unwrap();
    let mut totals = Vec::new();
    let mut builds = Vec::new();
    for i in 0..3 {
        let want = format!("c{i}-{}", std::process::id());
        let started = Instant::now();
        std::fs::write(&lib, original.replace("\"v1\"", &format!("{want:?}"))).unwrap();
        totals.push(serving(&reg, &want, started).await);
        // The same kind of edit built directly, to separate cargo's share.
        let scratch = tempfile::tempdir().unwrap();
        let copy = copy_crate("tests/guests/versioned", &scratch.path().join("ver"));
        let other = format!("b{i}-{}", std::process::id());
        std::fs::write(
            copy.join("src/lib.rs"),
            original.replace("\"v1\"", &format!("{other:?}")),
        )
        .unwrap();
        let t = Instant::now();
        ComponentBuilder::new(&test_cache_dir())
            .build(&copy)
            .unwrap();
        builds.push(t.elapsed());
    }
    let (total, build) = (median(totals), median(builds));
    println!(
        "reload (c) Rust source edited: median {total:?} in all, of which cargo build ≈ {build:?} (runtime share ≈ {:?})",
        total.saturating_sub(build)
    );
}
