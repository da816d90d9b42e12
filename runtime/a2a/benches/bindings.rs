//! SendMessage throughput per binding, side by side: blocking SendMessage over JSON-RPC
//! (`POST /`), HTTP+JSON (`POST /message:send`) and gRPC (`A2AService/SendMessage`, the
//! generated tonic client), against one in-process server with a file-backed task store
//! whose executor reports WORKING, one artifact and COMPLETED, at concurrency 1 and 32.
//! Each worker has its own connection (a reqwest client, or a gRPC channel). [`ROUNDS`]
//! rounds per cell; throughput is the median round, p50 over every request.
//!
//! Run: `cargo bench -p molecule-a2a --bench bindings`. Binds 127.0.0.1 only; the store
//! lives in a temporary folder. Server and load generator run on separate tokio runtimes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_a2a::grpc::pb::{self, a2a_service_client::A2aServiceClient};
use molecule_a2a::types::{
    standard_interfaces, AgentCapabilities, AgentCard, Artifact, Part, TaskState,
};
use molecule_a2a::{
    A2aServer, AgentExecutor, CardHandle, EventSink, RequestContext, Retention, TaskStore,
};
use serde_json::json;

/// (concurrency, requests per round).
const RUNS: [(usize, usize); 2] = [(1, 1000), (32, 3200)];
/// Rounds per cell.
const ROUNDS: usize = 3;

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

#[derive(Clone, Copy, Debug)]
enum Binding {
    JsonRpc,
    HttpJson,
    Grpc,
}

/// One worker's connection.
enum Conn {
    Http(reqwest::Client),
    Grpc(A2aServiceClient<tonic::transport::Channel>),
}

struct Target {
    http: String,
    grpc: String,
}

async fn connect(binding: Binding, t: &Target) -> Conn {
    match binding {
        Binding::Grpc => {
            let ch = tonic::transport::Channel::from_shared(format!("http://{}", t.grpc))
                .expect("uri")
                .connect()
                .await
                .expect("connect");
            Conn::Grpc(A2aServiceClient::new(ch))
        }
        _ => Conn::Http(
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client"),
        ),
    }
}

/// One blocking SendMessage; panics unless the task completed.
async fn send(conn: &mut Conn, binding: Binding, t: &Target, i: usize) -> Duration {
    let message = json!({"messageId": format!("m{i}"), "role": "ROLE_USER",
                         "parts": [{"text": "hello"}]});
    let start = Instant::now();
    let state = match (conn, binding) {
        (Conn::Grpc(c), _) => {
            let req = pb::SendMessageRequest {
                message: Some(pb::Message {
                    message_id: format!("m{i}"),
                    role: pb::Role::User as i32,
                    parts: vec![pb::Part {
                        content: Some(pb::part::Content::Text("hello".into())),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            };
            let resp = c.send_message(req).await.expect("grpc send").into_inner();
            match resp.payload {
                Some(pb::send_message_response::Payload::Task(task)) => task
                    .status
                    .and_then(|s| pb::TaskState::try_from(s.state).ok())
                    .map(|s| s.as_str_name().to_string()),
                _ => None,
            }
        }
        (Conn::Http(c), Binding::JsonRpc) => {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "SendMessage",
                              "params": {"message": message}});
            let v: serde_json::Value = c
                .post(format!("{}/", t.http))
                .header("A2A-Version", "1.0")
                .json(&body)
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            v["result"]["task"]["status"]["state"]
                .as_str()
                .map(str::to_string)
        }
        (Conn::Http(c), _) => {
            let v: serde_json::Value = c
                .post(format!("{}/message:send", t.http))
                .header("A2A-Version", "1.0")
                .json(&json!({"message": message}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            v["task"]["status"]["state"].as_str().map(str::to_string)
        }
    };
    let took = start.elapsed();
    assert_eq!(
        state.as_deref(),
        Some("TASK_STATE_COMPLETED"),
        "{binding:?}"
    );
    took
}

/// One round: `requests` SendMessages over `concurrency` workers; every latency and the
/// round's wall time.
async fn round(
    t: &Arc<Target>,
    binding: Binding,
    concurrency: usize,
    requests: usize,
) -> (Vec<Duration>, Duration) {
    let mut conns = Vec::new();
    for _ in 0..concurrency {
        conns.push(connect(binding, t).await);
    }
    let start = Instant::now();
    let per = requests / concurrency;
    let mut workers = Vec::new();
    for (w, mut conn) in conns.into_iter().enumerate() {
        let t = t.clone();
        workers.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(per);
            for i in 0..per {
                out.push(send(&mut conn, binding, &t, w * per + i).await);
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

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let target = server_rt.block_on(async {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", http.local_addr().expect("addr"));
        let grpc_addr = grpc.local_addr().expect("addr").to_string();
        let store =
            TaskStore::open(&dir.path().join("tasks.sqlite"), Retention::default()).expect("store");
        let server = A2aServer::new(CardHandle::new(card(&url)), Arc::new(Echo), store);
        let s2 = server.clone();
        tokio::spawn(async move {
            let _ = server.serve(http, std::future::pending()).await;
        });
        tokio::spawn(async move {
            let _ = s2.serve_grpc(grpc, std::future::pending()).await;
        });
        Arc::new(Target {
            http: url,
            grpc: grpc_addr,
        })
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(async {
        for b in [Binding::JsonRpc, Binding::HttpJson, Binding::Grpc] {
            round(&target, b, 8, 400).await; // warm-up
        }
        println!("SendMessage (blocking), file-backed task store, {ROUNDS} rounds per cell");
        println!("binding    conc  req/s (median round)  p50");
        for (concurrency, requests) in RUNS {
            for b in [Binding::JsonRpc, Binding::HttpJson, Binding::Grpc] {
                let mut rates = Vec::new();
                let mut latencies = Vec::new();
                for _ in 0..ROUNDS {
                    let (lat, wall) = round(&target, b, concurrency, requests).await;
                    rates.push(lat.len() as f64 / wall.as_secs_f64());
                    latencies.extend(lat);
                }
                rates.sort_by(|a, b| a.total_cmp(b));
                latencies.sort();
                println!(
                    "{:<9}  {concurrency:>4}  {:>20.0}  {:>7.3}ms",
                    format!("{b:?}"),
                    rates[rates.len() / 2],
                    latencies[latencies.len() / 2].as_secs_f64() * 1e3,
                );
            }
        }
    });
    drop(server_rt);
}
