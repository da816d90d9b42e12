//! Whole-process benchmark, molecule-runtime against a minimal Python `a2a-sdk` server with an
//! echo executor (tests/benches/python/echo_server.py), side by side on this machine:
//!
//! * boot-to-card: spawn the server, poll `/.well-known/agent-card.json` until it answers
//!   (median of [`BOOTS`] boots; molecule-runtime with a warm compiled-code cache);
//! * idle RSS: `VmRSS` from /proc/<pid>/status two seconds after the card answers;
//! * SendMessage (JSON-RPC, `A2A-Version: 1.0`, blocking) throughput and p50/p99 latency at
//!   concurrency 1 and 32, with the same load generator against both servers: one keep-alive
//!   HTTP/1.1 connection per in-flight request, hyper's connection-level client on one thread;
//!   [`ROUNDS`] rounds per run, throughput quoted as the median round.
//!
//! Run: `cargo build --release -p molecule-runtime && cargo bench -p molecule-tests --bench
//! workspace_vs_python`. Everything binds 127.0.0.1. The Python virtualenv is the tests' shared
//! one (`molecule_tests::python`, created on first use: needs python3 and PyPI).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use molecule_tests::repo_root;

/// Boots measured per server.
const BOOTS: usize = 10;
/// (concurrency, requests) of each load run.
const RUNS: [(usize, usize); 2] = [(1, 1000), (32, 2000)];
/// Each load run is repeated this many times; throughput is the median round, latencies are
/// taken over every request of every round.
const ROUNDS: usize = 5;
const RUST_PORT: u16 = 18181;
const PY_PORT: u16 = 18182;

/// One server under test: how to start it.
struct Server {
    name: &'static str,
    port: u16,
    command: Box<dyn Fn() -> Command>,
}

