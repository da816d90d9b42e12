//! Skills in a running registry: hot swap under concurrent calls (no call fails, new calls
//! get the new version), a broken edit keeps the old version serving, SKILL.md edits and
//! added/removed skills follow, and tool-name clashes are reported, never shadowed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::workspace::reload::{watch_skills, DEBOUNCE};
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{host, test_cache_dir, versioned_wasm};

fn registry(root: &Path) -> Arc<SkillRegistry> {
    Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        vec![root.to_owned()],
    ))
}

fn skill_md(description: &str) -> String {
    format!("---\nname: ver\ndescription: {description}\ntags: [test]\n---\n# ver\n")
}

/// Writes `bytes` to `path` by rename, as deploy tools do.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn write_skill(root: &Path, id: &str, wasm: &[u8], description: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("SKILL.md"), skill_md(description)).unwrap();
    replace(&dir.join("tool.wasm"), wasm);
}

/// Waits until the registry's generation passes `after`.
async fn next_generation(registry: &SkillRegistry, after: u64) -> u64 {
    let mut changes = registry.subscribe();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = *changes.borrow_and_update();
        if now > after {
            return now;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no reload within 30 s");
        let _ = tokio::time::timeout(left, changes.changed()).await;
    }
}

async fn version(registry: &SkillRegistry) -> String {
    let out = registry.call("version", "{}").await.expect("version call");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_under_concurrent_calls_drops_nothing() {
    let (v1, v2) = (versioned_wasm("v1"), versioned_wasm("v2"));
    let dir = tempfile::tempdir().unwrap();
    write_skill(dir.path(), "ver", &v1, "first");
    let registry = registry(dir.path());
    let generation = registry.load_all().await.generation;
    let _watcher = watch_skills(registry.clone(), DEBOUNCE).unwrap();
    assert_eq!(version(&registry).await, "v1");

    let mut callers = Vec::new();
    for _ in 0..4 {
        let registry = registry.clone();
        callers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let out = registry.call("version", "{}").await;
                let v: String =
                    serde_json::from_str(&out.expect("no call may fail during a swap")).unwrap();
                let done = v == "v2";
                seen.push(v);
                if done {
                    break;
                }
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    replace(&dir.path().join("ver/tool.wasm"), &v2);
    next_generation(&registry, generation).await;
    for caller in callers {
        let seen = caller.await.unwrap();
        assert_eq!(seen.last().map(String::as_str), Some("v2"), "{seen:?}");
        let first_v2 = seen.iter().position(|v| v == "v2").unwrap();
        assert!(
            seen[first_v2..].iter().all(|v| v == "v2"),
            "no old answers after the swap"
        );
        assert!(seen.len() > 1, "calls ran while the swap happened");
    }
    assert_eq!(version(&registry).await, "v2");
}

#[tokio::test]
async fn broken_edit_keeps_the_old_version_serving() {
    let dir = tempfile::tempdir().unwrap();
    write_skill(dir.path(), "ver", &versioned_wasm("v1"), "first");
    let registry = registry(dir.path());
    let generation = registry.load_all().await.generation;
    let _watcher = watch_skills(registry.clone(), DEBOUNCE).unwrap();

    replace(
        &dir.path().join("ver/tool.wasm"),
        b"\0asm this is not a component",
    );
    next_generation(&registry, generation).await;
    let snapshot = registry.snapshot();
    let problem = snapshot
        .problems
        .get("ver")
        .expect("the failed reload is reported");
    assert!(
        problem.contains("not a valid WebAssembly component"),
        "{problem}"
    );
    assert_eq!(
        version(&registry).await,
        "v1",
        "the old version keeps serving"
    );
}

#[tokio::test]
async fn skill_md_edits_and_added_or_removed_skills_follow() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = versioned_wasm("v1");
    write_skill(dir.path(), "ver", &v1, "first description");
    let registry = registry(dir.path());
    let mut generation = registry.load_all().await.generation;
    let _watcher = watch_skills(registry.clone(), DEBOUNCE).unwrap();

    std::fs::write(
        dir.path().join("ver/SKILL.md"),
        skill_md("second description"),
    )
    .unwrap();
    generation = next_generation(&registry, generation).await;
    let snapshot = registry.snapshot();
    assert_eq!(
        snapshot.skills["ver"].dir.meta.description,
        "second description"
    );

    // A second skill offering the same tool name: loaded, but its clashing tool is reported.
    write_skill(dir.path(), "ver2", &v1, "a copy");
    generation = next_generation(&registry, generation).await;
    let snapshot = registry.snapshot();
    assert!(snapshot.skills.contains_key("ver2"));
    assert_eq!(
        snapshot.tools["version"], "ver",
        "the first skill keeps the name"
    );
    let clash = snapshot
        .problems
        .get("ver2/version")
        .expect("the clash is reported");
    assert!(clash.contains("clashes with skill `ver`"), "{clash}");

    std::fs::remove_dir_all(dir.path().join("ver2")).unwrap();
    next_generation(&registry, generation).await;
    let snapshot = registry.snapshot();
    assert!(!snapshot.skills.contains_key("ver2"));
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
}
