//! Neighbour latency under CPU-bound guests (issue 14, Deliver 4): one workspace in-process on
//! 127.0.0.1 (the echo adapter, the `json-query` example skill and the hostile test skill),
//! measured idle and then while [`SPINNERS`] tasks run the hostile `spin` tool (an endless
//! loop, stopped by its deadline or a cancel):
//!
//! * a json-query task: blocking SendMessage `tool query {…}` (adapter → skill → answer);
//! * the Agent Card GET;
//! * GetTask of a finished task.
//!
//! p50 and p90 of [`SAMPLES`] sequential requests each, and the loaded/idle ratio of the
//! medians (goal for json-query: ≤ 3× on a 2-core machine).
//!
//! Run: `cargo bench -p molecule-tests --bench neighbours` (env `SPINNERS=n` to change the
//! number of spinning tasks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_llm::{Gateway, ModelSelection, ScriptedProvider};
use molecule_runtime::workspace::boot::RunningWorkspace;
use molecule_tests::{copy_crate, host, repo_root};
use serde_json::{json, Value};

/// Spinning tasks of the loaded phase.
const SPINNERS: usize = 8;
/// Requests measured per kind and phase.
const SAMPLES: usize = 1000;
const QUERY: &str =
    r#"tool query {"json": {"team": {"lead": "Ada", "size": 4}}, "pointer": "/team/lead"}"#;

struct Bench {
    ws: RunningWorkspace,
    host: Arc<molecule_runtime::component::ComponentHost>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    copy_crate(
        "demo/skills/json-query",
        &dir.path().join("skills/json-query"),
    );
    copy_crate("tests/guests/hostile", &dir.path().join("skills/hostile"));
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Neighbours\nruntime: {}\nmodel: scripted:demo\nsandbox: {{timeout: 120s}}\n",
        adapter.display()
    );
    let plan = molecule_tests::local_plan(dir.path(), &yaml, &[]);
    let model = ScriptedProvider::from_file(&repo_root().join("demo/model-script.yaml")).unwrap();
    let selection = ModelSelection::resolve(None, "scripted:demo").unwrap();
    let host = Arc::new(host());
    let gateway = Arc::new(Gateway::with_provider(selection, Arc::new(model)));
    let ws = molecule_tests::boot_plan(plan, host.clone(), gateway).await;
    let tools = &ws.skills.snapshot().tools;
    assert!(tools.contains_key("query") && tools.contains_key("spin"));
    Bench {
        ws,
        host,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Bench {
    async fn rpc(&self, method: &str, params: Value) -> Value {
        let base = format!("http://{}", self.ws.addr);
        molecule_tests::a2a_result(&self.client, &base, method, params).await
    }

    async fn send(&self, text: &str, immediately: bool) -> Value {
        let message = json!({"messageId": uuid(), "role": "ROLE_USER", "parts": [{"text": text}]});
        let params =
            json!({"message": message, "configuration": {"returnImmediately": immediately}});
        self.rpc("SendMessage", params).await["task"].clone()
    }

    /// One json-query task, checked.
    async fn query(&self) {
        let task = self.send(QUERY, false).await;
        assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{task}");
        assert_eq!(task["artifacts"][0]["parts"][0]["text"], "\"Ada\"");
    }

    async fn card(&self) {
        let url = format!("http://{}/.well-known/agent-card.json", self.ws.addr);
        let resp = self.client.get(url).send().await.expect("card");
        assert!(resp.status().is_success());
        let _ = resp.bytes().await;
    }

    async fn get_task(&self, id: &str) {
        let task = self.rpc("GetTask", json!({"id": id})).await;
        assert_eq!(task["id"], id);
    }
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("m-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// p50 and p90 of `SAMPLES` runs of `f`.
async fn measure<F, Fut>(mut f: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        f().await;
        times.push(started.elapsed());
    }
    times.sort();
    (times[SAMPLES / 2], times[SAMPLES * 9 / 10])
}

struct Phase {
    query: (Duration, Duration),
    card: (Duration, Duration),
    get_task: (Duration, Duration),
}

async fn phase(bench: &Bench, done_id: &str) -> Phase {
    Phase {
        query: measure(|| bench.query()).await,
        card: measure(|| bench.card()).await,
        get_task: measure(|| bench.get_task(done_id)).await,
    }
}

/// CPU clock ticks (1/100 s) used so far by this process's threads, by (name, nice).
fn thread_cpu() -> std::collections::BTreeMap<(String, i64), u64> {
    let mut out = std::collections::BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<i64>().ok())
                .unwrap_or(0)
        };
        // After the name: state is field 0, utime 11, stime 12, nice 16.
        *out.entry((name, num(16))).or_default() += (num(11) + num(12)) as u64;
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(name: &str, idle: (Duration, Duration), loaded: (Duration, Duration)) {
    println!(
        "{name:<10} idle p50 {:7.2} ms p90 {:7.2} ms | loaded p50 {:7.2} ms p90 {:7.2} ms | \
         p50 ratio {:.2}x",
        ms(idle.0),
        ms(idle.1),
        ms(loaded.0),
        ms(loaded.1),
        loaded.0.as_secs_f64() / idle.0.as_secs_f64()
    );
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
    let spinners = std::env::var("SPINNERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SPINNERS);
    let bench = start().await;
    let warm = bench.send(QUERY, false).await;
    let done_id = warm["id"].as_str().unwrap().to_owned();
    for _ in 0..20 {
        bench.query().await;
    }
    let idle = phase(&bench, &done_id).await;

    let mut spinning = Vec::new();
    for _ in 0..spinners {
        let task = bench.send("tool spin {}", true).await;
        spinning.push(task["id"].as_str().unwrap().to_owned());
    }
    let admission = bench.host.engine().admission().clone();
    while admission.running() < spinners as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu_before = thread_cpu();
    let loaded = phase(&bench, &done_id).await;
    let still = admission.running();
    let cpu_after = thread_cpu();

    println!("{spinners} spinning tasks ({still} still running after the loaded phase)");
    report("json-query", idle.query, loaded.query);
    report("card", idle.card, loaded.card);
    report("GetTask", idle.get_task, loaded.get_task);
    println!("CPU during the loaded phase, by thread (name, nice): seconds");
    for ((name, nice), ticks) in &cpu_after {
        let used = ticks - cpu_before.get(&(name.clone(), *nice)).copied().unwrap_or(0);
        if used > 0 {
            println!("  {name:<22} nice {nice:>3}: {:.2}", used as f64 / 100.0);
        }
    }
    for id in &spinning {
        bench.rpc("CancelTask", json!({"id": id})).await;
    }
    while admission.running() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bench.ws.shutdown().await.unwrap();
}