fn molecule_server(target: &Path) -> Server {
    let bin = target.join("release/molecule-runtime");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --release -p molecule-runtime` first",
        bin.display()
    );
    let ws = target.join("bench-workspace");
    std::fs::create_dir_all(&ws).expect("bench workspace folder");
    let adapter = repo_root().join("tests/guests/echo-adapter");
    std::fs::write(
        ws.join("config.yaml"),
        format!(
            "name: Echo\nruntime: {}\nmodel: scripted:demo\n",
            adapter.display()
        ),
    )
    .expect("config.yaml");
    std::fs::copy(
        repo_root().join("demo/model-script.yaml"),
        ws.join("model-script.yaml"),
    )
    .expect("model script");
    let cache = target.join("bench-cache");
    Server {
        name: "molecule-runtime",
        port: RUST_PORT,
        command: Box::new(move || {
            // A fresh task store per boot; the compiled-code cache stays warm.
            let _ = std::fs::remove_dir_all(ws.join(".molecule"));
            let mut cmd = Command::new(&bin);
            cmd.args(["run", "--config-dir"])
                .arg(&ws)
                .args(["--port", &RUST_PORT.to_string(), "--bind", "127.0.0.1"])
                .env("MOLECULE_CACHE_DIR", &cache)
                .env("LOG_LEVEL", "error")
                .env_remove("PLATFORM_URL");
            cmd
        }),
    }
}

fn python_server() -> Server {
    let python = molecule_tests::python::venv_python(&["uvicorn"]);
    let script = repo_root().join("tests/benches/python/echo_server.py");
    Server {
        name: "python a2a-sdk",
        port: PY_PORT,
        command: Box::new(move || {
            let mut cmd = Command::new(&python);
            cmd.arg(&script).arg(PY_PORT.to_string());
            cmd
        }),
    }
}

/// A started server, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns the server and returns it with the time until its card answered.
async fn start(server: &Server, client: &reqwest::Client) -> (Running, Duration) {
    let card = format!(
        "http://127.0.0.1:{}/.well-known/agent-card.json",
        server.port
    );
    let started = Instant::now();
    let child = (server.command)()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", server.name));
    let mut running = Running(child);
    loop {
        if let Ok(resp) = client.get(&card).send().await {
            if resp.status().is_success() {
                return (running, started.elapsed());
            }
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            panic!("{} exited during boot: {status}", server.name);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{} never served its card",
            server.name
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// VmRSS in MiB.
fn memory_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    field("VmRSS:")
}

struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// Sends `total` blocking SendMessage calls with `concurrency` in flight: one keep-alive
/// HTTP/1.1 connection per in-flight request (as wrk does), driven by hyper's connection-level
/// client so that the load generator costs as little CPU as possible on this small machine.
async fn load(port: u16, concurrency: usize, total: usize) -> Load {
    load_latencies(port, concurrency, total).await.0
}

/// [`ROUNDS`] load runs one after another.
async fn rounds(port: u16, concurrency: usize, total: usize) -> Vec<(Load, Vec<Duration>)> {
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        rounds.push(load_latencies(port, concurrency, total).await);
    }
    rounds
}

/// The median round's throughput; p50/p99 over every request of every round.
fn combine(rounds: Vec<(Load, Vec<Duration>)>) -> Load {
    let mut rps: Vec<f64> = rounds.iter().map(|(l, _)| l.rps).collect();
    rps.sort_by(f64::total_cmp);
    let errors = rounds.iter().map(|(l, _)| l.errors).sum();
    let mut all: Vec<Duration> = rounds.into_iter().flat_map(|(_, l)| l).collect();
    all.sort();
    Load {
        rps: rps[rps.len() / 2],
        p50: quantile(&all, 0.50),
        p99: quantile(&all, 0.99),
        errors,
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// One load run: its figures and every request's latency.
async fn load_latencies(port: u16, concurrency: usize, total: usize) -> (Load, Vec<Duration>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut conn = Connection::open(port).await;
                let mut latencies = Vec::new();
                let mut errors = 0;
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                    let t = Instant::now();
                    let ok = conn.send_message().await;
                    latencies.push(t.elapsed());
                    if !ok {
                        errors += 1;
                        conn = Connection::open(port).await;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.expect("load worker");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort();
    let figures = Load {
        rps: total as f64 / elapsed.as_secs_f64(),
        p50: quantile(&all, 0.50),
        p99: quantile(&all, 0.99),
        errors,
    };
    (figures, all)
}

/// One keep-alive client connection.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
}

impl Connection {
    async fn open(port: u16) -> Self {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the server under test");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("HTTP/1.1 handshake");
        tokio::spawn(conn);
        Connection { sender }
    }

    /// One blocking SendMessage; true when the answer is a COMPLETED task.
    async fn send_message(&mut self) -> bool {
        // Built and checked without a JSON tree: the load generator shares this small machine
        // with the server under test, so it keeps its own CPU per request low (as wrk does).
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{{"message":{{"messageId":"{}","role":"ROLE_USER","parts":[{{"text":"hello"}}]}}}}}}"#,
            uuid()
        );
        let request = hyper::Request::post("/")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("a2a-version", "1.0")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .expect("request");
        if self.sender.ready().await.is_err() {
            return false;
        }
        let Ok(response) = self.sender.send_request(request).await else {
            return false;
        };
        let Ok(body) = http_body_util::BodyExt::collect(response.into_body()).await else {
            return false;
        };
        serde_json::from_slice::<Reply>(&body.to_bytes())
            .is_ok_and(|r| r.result.task.status.state == "TASK_STATE_COMPLETED")
    }
}

/// The part of a SendMessage reply the load generator checks; the rest is skipped unparsed.
#[derive(serde::Deserialize)]
struct Reply {
    result: ReplyResult,
}

#[derive(serde::Deserialize)]
struct ReplyResult {
    task: ReplyTask,
}

#[derive(serde::Deserialize)]
struct ReplyTask {
    status: ReplyStatus,
}

#[derive(serde::Deserialize)]
struct ReplyStatus {
    state: String,
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("bench-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Figures {
    boot: Duration,
    boot_min: Duration,
    rss_idle: f64,
    rss_loaded: f64,
    loads: Vec<Load>,
}

async fn measure(server: &Server) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    // Warm-up boot: builds and compiles the adapter into the cache (molecule-runtime).
    drop(start(server, &client).await);
    let mut boots = Vec::new();
    for _ in 0..BOOTS {
        let (running, t) = start(server, &client).await;
        boots.push(t);
        drop(running);
    }
    let (running, _) = start(server, &client).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = memory_mib(running.0.id());
    let mut loads = Vec::new();
    for (concurrency, total) in RUNS {
        load(server.port, concurrency, 200).await; // warm up
        let rounds = rounds(server.port, concurrency, total).await;
        loads.push(combine(rounds));
    }
    let rss_loaded = memory_mib(running.0.id());
    drop(running);
    Figures {
        boot_min: *boots.iter().min().expect("boots"),
        boot: median(boots),
        rss_idle,
        rss_loaded,
        loads,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// One thread, like `wrk -t1`: the load generator takes at most one of the machine's cores.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes bench binaries; nothing to list or test here
    }
    let target = molecule_tests::python::target_dir();
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "molecule") {
        // Profiling aid: load molecule-runtime alone (e.g. under `perf record -a`).
        let f = measure(&molecule_server(&target)).await;
        for (l, (c, n)) in f.loads.iter().zip(RUNS) {
            println!(
                "c={c} {ROUNDS}x{n}: {:.0}/s p50 {:.2} ms p99 {:.2} ms",
                l.rps,
                ms(l.p50),
                ms(l.p99)
            );
        }
        return;
    }
    let servers = [molecule_server(&target), python_server()];
    let mut results = Vec::new();
    for server in &servers {
        eprintln!("measuring {} ...", server.name);
        results.push(measure(server).await);
    }
    println!(
        "\n{:<28}{:>20}{:>20}{:>10}",
        "", servers[0].name, servers[1].name, "ratio"
    );
    let row = |label: &str, a: f64, b: f64, unit: &str| {
        println!(
            "{label:<28}{:>17.2} {unit:<2}{:>17.2} {unit:<2}{:>9.2}x",
            a,
            b,
            b / a
        );
    };
    let (r, p) = (&results[0], &results[1]);
    row("boot to card (median)", ms(r.boot), ms(p.boot), "ms");
    row("boot to card (min)", ms(r.boot_min), ms(p.boot_min), "ms");
    row("idle RSS", r.rss_idle, p.rss_idle, "MB");
    row("RSS after load", r.rss_loaded, p.rss_loaded, "MB");
    for (i, (concurrency, total)) in RUNS.iter().enumerate() {
        let (a, b) = (&r.loads[i], &p.loads[i]);
        println!("SendMessage c={concurrency}, {ROUNDS} rounds of {total}:");
        println!(
            "  {:<26}{:>17.0} /s{:>17.0} /s{:>9.2}x",
            "throughput",
            a.rps,
            b.rps,
            a.rps / b.rps
        );
        row("  p50 latency", ms(a.p50), ms(b.p50), "ms");
        row("  p99 latency", ms(a.p99), ms(b.p99), "ms");
        println!("  {:<26}{:>20}{:>20}", "errors", a.errors, b.errors);
    }
}
