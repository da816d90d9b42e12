//! Capacity of one workspace for tasks waiting on a slow model (issue 14, Deliver 3): boots
//! the echo adapter in-process on 127.0.0.1 with `sandbox.admission.max_concurrent_calls` at
//! [`TASKS`] and `max_waiting: 1`, and a model (the `scripted` provider) whose every answer is
//! held until the end — a long delay. Then:
//!
//! 1. one task end to end (warm-up), then the idle RSS (`VmRSS` of this process);
//! 2. [`TASKS`] non-blocking SendMessage calls; wait until every task is WORKING and in the
//!    model; RSS again: tasks held and host memory per task (minus the idle RSS);
//! 3. task [`TASKS`] + 1: it must stay SUBMITTED (waiting for a slot);
//! 4. task [`TASKS`] + 2: past `max_waiting`, it must fail at once "busy";
//! 5. release the model; every task must complete.
//!
//! Run: `cargo bench -p molecule-tests --bench waiting_tasks` (env `TASKS=n` to change the
//! count, `POOL=n` the engine's instance pool, `ON_DEMAND=1` for on-demand allocation).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use molecule_llm::{
    ChatRequest, ChatResponse, ChatStream, Gateway, LlmError, ModelSelection, Provider,
    ScriptedProvider,
};
use molecule_runtime::engine::{Allocation, EngineOptions};
use molecule_runtime::workspace::boot::RunningWorkspace;
use molecule_tests::{host_with, repo_root};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// Tasks held at once (also `max_concurrent_calls`).
const TASKS: usize = 10_000;
/// SendMessage requests in flight while submitting.
const SUBMITTERS: usize = 32;

/// The scripted model, each answer held until the gate opens.
struct Slow {
    inner: ScriptedProvider,
    gate: Arc<Semaphore>,
    asked: Arc<AtomicUsize>,
}

#[async_trait]
impl Provider for Slow {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        self.inner.complete(model, request).await
    }

    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        self.inner.stream(model, request).await
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// VmRSS of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Lines of /proc/self/maps: what `vm.max_map_count` (65,530 by default) limits, and the
/// address space they span, in TiB.
fn mappings() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let span: u64 = maps
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.split_once('-'))
        .filter_map(|(a, b)| {
            Some(u64::from_str_radix(b, 16).ok()? - u64::from_str_radix(a, 16).ok()?)
        })
        .sum();
    format!(
        "{} mappings over {:.1} TiB",
        maps.lines().count(),
        span as f64 / (1u64 << 40) as f64
    )
}

