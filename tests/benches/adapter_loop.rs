//! Benchmarks of the adapter loop and of smoke mode:
//!
//! * `adapter_loop/turns_1` and `adapter_loop/turns_9`: one task of the langgraph adapter run
//!   through the sandbox (fresh instance, setup, execute) with the offline scripted model
//!   (zero delay) — 1 model turn, or 8 turns that each call json-query's `query` in its own
//!   sandbox plus a final answer. Per-turn loop overhead, model excluded, is
//!   `(turns_9 − turns_1) / 8` on the medians (printed at the end; measured: 1-turn 191 µs,
//!   9-turn 1.33 ms → ≈ 143 µs per turn);
//! * `smoke/demo_whole_process`: `molecule-runtime smoke --config-dir demo` end to end with a
//!   warm cache (needs the release binary: `cargo build --release -p molecule-runtime`;
//!   skipped with a note when it is missing; measured: median 24 ms).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use molecule_llm::{Gateway, ModelSelection, ScriptedProvider};
use molecule_runtime::bindings::adapter::exports::molecule::runtime::agent::RequestContext;
use molecule_runtime::bindings::imports::molecule::runtime::types::{
    Artifact, Message, Part, Role, TaskState,
};
use molecule_runtime::bindings::HostError;
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::capabilities::events::EventsBackend;
use molecule_runtime::capabilities::llm::{GatewayBackend, LlmBackend};
use molecule_runtime::grants::Grants;
use molecule_runtime::sandbox::Sandbox;
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_runtime::workspace::task_tools::{Builtins, TaskTools};
use molecule_tests::{guest_wasm, host, repo_root, test_cache_dir};

/// Tool-loop turns of the long task (plus one final answer).
const TOOL_TURNS: usize = 8;

/// Events go nowhere.
struct Drop;

#[async_trait]
impl EventsBackend for Drop {
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

fn script() -> String {
    let step = "      - text: \"step\"\n        tool_calls:\n          - name: query\n            \
                arguments: {json: {a: [1, 2]}, pointer: /a/1}\n";
    format!(
        "rules:\n  - when: \"long task\"\n    turns:\n{}      - text: \"done\"\n\
         turns:\n  - text: \"done\"\n",
        step.repeat(TOOL_TURNS)
    )
}

fn context(text: &str) -> RequestContext {
    RequestContext {
        task_id: "bench-task".into(),
        context_id: "bench-context".into(),
        message: Message {
            message_id: "bench-message".into(),
            role: Role::User,
            parts: vec![Part::Text(text.into())],
            context_id: None,
            task_id: None,
            metadata: None,
        },
        history: Vec::new(),
        metadata: "{}".into(),
    }
}

fn adapter_loop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let host = Arc::new(host());
    let skills_root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        repo_root().join("demo/skills/json-query"),
        skills_root.path().join("json-query"),
    )
    .unwrap();
    let skills = Arc::new(SkillRegistry::new(
        host.clone(),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        vec![skills_root.path().to_owned()],
    ));
    let snapshot = rt.block_on(skills.load_all());
    assert!(
        snapshot.tools.contains_key("query"),
        "{:?}",
        snapshot.problems
    );

    let provider = Arc::new(ScriptedProvider::from_yaml("bench", &script()).expect("script"));
    let selection = ModelSelection::resolve(None, "scripted:bench").unwrap();
    let gateway = Arc::new(Gateway::with_provider(selection, provider));
    let llm: Arc<dyn LlmBackend> = Arc::new(GatewayBackend::new(gateway, "bench"));
    let wasm = guest_wasm("adapters-wasm/langgraph");
    let adapter = rt
        .block_on(host.load_adapter(&wasm, Grants::builder("adapter langgraph").build()))
        .expect("load langgraph");
    let events: Arc<dyn EventsBackend> = Arc::new(Drop);
    let tools = Arc::new(TaskTools::new(skills, Builtins::default(), events.clone()));
    let grants = adapter.grants().for_task(events, tools, Some(llm));
    let config = serde_json::json!({
        "name": "bench", "runtime": "langgraph", "model": "scripted:bench",
        "system_prompt": "", "runtime_config": {"max_turns": 50},
    })
    .to_string();
    let sandbox = Sandbox::new(host.engine().clone());
    let run = |text: &str| {
        rt.block_on(sandbox.execute_task(&adapter, &grants, &config, context(text)))
            .expect("no crash")
            .expect("task succeeds");
    };

    let mut group = c.benchmark_group("adapter_loop");
    let mut medians = Vec::new();
    for (name, text) in [("turns_1", "short task"), ("turns_9", "long task")] {
        run(text);
        group.bench_function(name, |b| b.iter(|| run(text)));
        medians.push(median_of(|| run(text)));
    }
    group.finish();
    let per_turn = (medians[1].saturating_sub(medians[0])) / TOOL_TURNS as u32;
    eprintln!(
        "adapter_loop: median 1-turn task {:?}, {}-turn task {:?}; per model turn (incl. one \
         sandboxed tool call, model excluded): {per_turn:?}",
        medians[0],
        TOOL_TURNS + 1,
        medians[1]
    );
}

/// A direct median over 51 runs, for the per-turn division.
fn median_of(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..51)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn smoke_whole_process(c: &mut Criterion) {
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
            "smoke/demo_whole_process: skipped, {} is missing \
             (cargo build --release -p molecule-runtime)",
            bin.display()
        );
        return;
    }
    let run = || {
        let out = Command::new(&bin)
            .current_dir(repo_root())
            .env("MOLECULE_CACHE_DIR", test_cache_dir())
            .env_remove("MOLECULE_SMOKE_TIMEOUT_SECS")
            .args(["smoke", "--config-dir", "demo"])
            .output()
            .expect("run molecule-runtime smoke");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(); // warm the build and compiled-code caches
    let mut group = c.benchmark_group("smoke");
    group.sample_size(20);
    group.bench_function("demo_whole_process", |b| b.iter(run));
    group.finish();
}

criterion_group!(benches, adapter_loop, smoke_whole_process);
criterion_main!(benches);
