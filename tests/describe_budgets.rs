//! The budgets on what a skill's `describe` answer may hold (`sandbox.describe.*`), the tool
//! index they protect (no built-in shadowed, no serving tool hijacked, no scan per task), tool
//! error text held to the output cap, and honest stack-overflow reports — each with a guest
//! (`tests/guests/describe-bomb`, `tests/guests/hostile`) doing the misbehaving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use molecule_runtime::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::budgets::{hits, Budget, Budgets};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::capabilities::events::EventsBackend;
use molecule_runtime::capabilities::tools::ToolsBackend;
use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::describe::DescribeError;
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::{LimitKeys, SandboxLimits};
use molecule_runtime::sandbox::{CallError, Sandbox};
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::skills::{GrantPolicy, SkillRegistry};
use molecule_runtime::workspace::task_tools::{Builtins, TaskTools};
use molecule_tests::{guest_wasm, host, test_cache_dir};
use serde_json::json;

const BOMB: &str = "tests/guests/describe-bomb";
const HOSTILE: &str = "tests/guests/hostile";

/// Hits of `budget` so far (in this process).
fn hits_of(budget: Budget) -> u64 {
    hits().find(|(b, _)| *b == budget).map_or(0, |(_, n)| n)
}

/// Loads describe-bomb with `describe_mode` = `mode` under `limits`.
async fn load_mode(
    host: &ComponentHost,
    mode: &str,
    limits: SandboxLimits,
) -> anyhow::Result<SkillComponent> {
    let grants = Grants::builder("skill bomb")
        .config("describe_mode", Some(mode.to_owned()))
        .limits(limits)
        .build();
    host.load_skill(&guest_wasm(BOMB), grants).await
}

/// The load error of `mode`, its text and the budget it names.
async fn refusal(host: &ComponentHost, mode: &str) -> (String, Option<Budget>) {
    let err = load_mode(host, mode, SandboxLimits::default())
        .await
        .map(|_| ())
        .expect_err(mode);
    let budget = err
        .downcast_ref::<DescribeError>()
        .and_then(|e| e.hit)
        .map(|h| h.budget);
    (format!("{err:#}"), budget)
}

#[tokio::test]
async fn each_describe_budget_refuses_the_skill_with_its_key() {
    let host = host();
    let cases = [
        ("big-description:40", Budget::DescribeBytes),
        ("many:100000", Budget::DescribeTools),
        ("big-schema:128", Budget::SchemaBytes),
    ];
    for (mode, budget) in cases {
        let before = hits_of(budget);
        let (text, named) = refusal(&host, mode).await;
        assert_eq!(named, Some(budget), "{mode}: {text}");
        assert!(text.starts_with("skill bomb: describe refused"), "{text}");
        assert!(
            text.contains(&format!("(raise {})", budget.key())),
            "{text}"
        );
        assert!(hits_of(budget) > before, "{mode}: the hit is counted");
    }
    let long = format!("tools:{}", "n".repeat(65));
    let (text, named) = refusal(&host, &long).await;
    assert_eq!(named, Some(Budget::ToolNameBytes), "{text}");
    assert!(text.contains("sandbox.describe.max_name_bytes"), "{text}");
    assert!(text.len() < 400, "a long name is quoted cut: {text}");
}

/// The count is refused before any per-tool work: 100,000 schemas that are not JSON would
/// otherwise be the first complaint.
#[tokio::test]
async fn a_huge_answer_is_refused_before_any_schema_is_parsed() {
    let host = host();
    let (text, named) = refusal(&host, "many-unparsed:100000").await;
    assert_eq!(named, Some(Budget::DescribeTools), "{text}");
    assert!(!text.contains("not JSON"), "{text}");
    // Within the budget, the same schemas are parsed and refused.
    let (text, named) = refusal(&host, "many-unparsed:3").await;
    assert_eq!(named, None, "{text}");
    assert!(
        text.contains("`t0` has an input schema that is not JSON"),
        "{text}"
    );
}

#[tokio::test]
async fn tool_names_are_limited_to_the_wit_characters() {
    let host = host();
    for name in [
        "Bad/Name",
        "two words",
        "dot.ted",
        "new\nline",
        "\u{1b}[31mred",
    ] {
        let (text, named) = refusal(&host, &format!("name:{name}")).await;
        assert_eq!(named, None, "{text}");
        assert!(
            text.contains("may use only a-z, 0-9, `_` and `-`"),
            "{text}"
        );
        assert!(
            !text.contains('\n') && !text.contains('\u{1b}'),
            "escaped: {text:?}"
        );
    }
    let (text, _) = refusal(&host, "tools:ping,ping").await;
    assert!(text.contains("described twice"), "{text}");
}