struct Bench {
    ws: RunningWorkspace,
    host: Arc<molecule_runtime::component::ComponentHost>,
    gate: Arc<Semaphore>,
    asked: Arc<AtomicUsize>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start(tasks: usize) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Waiting\nruntime: {}\nmodel: scripted:demo\nsandbox:\n  admission: \
         {{max_concurrent_calls: {tasks}, max_waiting: 1, max_wait: 1h, \
         max_guest_memory: 1000g}}\n",
        adapter.display()
    );
    let plan = molecule_tests::local_plan(dir.path(), &yaml, &[]);
    let (gate, asked) = (Arc::new(Semaphore::new(0)), Arc::new(AtomicUsize::new(0)));
    let provider = Arc::new(Slow {
        inner: ScriptedProvider::from_file(&repo_root().join("demo/model-script.yaml")).unwrap(),
        gate: gate.clone(),
        asked: asked.clone(),
    });
    let selection = ModelSelection::resolve(None, "scripted:demo").unwrap();
    let allocation = match std::env::var_os("ON_DEMAND") {
        Some(_) => Allocation::OnDemand,
        None => Allocation::Auto,
    };
    let options = EngineOptions {
        allocation,
        max_concurrent: env_usize("POOL", EngineOptions::pool_for_calls(tasks as u32) as usize)
            as u32,
        ..EngineOptions::default()
    };
    let host = Arc::new(host_with(options));
    println!(
        "engine: {} allocation, pool of {} instances",
        if host.engine().pooling() {
            "pooling"
        } else {
            "on-demand"
        },
        host.engine().options().max_concurrent
    );
    let gateway = Arc::new(Gateway::with_provider(selection, provider));
    let ws = molecule_tests::boot_plan(plan, host.clone(), gateway).await;
    Bench {
        ws,
        host,
        gate,
        asked,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Bench {
    async fn rpc(&self, method: &str, params: Value) -> Value {
        let base = format!("http://{}", self.ws.addr);
        molecule_tests::a2a_result(&self.client, &base, method, params).await
    }

    /// SendMessage "ask n"; returns the task.
    async fn send(&self, n: usize, immediately: bool) -> Value {
        let message = json!({"messageId": format!("m{n}"), "role": "ROLE_USER",
                             "parts": [{"text": format!("ask task {n}")}]});
        let params =
            json!({"message": message, "configuration": {"returnImmediately": immediately}});
        self.rpc("SendMessage", params).await["task"].clone()
    }

    async fn state(&self, id: &str) -> String {
        let task = self.rpc("GetTask", json!({"id": id})).await;
        task["status"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn until(&self, what: &str, mut ready: impl FnMut(&Self) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "timed out: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until all `tasks` are in the model; if they stop arriving, prints why a task failed
/// and stops.
async fn wait_in_model(bench: &Bench, ids: &[String], tasks: usize) {
    let (mut last, mut since) = (0, Instant::now());
    while bench.asked.load(Ordering::Relaxed) <= tasks {
        let now = bench.asked.load(Ordering::Relaxed);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_secs(20) {
            for id in ids {
                let task = bench.rpc("GetTask", json!({"id": id})).await;
                if task["status"]["state"] == "TASK_STATE_FAILED" {
                    panic!("{} tasks in the model; one failed: {task}", now - 1);
                }
            }
            panic!("{} tasks in the model, no progress, none failed", now - 1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends tasks `from..to` with [`SUBMITTERS`] requests in flight; returns their ids.
async fn submit(bench: &Arc<Bench>, from: usize, to: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(from));
    let workers: Vec<_> = (0..SUBMITTERS)
        .map(|_| {
            let (bench, next) = (bench.clone(), next.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= to {
                        return ids;
                    }
                    let task = bench.send(n, true).await;
                    ids.push(task["id"].as_str().expect("task id").to_owned());
                }
            })
        })
        .collect();
    let mut ids = Vec::new();
    for w in workers {
        ids.extend(w.await.unwrap());
    }
    ids
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let tasks = env_usize("TASKS", TASKS);
    let bench = Arc::new(start(tasks).await);
    // Warm-up: one task end to end.
    bench.gate.add_permits(1);
    let warm = bench.send(usize::MAX, false).await;
    assert_eq!(warm["status"]["state"], "TASK_STATE_COMPLETED", "{warm}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib();
    println!(
        "idle RSS after one task: {:.1} MiB ({})",
        idle as f64 / 1024.0,
        mappings()
    );

    let started = Instant::now();
    let ids = submit(&bench, 0, tasks).await;
    let submitted = started.elapsed();
    wait_in_model(&bench, &ids, tasks).await;
    let held_after = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = rss_kib();
    if let Some(path) = std::env::var_os("DUMP_MAPS") {
        let _ = std::fs::copy("/proc/self/maps", path);
    }
    let admission = bench.host.engine().admission().clone();
    let per_task = (held.saturating_sub(idle)) as f64 / tasks as f64;
    println!(
        "with every task held: {} (vm.max_map_count counts the mappings)",
        mappings()
    );
    println!(
        "{tasks} tasks submitted in {:.2}s, all WORKING in the model after {:.2}s",
        submitted.as_secs_f64(),
        held_after.as_secs_f64()
    );
    println!(
        "tasks held: {} running, {} waiting; RSS {:.1} MiB; {:.1} KiB per task above idle",
        admission.running(),
        admission.waiting(),
        held as f64 / 1024.0,
        per_task
    );
    for id in ids.iter().step_by((tasks / 4).max(1)) {
        assert_eq!(bench.state(id).await, "TASK_STATE_WORKING", "task {id}");
    }

    let extra = bench.send(tasks, true).await;
    let extra_id = extra["id"].as_str().unwrap().to_owned();
    bench
        .until("task n+1 waiting", |b| {
            b.host.engine().admission().waiting() == 1
        })
        .await;
    let extra_state = bench.state(&extra_id).await;
    println!("task {}: {extra_state} (waiting for a slot)", tasks + 1);
    assert_eq!(extra_state, "TASK_STATE_SUBMITTED");

    let refused = bench.send(tasks + 1, false).await;
    let text = refused["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "task {}: {} — {text}",
        tasks + 2,
        refused["status"]["state"].as_str().unwrap_or_default()
    );
    assert_eq!(refused["status"]["state"], "TASK_STATE_FAILED");

    let released = Instant::now();
    bench.gate.add_permits(tasks + 1);
    bench
        .until("every task done", |b| {
            let a = b.host.engine().admission();
            a.running() == 0 && a.waiting() == 0
        })
        .await;
    println!(
        "released: {} tasks finished in {:.2}s",
        tasks + 1,
        released.elapsed().as_secs_f64()
    );
    for id in ids.iter().step_by((tasks / 4).max(1)).chain([&extra_id]) {
        assert_eq!(bench.state(id).await, "TASK_STATE_COMPLETED", "task {id}");
    }
    let bench = Arc::try_unwrap(bench).ok().expect("no submitter left");
    bench.ws.shutdown().await.unwrap();
}
