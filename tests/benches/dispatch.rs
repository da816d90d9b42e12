//! Per-task tool dispatch as the skill's tool count grows: one workspace whose skill offers 1
//! tool, one whose skill offers 256 (the `sandbox.describe.max_tools` default), both the
//! `describe-bomb` test guest.
//!
//! * `dispatch/list_{1,256}`: `tools.list` as an adapter calls it once per task (the sorted
//!   specs are built once per snapshot; a task copies them);
//! * `dispatch/call_{1,256}`: `tools.call` of the skill's last tool (lookup, fresh store and
//!   instance, the call) — must not grow with the count;
//! * `dispatch/miss_{1,256}`: a call of a tool no skill offers (the bounded "no such tool").
//!
//! Run: `cargo bench -p molecule-tests --bench dispatch`; prints the medians at the end.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use molecule_runtime::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use molecule_runtime::bindings::HostError;
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::capabilities::events::EventsBackend;
use molecule_runtime::capabilities::tools::ToolsBackend;
use molecule_runtime::grants::Grants;
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::skills::{GrantPolicy, SkillRegistry};
use molecule_runtime::workspace::task_tools::{Builtins, TaskTools};
use molecule_tests::{guest_wasm, host, test_cache_dir};

/// Events go nowhere.
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

/// Grants every skill the same `describe_mode`.
struct Mode(String);

impl GrantPolicy for Mode {
    fn grants_for(&self, skill: &SkillDir) -> anyhow::Result<Arc<Grants>> {
        Ok(Grants::builder(format!("skill {}", skill.id))
            .config("describe_mode", Some(self.0.clone()))
            .build())
    }
}

/// The tools of a workspace whose one skill is describe-bomb in `mode`.
fn workspace(rt: &tokio::runtime::Runtime, root: &Path, mode: &str) -> TaskTools {
    let dir = root.join("bomb");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        "---\nname: bomb\ndescription: bench\n---\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tool.wasm"),
        guest_wasm("tests/guests/describe-bomb").as_slice(),
    )
    .unwrap();
    let registry = Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(Mode(mode.to_owned())),
        vec![root.to_owned()],
    ));
    let snapshot = rt.block_on(registry.load_all());
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    TaskTools::new(registry, Builtins::default(), Arc::new(NoEvents))
}

/// Medians of 2001 runs of each of `fs`, interleaved (one run of each in turn, after 200
/// unmeasured rounds) so that noise from other work on the machine hits every case alike.
fn medians_of(fs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    for _ in 0..200 {
        fs.iter_mut().for_each(|f| f());
    }
    let mut times = vec![Vec::with_capacity(2001); fs.len()];
    for _ in 0..2001 {
        for (f, t) in fs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            f();
            t.push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let roots = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let cases = [
        (1, workspace(&rt, roots[0].path(), "tools:t0"), "t0"),
        (256, workspace(&rt, roots[1].path(), "many:256"), "t255"),
    ];
    let mut group = c.benchmark_group("dispatch");
    let [(_, one, _), (_, many, _)] = &cases;
    for (count, tools, last) in &cases {
        let list = || assert!(rt.block_on(tools.list()).len() > *count);
        let call = || {
            assert_eq!(
                rt.block_on(tools.call(last, "{}")).unwrap(),
                format!("{last:?}")
            )
        };
        let miss = || assert!(rt.block_on(tools.call("absent", "{}")).is_err());
        group.bench_function(format!("list_{count}"), |b| b.iter(list));
        group.bench_function(format!("call_{count}"), |b| b.iter(call));
        group.bench_function(format!("miss_{count}"), |b| b.iter(miss));
    }
    group.finish();
    let list = |t: &TaskTools| drop(rt.block_on(t.list()));
    let call = |t: &TaskTools, name: &str| drop(rt.block_on(t.call(name, "{}")).unwrap());
    let miss = |t: &TaskTools| drop(rt.block_on(t.call("absent", "{}")).unwrap_err());
    let m = medians_of(&mut [
        &mut || list(one),
        &mut || list(many),
        &mut || call(one, "t0"),
        &mut || call(many, "t255"),
        &mut || miss(one),
        &mut || miss(many),
    ]);
    eprintln!("dispatch medians (interleaved, 2001 runs), 1 tool vs 256 tools:");
    eprintln!(
        "  list {:?} vs {:?}; call {:?} vs {:?}; miss {:?} vs {:?}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).warm_up_time(Duration::from_millis(500));
    targets = dispatch
}
criterion_main!(benches);
