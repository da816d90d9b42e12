//! SendMessage cost of the A2A server with a file-backed task store: blocking JSON-RPC
//! SendMessage (`A2A-Version: 1.0`) against an in-process server whose executor reports
//! WORKING, one artifact and COMPLETED (three store writes per task, as the adapter does),
//! at concurrency 1 and 32. Each in-flight request has its own keep-alive connection
//! (one reqwest client per worker). [`ROUNDS`] rounds per run: throughput is the median
//! round, p50/p99 latency over every request of every round.
//!
//! Run: `cargo bench -p molecule-a2a --bench send_message`. It binds 127.0.0.1 only and
//! keeps the store in a temporary folder. The server runs on its own two-thread tokio
//! runtime, the load generator on another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_a2a::types::{
    standard_interfaces, AgentCapabilities, AgentCard, Artifact, Part, TaskState,
};
use molecule_a2a::{
    A2aServer, AgentExecutor, CardHandle, EventSink, RequestContext, Retention, TaskStore,
};
use serde_json::json;

/// (concurrency, requests per round).
const RUNS: [(usize, usize); 2] = [(1, 2000), (32, 6000)];
/// Rounds per run.
const ROUNDS: usize = 5;

/// WORKING, one artifact, COMPLETED.
struct Echo;

#[async_trait::async_trait]
impl AgentExecutor for Echo {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        let text = ctx.user_text();
        events
            .status(TaskState::Working, None)
            .map_err(|e| e.to_string())?;
        let art = Artifact {
            artifact_id: "a".into(),
            name: None,
            description: None,
            parts: vec![Part::text(format!("echo: {text}"))],
            metadata: None,
            extensions: None,
        };
        events
            .artifact(art, false, true)
            .map_err(|e| e.to_string())?;
        events
            .status(TaskState::Completed, None)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn cancel(&self, _task_id: &str) -> Result<(), String> {
        Ok(())
    }
}

fn card(url: &str) -> AgentCard {
    AgentCard {
        name: "Echo".into(),
        description: "bench".into(),
        version: "1.0.0".into(),
        supported_interfaces: standard_interfaces(url),
        capabilities: AgentCapabilities {
            streaming: Some(true),
            push_notifications: Some(false),
            extensions: None,
            extended_agent_card: Some(false),
        },
        default_input_modes: vec!["text/plain".into()],
        default_output_modes: vec!["text/plain".into()],
        skills: vec![],
        provider: None,
        documentation_url: None,
        icon_url: None,
        security_schemes: None,
        security_requirements: None,
        signatures: None,
    }
}

/// One blocking SendMessage; panics unless the task completed.
async fn send(client: &reqwest::Client, url: &str, i: usize) -> Duration {
    let body = json!({"jsonrpc": "2.0", "id": i, "method": "SendMessage", "params": {
        "message": {"messageId": format!("m{i}"), "role": "ROLE_USER",
                    "parts": [{"text": "hello"}]}}});
    let start = Instant::now();
    let resp = client
        .post(url)
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("send");
    let v: serde_json::Value = resp.json().await.expect("json reply");
    let took = start.elapsed();
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{v}"
    );
    took
}

/// One round: `requests` SendMessages over `concurrency` workers. Returns every latency and
/// the round's wall time.
async fn round(url: &str, concurrency: usize, requests: usize) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let per = requests / concurrency;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let url = url.to_string();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let mut out = Vec::with_capacity(per);
            for i in 0..per {
                out.push(send(&client, &url, w * per + i).await);
            }
            out
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    (all, start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let (url, store) = server_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let store =
            TaskStore::open(&dir.path().join("tasks.sqlite"), Retention::default()).expect("store");
        let server = A2aServer::new(CardHandle::new(card(&url)), Arc::new(Echo), store.clone());
        tokio::spawn(async move {
            let _ = server.serve(listener, std::future::pending()).await;
        });
        (url, store)
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    let rpc = format!("{url}/");
    client_rt.block_on(async {
        // Warm-up: connections, SQLite pages, allocator.
        round(&rpc, 8, 800).await;
        println!("SendMessage (blocking, JSON-RPC), file-backed task store, {ROUNDS} rounds");
        println!("conc  requests/round  req/s (median round)  p50      p99       rows/commit");
        for (concurrency, requests) in RUNS {
            let before = store.metrics();
            let mut latencies = Vec::new();
            let mut rates = Vec::new();
            for _ in 0..ROUNDS {
                let (lat, wall) = round(&rpc, concurrency, requests).await;
                rates.push(lat.len() as f64 / wall.as_secs_f64());
                latencies.extend(lat);
            }
            rates.sort_by(|a, b| a.total_cmp(b));
            latencies.sort();
            let after = store.metrics();
            let commits = after.commits.saturating_sub(before.commits).max(1);
            println!(
                "{concurrency:>4}  {requests:>14}  {:>20.0}  {:>7.3}ms {:>7.3}ms  {:>10.1}",
                rates[rates.len() / 2],
                percentile(&latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&latencies, 0.99).as_secs_f64() * 1e3,
                (after.rows_written - before.rows_written) as f64 / commits as f64,
            );
        }
    });
    drop(server_rt);
}
