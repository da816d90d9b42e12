//! JavaScript skills on the shared engine: `cargo bench -p molecule-tests --bench javascript`.
//!
//! Prints medians of: edit `app.js` → new version serving in a registry (edit, reload,
//! first call); a tool call in a workspace registry and in-process (instantiate + call);
//! a warm whole-process `molecule-runtime call` (the binary of this target dir's release or
//! debug profile, whichever exists; skipped when neither does); memory (RSS, PSS) with 1 and
//! with 10 JavaScript skills loaded; the engine's build check and a fresh compile. The
//! one-time engine build is timed with `molecule-runtime build --js` on an empty cache.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_runtime::grants::Grants;
use molecule_runtime::javascript;
use molecule_runtime::sandbox::Sandbox;
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{host, js_builder, repo_root, test_cache_dir};

const APP: &str = "import { tool } from \"molecule-skill\";\n\nexport const hello = tool({\n  \
                   description: \"Greets someone.\",\n  inputSchema: { type: \"object\", properties: \
                   { name: { type: \"string\" } }, required: [\"name\"] },\n}, ({ name }) => \
                   ({ greeting: `Hello, ${name}!` }));\n";

fn write_skill(root: &Path, id: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!("---\nname: {id}\ndescription: Bench skill.\n---\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    std::fs::write(dir.join("app.js"), APP).unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// (RSS, PSS) of this process in MiB, from /proc.
fn memory_mib() -> (f64, f64) {
    let field = |file: &str, key: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (
        field("/proc/self/status", "VmRSS:"),
        field("/proc/self/smaps_rollup", "Pss:"),
    )
}

fn main() {
    let started = Instant::now();
    let builder = js_builder();
    let ensured = javascript::engine::ensure(&builder).expect("engine");
    println!(
        "engine: ensure {:.1?} (first build, if it ran now, is in here: {:.1?})",
        ensured.elapsed,
        started.elapsed()
    );
    let wasm = std::fs::read(&ensured.wasm).unwrap();
    let h = host();
    let t = Instant::now();
    h.engine().engine().precompile_component(&wasm).unwrap();
    println!(
        "engine: {:.2} MiB wasm, fresh compile {:.1?}",
        wasm.len() as f64 / (1 << 20) as f64,
        t.elapsed()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    write_skill(root.path(), "s0");
    rt.block_on(async {
        let (before_rss, before_pss) = memory_mib();
        let registry = Arc::new(SkillRegistry::new(
            Arc::new(host()),
            builder.clone(),
            Arc::new(GrantNothing),
            vec![root.path().to_owned()],
        ));
        let snap = registry.load_all().await;
        assert!(snap.problems.is_empty(), "{:?}", snap.problems);
        let (one_rss, one_pss) = memory_mib();
        let mut calls = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            registry.call("hello", r#"{"name":"Ada"}"#).await.unwrap();
            calls.push(t.elapsed());
        }
        println!("workspace registry call p50: {:.2?}", median(calls));

        let mut edits = Vec::new();
        let app = root.path().join("s0/app.js");
        for i in 0..10 {
            let t = Instant::now();
            std::fs::write(&app, APP.replace("Hello", &format!("Hi{i}"))).unwrap();
            registry.reload(&["s0".to_owned()]).await;
            let out = registry.call("hello", r#"{"name":"Ada"}"#).await.unwrap();
            assert!(out.contains(&format!("Hi{i}")), "{out}");
            edits.push(t.elapsed());
        }
        println!("edit app.js -> new version serving (reload + call) p50: {:.2?}", median(edits));

        for i in 1..10 {
            write_skill(root.path(), &format!("s{i}"));
        }
        let ids: Vec<String> = (1..10).map(|i| format!("s{i}")).collect();
        let snap = registry.reload(&ids).await;
        assert_eq!(snap.skills.len(), 10, "{:?}", snap.problems);
        let (ten_rss, ten_pss) = memory_mib();
        println!(
            "memory: before {before_rss:.0}/{before_pss:.0} MiB, 1 skill {one_rss:.0}/{one_pss:.0} \
             MiB, 10 skills {ten_rss:.0}/{ten_pss:.0} MiB (RSS/PSS): +{:.1}/+{:.1} MiB per extra skill",
            (ten_rss - one_rss) / 9.0,
            (ten_pss - one_pss) / 9.0
        );

        let h = host();
        let grants = Grants::builder("skill s0").build();
        let skill = javascript::load_skill(&h, &builder, &root.path().join("s0"), &grants)
            .await
            .unwrap();
        let sandbox = Sandbox::new(h.engine().clone());
        let mut calls = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            sandbox
                .call_tool(&skill, "hello", r#"{"name":"Ada"}"#)
                .await
                .unwrap();
            calls.push(t.elapsed());
        }
        println!("in-process call (instantiate + call) p50: {:.2?}", median(calls));
    });

    let target = test_cache_dir().parent().unwrap().to_owned();
    let binary = ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("molecule-runtime"))
        .find(|p| p.is_file());
    match binary {
        None => println!("whole-process call: skipped (build molecule-runtime first)"),
        Some(binary) => {
            let run = || {
                let out = std::process::Command::new(&binary)
                    .arg("call")
                    .arg(root.path().join("s0"))
                    .args(["hello", "--args", r#"{"name":"Ada"}"#])
                    .env("MOLECULE_CACHE_DIR", test_cache_dir())
                    .env("MOLECULE_GUEST_SDK", repo_root().join("guest-sdk"))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            run();
            let times: Vec<Duration> = (0..10)
                .map(|_| {
                    let t = Instant::now();
                    run();
                    t.elapsed()
                })
                .collect();
            println!(
                "warm whole-process `call` ({}) p50: {:.1?}",
                binary.display(),
                median(times)
            );
        }
    }
}