/// Each key raises its budget: 300 tools load once `max_tools` allows them.
#[tokio::test]
async fn raising_the_key_admits_the_skill() {
    let host = host();
    let limits = SandboxLimits {
        budgets: Budgets {
            describe_tools: 300,
            ..Budgets::default()
        },
        ..SandboxLimits::default()
    };
    let skill = load_mode(&host, "many:300", limits)
        .await
        .expect("300 tools");
    assert_eq!(skill.tools.len(), 300);
    let (text, named) = refusal(&host, "many:300").await;
    assert_eq!(named, Some(Budget::DescribeTools), "{text}");
}

/// Grants `describe_mode` per skill id (`<id>` → mode); unknown ids get the default tools.
struct Modes(Vec<(&'static str, String)>);

impl GrantPolicy for Modes {
    fn grants_for(&self, skill: &SkillDir) -> anyhow::Result<Arc<Grants>> {
        let mode = self
            .0
            .iter()
            .find(|(id, _)| *id == skill.id)
            .map(|(_, m)| m.clone());
        Ok(Grants::builder(format!("skill {}", skill.id))
            .config("describe_mode", mode)
            .build())
    }
}

fn write_skill(root: &Path, id: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!("---\nname: {id}\ndescription: describe-bomb as {id}\n---\n# {id}\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    std::fs::write(dir.join("tool.wasm"), guest_wasm(BOMB).as_slice()).unwrap();
}

fn registry(root: &Path, modes: &[(&'static str, &str)]) -> Arc<SkillRegistry> {
    let modes = modes.iter().map(|(id, m)| (*id, (*m).to_owned())).collect();
    Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(Modes(modes)),
        vec![root.to_owned()],
    ))
}

struct NoEvents;

#[async_trait]
impl EventsBackend for NoEvents {
    async fn status(&self, _: TaskState, _: Option<Message>) -> Result<(), HostError> {
        Ok(())
    }
    async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
        Ok(())
    }
    async fn message(&self, _: Message) -> Result<(), HostError> {
        Ok(())
    }
}

/// A refused skill does not serve, the others still do, and a built-in's name taken by a
/// skill is refused: listed once, and a call reaches the built-in.
#[tokio::test]
async fn a_refused_skill_is_not_served_and_the_others_are() {
    let dir = tempfile::tempdir().unwrap();
    for id in ["good", "huge", "shadow"] {
        write_skill(dir.path(), id);
    }
    let registry = registry(
        dir.path(),
        &[
            ("huge", "many:100000"),
            ("shadow", "tools:commit_memory,own"),
        ],
    );
    let snapshot = registry.load_all().await;
    assert!(!snapshot.skills.contains_key("huge"));
    assert!(
        snapshot.problems["huge"].contains("sandbox.describe.max_tools"),
        "{:?}",
        snapshot.problems
    );
    assert!(snapshot.listed.contains_key("huge"), "still on the card");
    assert!(snapshot.tools.keys().all(|t| !t.starts_with('t')));
    assert_eq!(registry.call("ping", "{}").await.unwrap(), "\"pong\"");
    assert_eq!(registry.call("own", "{}").await.unwrap(), "\"own\"");

    assert!(snapshot.problems["shadow/commit_memory"].contains("built-in"));
    assert!(!snapshot.tools.contains_key("commit_memory"));
    let tools = TaskTools::new(registry.clone(), Builtins::default(), Arc::new(NoEvents));
    let listed = tools.list().await;
    let named = |n: &str| listed.iter().filter(|t| t.name == n).count();
    assert_eq!(named("commit_memory"), 1, "listed once");
    assert_eq!(named("own"), 1);
    assert_eq!(named("ping"), 1);
    // The built-in answers (no memory backend here), not the skill (which echoes its name).
    let err = tools.call("commit_memory", r#"{"content":"x"}"#).await;
    assert!(
        matches!(&err, Err(ToolError::Failed(t)) if t.contains("no memory backend")),
        "{err:?}"
    );
}

/// A skill added later cannot take a tool name a serving skill offers, even when it sorts
/// first; the serving skill's own reload keeps it; once it is gone, the newcomer gets it.
#[tokio::test]
async fn a_new_skill_cannot_hijack_a_serving_tool() {
    let dir = tempfile::tempdir().unwrap();
    write_skill(dir.path(), "zeta");
    let registry = registry(dir.path(), &[("alpha", "tools:ping,alpha_only")]);
    let snapshot = registry.load_all().await;
    assert_eq!(snapshot.tools["ping"], "zeta");

    write_skill(dir.path(), "alpha");
    let snapshot = registry.reload(&["alpha".to_owned()]).await;
    assert_eq!(snapshot.tools["ping"], "zeta", "first loaded keeps it");
    assert_eq!(snapshot.tools["alpha_only"], "alpha");
    assert!(snapshot.problems["alpha/ping"].contains("clashes with skill `zeta`"));

    let snapshot = registry.reload(&["zeta".to_owned()]).await;
    assert_eq!(
        snapshot.tools["ping"], "zeta",
        "a hot reload keeps its own names"
    );
    assert!(!snapshot.problems.contains_key("zeta/ping"));

    std::fs::remove_dir_all(dir.path().join("zeta")).unwrap();
    let snapshot = registry.reload(&["zeta".to_owned()]).await;
    assert_eq!(snapshot.tools["ping"], "alpha");
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
}

/// A skill package (verified when pulled, pinned for the run) is never reloaded from disk: its
/// cached folder edited and a folder of its id created under a root leave it serving as loaded.
#[tokio::test]
async fn a_skill_package_is_not_reloaded_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (root, cache) = (dir.path().join("skills"), dir.path().join("cache"));
    std::fs::create_dir_all(&root).unwrap();
    write_skill(&cache, "pkg");
    let modes = [("pkg", "tools:ping".to_owned())].into_iter().collect();
    let registry = Arc::new(
        SkillRegistry::new(
            Arc::new(host()),
            ComponentBuilder::new(&test_cache_dir()),
            Arc::new(Modes(modes)),
            vec![root.clone()],
        )
        .with_packages(vec![cache.join("pkg")]),
    );
    let before = registry.load_all().await;
    assert_eq!(before.tools["ping"], "pkg");
    let md = cache.join("pkg/SKILL.md");
    std::fs::write(
        &md,
        "---\nname: pkg\ndescription: edited after the pull\n---\n",
    )
    .unwrap();
    write_skill(&root, "pkg");
    let after = registry.reload(&["pkg".to_owned()]).await;
    assert!(
        Arc::ptr_eq(&before.skills["pkg"], &after.skills["pkg"]),
        "the package was reloaded from disk"
    );
    assert_eq!(after.tools["ping"], "pkg");
}

/// A `failed` error of 32 MiB is cut to the 1 MiB output cap, with a marker naming the bytes
/// cut and the key (or `call`'s flag), cleaned of escapes, and counted — both as `call_tool`
/// returns it and as an adapter gets it through the workspace's tools.
#[tokio::test]
async fn tool_error_text_is_held_to_the_output_cap() {
    let host = host();
    let skill = load_mode(&host, "ok", SandboxLimits::default())
        .await
        .expect("bomb loads");
    let cap = SandboxLimits::default().max_output_bytes;
    let input = json!({"bytes": 32 << 20}).to_string();
    let before = hits_of(Budget::ToolErrorBytes);
    let err = Sandbox::new(host.engine().clone())
        .call_tool(&skill, "fail", &input)
        .await
        .expect_err("fails");
    let CallError::Tool(ToolError::Failed(text)) = &err else {
        panic!("expected failed, got {err:?}")
    };
    assert!(text.len() <= cap, "{} bytes", text.len());
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("more bytes cut; budget spent: tool error text is limited to 1 MiB"));
    assert!(
        text.ends_with("(raise sandbox.max_output)]"),
        "{}",
        &text[text.len() - 200..]
    );
    assert!(hits_of(Budget::ToolErrorBytes) > before);
    let cli = err.message(&LimitKeys::CALL_FLAGS);
    assert!(
        cli.ends_with("(raise --max-output)]"),
        "{}",
        &cli[cli.len() - 200..]
    );

    let dir = tempfile::tempdir().unwrap();
    write_skill(dir.path(), "bomb");
    let registry = registry(dir.path(), &[]);
    registry.load_all().await;
    let tools = TaskTools::new(registry, Builtins::default(), Arc::new(NoEvents));
    match tools.call("fail", &input).await {
        Err(ToolError::Failed(text)) => {
            assert!(text.len() <= cap, "the adapter gets {} bytes", text.len());
            assert!(text.ends_with("(raise sandbox.max_output)]"));
        }
        other => panic!("expected failed, got {other:?}"),
    }
}

/// Both ways a guest overflows its stack say so: the shadow stack in linear memory (which
/// wasmtime sees as an out-of-bounds store below address 0) and the engine's wasm stack.
#[tokio::test]
async fn a_stack_overflow_is_reported_as_one() {
    let host = host();
    let limits = SandboxLimits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(10),
        ..SandboxLimits::default()
    };
    let grants = Grants::builder("skill hostile").limits(limits).build();
    let skill = host
        .load_skill(&guest_wasm(HOSTILE), grants)
        .await
        .expect("hostile loads");
    let sandbox = Sandbox::new(host.engine().clone());
    for (mode, detail) in [("shadow", "ran below address 0"), ("native", "(1024 KiB)")] {
        let input = json!({ "mode": mode }).to_string();
        match sandbox.call_tool(&skill, "recurse", &input).await {
            Err(CallError::Trap { reason, .. }) => {
                assert!(
                    reason.starts_with("the guest overflowed its stack"),
                    "{reason}"
                );
                assert!(reason.contains(detail), "{mode}: {reason}");
            }
            other => panic!("recurse {mode}: expected a stack overflow, got {other:?}"),
        }
    }
    let echo = sandbox.call_tool(&skill, "echo", r#"{"value":1}"#).await;
    assert_eq!(echo.unwrap(), "1", "the host keeps serving");
}
