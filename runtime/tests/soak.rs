//! A bounded soak of the real binary: `run` with the langgraph adapter on an offline scripted
//! model, driven by 16 concurrent blocking `SendMessage` calls (JSON-RPC) for
//! `MOLECULE_SOAK_SECS` seconds (60 by default; an operator can run 600). The child's `VmRSS`
//! (from `/proc/<pid>/status`) is sampled every second. Asserted: no request fails; the peak
//! RSS of the last third of the run is at most the peak of the first third (the warm-up) plus
//! 10% plus 8 MiB, so per-request state that is never freed shows over thousands of requests;
//! and the task store holds no more tasks than its retention allows
//! (`Retention::default().max_tasks` plus one pruning interval plus the requests in flight).
//! The figures are printed (run with `--nocapture` to see them).

#![cfg(target_os = "linux")]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

/// Concurrent clients.
const CONCURRENCY: usize = 16;
/// Soak length when `MOLECULE_SOAK_SECS` is unset.
const DEFAULT_SECS: u64 = 60;
/// Allowed RSS growth, last third over first third: this fraction of the first third's peak...
const GROWTH_FRACTION: f64 = 0.10;
/// ...plus this many bytes.
const GROWTH_SLACK: u64 = 8 << 20;
/// Stderr lines kept for failure messages.
const TAIL_LINES: usize = 40;

/// The running binary; killed (and reaped) when dropped, however the test ends.
struct Server {
    child: Child,
    port: u16,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The last lines the child wrote to stderr.
    fn stderr_tail(&self) -> String {
        let tail = self.tail.lock().unwrap();
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// A config folder running langgraph on a scripted model with a one-turn answer.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: Soak\nruntime: langgraph\nmodel: scripted:soak\n";
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    let script = "turns:\n  - text: \"soak ok\"\n";
    std::fs::write(dir.path().join("model-script.yaml"), script).unwrap();
    dir
}

/// `run` on `dir` with its data in `data`, on 127.0.0.1 and a port of the kernel's choosing;
/// returns once the port is announced. Stderr is drained for the whole run (its tail kept).
fn start(dir: &Path, data: &Path) -> Server {
    let mut child = common::server::run_command(dir, data)
        .env_remove("LOG_LEVEL")
        .spawn()
        .expect("running molecule-runtime run");
    let stderr = child.stderr.take().unwrap();
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, lines) = mpsc::channel();
    let kept = Arc::clone(&tail);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut kept = kept.lock().unwrap();
            if kept.len() == TAIL_LINES {
                kept.pop_front();
            }
            kept.push_back(line.clone());
            drop(kept);
            let _ = tx.send(line);
        }
    });
    let mut server = Server {
        child,
        port: 0,
        tail,
    };
    server.port = announced_port(&lines).unwrap_or_else(|| {
        panic!("no port announced; stderr:\n{}", server.stderr_tail());
    });
    server
}

/// The port from the "serving A2A on port N" line, within 300 s (the first run builds the
/// adapter).
fn announced_port(lines: &mpsc::Receiver<String>) -> Option<u16> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let line = lines.recv_timeout(left).ok()?;
        if let Some(rest) = line.split(" serving A2A on port ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return digits.parse().ok();
        }
    }
    None
}

/// The soak length: `MOLECULE_SOAK_SECS` (at least 3, so each third has a sample), else 60 s.
fn soak_secs() -> u64 {
    match std::env::var("MOLECULE_SOAK_SECS") {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("MOLECULE_SOAK_SECS={v:?} is not a whole number"))
            .max(3),
        Err(_) => DEFAULT_SECS,
    }
}

/// `VmRSS` of `pid` in bytes, or None once the process is gone.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Totals of the load.
#[derive(Default)]
struct Load {
    done: AtomicU64,
    failed: AtomicU64,
    first_failures: Mutex<Vec<String>>,
}

impl Load {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_failures.lock().unwrap();
        if first.len() < 5 {
            first.push(what);
        }
    }
}

/// One blocking SendMessage; Err describes what was wrong with the answer.
async fn send(client: &reqwest::Client, url: &str, id: &str) -> Result<(), String> {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "SendMessage", "params": {
        "message": {"messageId": id, "role": "ROLE_USER", "parts": [{"text": "soak"}]}}});
    let resp = client
        .post(url)
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let status = resp.status();
    let v: Value = resp.json().await.map_err(|e| format!("{status}: {e}"))?;
    let state = v["result"]["task"]["status"]["state"].as_str();
    if status.is_success() && state == Some("TASK_STATE_COMPLETED") {
        Ok(())
    } else {
        Err(format!("{status}: {v}"))
    }
}

