//! Graceful shutdown through the real binary: `run` with the langgraph adapter and a scripted
//! model that streams its answer slowly gets SIGTERM mid-task. Within the grace period the
//! running tasks complete (the stream's last event is COMPLETED, the blocking caller gets the
//! completed task) while new connections are refused; past it they end FAILED with the
//! shutdown reason, the stream's last event says so, and after a restart the stored task is
//! FAILED with that reason too. Either way the process exits 0.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

/// A config folder running langgraph on a scripted model that streams `chunks` chunks of four
/// characters, one every 50 ms, with `a2a.shutdown_grace: grace`.
fn workspace(chunks: usize, grace: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: Slow\nruntime: langgraph\nmodel: scripted:slow\n\
         a2a: {{streaming: true, shutdown_grace: {grace}}}\n"
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    let answer = "word".repeat(chunks);
    let script =
        format!("stream_chunk_chars: 4\nstream_delay_ms: 50\nturns:\n  - text: \"{answer}\"\n");
    std::fs::write(dir.path().join("model-script.yaml"), script).unwrap();
    dir
}

/// `run` on `dir` with its data in `data`, stderr piped.
fn start(dir: &Path, data: &Path) -> (Child, mpsc::Receiver<String>, u16) {
    let mut child = common::server::run_command(dir, data)
        .spawn()
        .expect("running molecule-runtime run");
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let port = announced_port(&lines);
    (child, lines, port)
}

fn announced_port(lines: &mpsc::Receiver<String>) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        if let Some(rest) = line.split(" serving A2A on port ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return digits.parse().unwrap();
        }
        seen.push(line);
    }
    panic!("no port announced; stderr: {}", seen.join("\n"));
}

fn rpc(port: u16, method: &str, params: Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("A2A-Version", "1.0")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
}

fn message(text: &str) -> Value {
    json!({"message": {"messageId": text, "role": "ROLE_USER", "parts": [{"text": text}]}})
}

/// Reads the SSE stream of `resp`; sends () on `first` at the first artifact chunk; returns
/// every event's `result`.
async fn read_stream(
    mut resp: reqwest::Response,
    first: tokio::sync::oneshot::Sender<()>,
) -> Vec<Value> {
    let mut first = Some(first);
    let (mut buf, mut events) = (String::new(), Vec::new());
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                let v: Value = serde_json::from_str(data.trim()).expect("SSE data is JSON");
                if v["result"].get("artifactUpdate").is_some() {
                    if let Some(tx) = first.take() {
                        let _ = tx.send(());
                    }
                }
                events.push(v["result"].clone());
            }
        }
    }
    events
}

fn sigterm(child: &Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
}

/// Waits for the process to exit; its exit code and everything it wrote to stderr after.
fn exit_of(mut child: Child, lines: &mpsc::Receiver<String>) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(50));
            return (
                status.code(),
                lines.try_iter().collect::<Vec<_>>().join("\n"),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a streaming task and a blocking one; returns when the stream has its first chunk.
async fn two_tasks(
    port: u16,
) -> (
    tokio::task::JoinHandle<Vec<Value>>,
    tokio::task::JoinHandle<Value>,
) {
    let resp = rpc(port, "SendStreamingMessage", message("streamed"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let stream = tokio::spawn(read_stream(resp, tx));
    let blocking = tokio::spawn(async move {
        let resp = rpc(port, "SendMessage", message("blocking"))
            .send()
            .await
            .unwrap();
        resp.json::<Value>().await.unwrap()["result"]["task"].clone()
    });
    tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("a first artifact chunk")
        .unwrap();
    (stream, blocking)
}

fn state_of(status_update: &Value) -> &str {
    status_update["statusUpdate"]["status"]["state"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_tasks_complete_within_the_grace_period() {
    // 40 chunks: about 2 s of streaming, well inside a 20 s grace period.
    let dir = workspace(40, "20s");
    let data = tempfile::tempdir().unwrap();
    let (child, lines, port) = start(dir.path(), data.path());
    let (stream, blocking) = two_tasks(port).await;
    sigterm(&child);
    let signalled = Instant::now();
    // New connections are refused while the running tasks finish.
    let mut refused = false;
    while !refused && !stream.is_finished() && signalled.elapsed() < Duration::from_secs(10) {
        refused = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "still accepting connections after SIGTERM");
    let events = stream.await.unwrap();
    let last = events.last().expect("stream events");
    assert_eq!(state_of(last), "TASK_STATE_COMPLETED", "{last}");
    let chunks = events
        .iter()
        .filter(|e| e.get("artifactUpdate").is_some())
        .count();
    assert!(chunks >= 30, "the whole answer streamed: {chunks} chunks");
    let task = blocking.await.unwrap();
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{task}");
    let (code, stderr) = exit_of(child, &lines);
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_fails_tasks_still_running_after_the_grace_period() {
    // 1000 chunks: 50 s of streaming, far past a 1 s grace period.
    let dir = workspace(1000, "1s");
    let data = tempfile::tempdir().unwrap();
    let (child, lines, port) = start(dir.path(), data.path());
    let (stream, blocking) = two_tasks(port).await;
    sigterm(&child);
    let events = stream.await.unwrap();
    let last = events.last().expect("stream events");
    assert_eq!(state_of(last), "TASK_STATE_FAILED", "{last}");
    let reason = last["statusUpdate"]["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("the workspace shut down"), "{last}");
    let task = blocking.await.unwrap();
    assert_eq!(task["status"]["state"], "TASK_STATE_FAILED", "{task}");
    assert_eq!(
        task["status"]["message"]["parts"][0]["text"],
        reason.as_str()
    );
    let (code, stderr) = exit_of(child, &lines);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("marked FAILED"), "{stderr}");

    // The store was flushed: after a restart the task is FAILED with the same reason.
    let id = task["id"].as_str().unwrap().to_owned();
    let (child, lines, port) = start(dir.path(), data.path());
    let got: Value = rpc(port, "GetTask", json!({"id": id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = &got["result"];
    assert_eq!(stored["status"]["state"], "TASK_STATE_FAILED", "{got}");
    assert_eq!(
        stored["status"]["message"]["parts"][0]["text"],
        reason.as_str()
    );
    sigterm(&child);
    let (code, stderr) = exit_of(child, &lines);
    assert_eq!(code, Some(0), "{stderr}");
}