/// One client: SendMessage after SendMessage until `until`.
async fn client_loop(n: usize, port: u16, until: Instant, load: Arc<Load>) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/");
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        match send(&client, &url, &format!("soak-{n}-{i}")).await {
            Ok(()) => load.done.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                load.fail(e);
                0
            }
        };
    }
}

/// Samples the RSS of `pid` once a second until `until`.
async fn sample_rss(pid: u32, until: Instant) -> Vec<u64> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut samples = Vec::new();
    loop {
        tick.tick().await;
        if Instant::now() >= until {
            return samples;
        }
        match rss_bytes(pid) {
            Some(b) => samples.push(b),
            None => return samples,
        }
    }
}

/// Rows in the store's `tasks` table and the bytes of `tasks.sqlite` plus its WAL.
fn store_figures(data: &Path) -> (u64, u64) {
    let db: PathBuf = data.join("tasks.sqlite");
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(&db, flags)
        .unwrap_or_else(|e| panic!("opening {} read-only: {e}", db.display()));
    let rows: u64 = conn
        .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("counting tasks in {}: {e}", db.display()));
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let bytes = size(&db) + size(&data.join("tasks.sqlite-wal"));
    (rows, bytes)
}

/// The peak of each of (at most) 15 equal slices of `samples`, in MiB, for the report.
fn trajectory(samples: &[u64]) -> String {
    let slice = samples.len().div_ceil(15).max(1);
    let peaks: Vec<String> = samples
        .chunks(slice)
        .map(|c| format!("{:.1}", mib(*c.iter().max().unwrap_or(&0))))
        .collect();
    peaks.join(" ")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_stays_flat_under_sustained_load() {
    let secs = soak_secs();
    let dir = workspace();
    let data = tempfile::tempdir().unwrap();
    let server = start(dir.path(), data.path());
    let pid = server.child.id();

    let load = Arc::new(Load::default());
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let sampler = tokio::spawn(sample_rss(pid, until));
    let clients: Vec<_> = (0..CONCURRENCY)
        .map(|n| tokio::spawn(client_loop(n, server.port, until, Arc::clone(&load))))
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let samples = sampler.await.unwrap();
    let (rows, store_bytes) = store_figures(data.path());

    let done = load.done.load(Ordering::Relaxed);
    let failed = load.failed.load(Ordering::Relaxed);
    let third = samples.len() / 3;
    assert!(
        third > 0,
        "only {} RSS samples; the server died? stderr:\n{}",
        samples.len(),
        server.stderr_tail()
    );
    let first = *samples[..third].iter().max().unwrap();
    let last = *samples[samples.len() - third..].iter().max().unwrap();
    let allowed = first + (first as f64 * GROWTH_FRACTION) as u64 + GROWTH_SLACK;
    let retention = molecule_a2a::Retention::default().max_tasks as u64;
    let max_rows = retention + (retention / 8).max(256) + CONCURRENCY as u64;
    println!(
        "soak: {secs} s at c={CONCURRENCY}: {done} requests ok, {failed} failed, {:.0} req/s; \
         RSS peak first third {:.1} MiB, last third {:.1} MiB (allowed {:.1} MiB), \
         min {:.1} MiB, max {:.1} MiB over {} samples; store {rows} tasks (bound {max_rows}), \
         {:.1} MiB with WAL",
        done as f64 / elapsed,
        mib(first),
        mib(last),
        mib(allowed),
        mib(*samples.iter().min().unwrap()),
        mib(*samples.iter().max().unwrap()),
        samples.len(),
        mib(store_bytes),
    );

    println!("soak: RSS trajectory (MiB): {}", trajectory(&samples));

    let failures = load.first_failures.lock().unwrap().join("\n");
    assert_eq!(
        failed,
        0,
        "failed requests, first ones:\n{failures}\nstderr:\n{}",
        server.stderr_tail()
    );
    assert!(
        done > 0,
        "no request completed; stderr:\n{}",
        server.stderr_tail()
    );
    assert!(
        last <= allowed,
        "RSS grew from {:.1} MiB to {:.1} MiB over {done} requests (allowed {:.1} MiB)",
        mib(first),
        mib(last),
        mib(allowed)
    );
    assert!(
        rows <= max_rows,
        "{rows} tasks stored after {done} requests; retention allows {max_rows}"
    );
}
