//! Receipts: what a call and a task cost. A task through the A2A server whose adapter
//! (langgraph, scripted model) calls the hostile skill's `receipt_probe`, which makes two GETs
//! to a 127.0.0.1 server and logs a known number of bytes: the task's `molecule.receipt`
//! metadata counts exactly that (and one nested tool call), and `/metrics` has the receipt
//! histograms. A streamed task's final status event carries the same receipt as GetTask.
//! Direct sandbox calls check the per-call counters (log bytes, host calls, peak memory) and
//! that a spinning call's CPU time is positive and within its wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use molecule_runtime::grants::Grants;
use molecule_runtime::limits::{LimitHit, SandboxLimits};
use molecule_runtime::receipt::{Receipt, Receipts};
use molecule_runtime::sandbox::{CallError, Sandbox};
use molecule_tests::{boot_with_gateway, guest_wasm, host};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of each response body the loopback server sends.
const BODY: usize = 1500;
/// Bytes the probe logs.
const LOG_BYTES: u64 = 3000;

/// An HTTP server on 127.0.0.1 answering every request with `BODY` bytes; counts requests.
async fn counting_server() -> (u16, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head =
                format!("HTTP/1.1 200 OK\r\ncontent-length: {BODY}\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&[b'b'; BODY]).await;
        }
    });
    (port, count, task)
}

/// A JSON-RPC call (A2A 1.0) to the workspace at `base`; the `result`.
async fn rpc(base: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let resp = reqwest::Client::new()
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    body["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_receipt_counts_its_tool_calls_http_and_log() {
    let (port, requests, server) = counting_server().await;
    let origin = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("skills/hostile");
    std::fs::create_dir_all(&skill).unwrap();
    let md = format!(
        "---\nname: hostile\ndescription: receipt probe\n\
         capabilities: {{hosts: [\"{origin}\"]}}\n---\nbody\n"
    );
    std::fs::write(skill.join("SKILL.md"), md).unwrap();
    std::fs::write(
        skill.join("tool.wasm"),
        &*guest_wasm("tests/guests/hostile"),
    )
    .unwrap();
    let script = format!(
        "turns:\n  - text: \"Probing.\"\n    tool_calls:\n      - name: receipt_probe\n        \
         id: call_probe\n        arguments: {{url: \"{origin}/x\", requests: 2, log_bytes: {LOG_BYTES}}}\n  \
         - text: \"Probed.\"\n"
    );
    let script_file = dir.path().join("model-script.yaml");
    std::fs::write(&script_file, script).unwrap();
    let yaml = format!(
        "name: receipts\nruntime: langgraph\nmodel: scripted:receipts\n\
         grants:\n  skills:\n    hostile: {{hosts: [\"{origin}\"]}}\n"
    );
    let ws = boot_with_gateway(dir.path(), &yaml, &[], true, |_| {
        let provider = molecule_llm::ScriptedProvider::from_file(&script_file).unwrap();
        let selection = molecule_llm::ModelSelection::resolve(None, "scripted:receipts").unwrap();
        Ok(Arc::new(molecule_llm::Gateway::with_provider(
            selection,
            Arc::new(provider),
        )))
    })
    .await;
    assert!(
        ws.skills.snapshot().tools.contains_key("receipt_probe"),
        "hostile did not load: {:?}",
        ws.skills.snapshot().problems
    );
    let base = format!("http://{}", ws.addr);
    let message = json!({"messageId": "m-receipt", "role": "ROLE_USER",
                         "parts": [{"text": "probe"}]});
    let task = rpc(&base, "SendMessage", json!({"message": message})).await["task"].clone();
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "two GETs reached the server"
    );

    // The reply carries the receipt (the adapter's final status waited for it), and so does
    // the stored task.
    let receipt = &task["metadata"]["molecule.receipt"];
    let stored = rpc(&base, "GetTask", json!({"id": task["id"]})).await;
    assert_eq!(&stored["metadata"]["molecule.receipt"], receipt, "{stored}");
    eprintln!("task receipt: {receipt}");
    assert_eq!(receipt["http_requests"], 2, "{receipt}");
    assert_eq!(receipt["http_bytes"], 2 * BODY as u64, "{receipt}");
    assert!(
        receipt["log_bytes"].as_u64() >= Some(LOG_BYTES),
        "{receipt}"
    );
    assert_eq!(receipt["tool_calls"], 1, "{receipt}");
    assert!(receipt["peak_memory_bytes"].as_u64() > Some(0), "{receipt}");
    assert!(receipt["host_calls"].as_u64() > Some(0), "{receipt}");
    let (cpu, wall) = (receipt["cpu_ms"].as_f64(), receipt["wall_ms"].as_f64());
    assert!(cpu > Some(0.0) && wall > Some(0.0), "{receipt}");

    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in [
        "# TYPE molecule_call_cpu_seconds histogram",
        "molecule_call_cpu_seconds_count{kind=\"task\"}",
        "molecule_call_cpu_seconds_count{kind=\"tool\"}",
        "molecule_call_peak_memory_bytes_bucket{kind=\"tool\",le=\"+Inf\"}",
        "molecule_call_http_requests_sum{kind=\"task\"}",
        "molecule_call_log_bytes_count{kind=\"tool\"}",
    ] {
        assert!(metrics.contains(family), "missing {family}");
    }
    let task_calls = metrics
        .lines()
        .find(|l| l.starts_with("molecule_call_http_requests_sum{kind=\"task\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(task_calls >= Some(2.0), "{task_calls:?}");
    server.abort();
}

/// SendStreamingMessage (JSON-RPC) with `text`; every SSE event's `result`, in order.
async fn stream(base: &str, text: &str) -> Vec<Value> {
    let message = json!({"messageId": "m-stream", "role": "ROLE_USER", "parts": [{"text": text}]});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage",
                      "params": {"message": message}});
    let resp = reqwest::Client::new()
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status().as_u16(), 200);
    let body = tokio::time::timeout(Duration::from_secs(60), resp.text())
        .await
        .expect("the stream ends")
        .expect("the stream's body");
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| {
            serde_json::from_str::<Value>(d.trim()).expect("SSE data is JSON")["result"].clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_task_ends_with_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let script_file = dir.path().join("model-script.yaml");
    std::fs::write(
        &script_file,
        "stream_chunk_chars: 4\nturns:\n  - text: \"Streamed, with a receipt.\"\n",
    )
    .unwrap();
    let yaml = "name: receipts\nruntime: langgraph\nmodel: scripted:receipts\n";
    let ws = boot_with_gateway(dir.path(), yaml, &[], true, |_| {
        let provider = molecule_llm::ScriptedProvider::from_file(&script_file).unwrap();
        let selection = molecule_llm::ModelSelection::resolve(None, "scripted:receipts").unwrap();
        Ok(Arc::new(molecule_llm::Gateway::with_provider(
            selection,
            Arc::new(provider),
        )))
    })
    .await;
    let base = format!("http://{}", ws.addr);
    let events = stream(&base, "stream it").await;
    assert!(
        events
            .iter()
            .filter(|e| e.get("artifactUpdate").is_some())
            .count()
            >= 3,
        "streamed in chunks: {events:#?}"
    );
    let last = &events.last().expect("events")["statusUpdate"];
    assert_eq!(last["status"]["state"], "TASK_STATE_COMPLETED", "{last}");
    let receipt = &last["metadata"]["molecule.receipt"];
    assert!(receipt["wall_ms"].as_f64() > Some(0.0), "{last}");
    assert!(receipt["host_calls"].as_u64() > Some(0), "{last}");
    assert!(receipt["waited_ms"].is_number(), "{last}");
    // Earlier status events carry no receipt: it is complete only at the end.
    for event in &events[..events.len() - 1] {
        assert!(event["statusUpdate"].get("metadata").is_none(), "{event}");
    }
    let id = last["taskId"].clone();
    let stored = rpc(&base, "GetTask", json!({"id": id})).await;
    assert_eq!(&stored["metadata"]["molecule.receipt"], receipt, "{stored}");
    ws.shutdown().await.unwrap();
}

/// Calls `tool` of the hostile skill with `input` under `limits`; the call's receipt.
async fn hostile_receipt(
    tool: &str,
    input: Value,
    limits: SandboxLimits,
) -> (Result<String, CallError>, Receipt) {
    let host = host();
    let wasm = guest_wasm("tests/guests/hostile");
    let grants = Grants::builder("skill hostile").limits(limits).build();
    let skill = host.load_skill(&wasm, grants).await.expect("load hostile");
    let receipts = Receipts::new();
    let sandbox = Sandbox::new(host.engine().clone()).with_receipts(receipts.clone());
    let result = sandbox.call_tool(&skill, tool, &input.to_string()).await;
    (result, receipts.total())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_receipt_counts_log_bytes_host_calls_and_memory() {
    let input = json!({"count": 20, "bytes": 100});
    let (result, receipt) = hostile_receipt("log_flood", input, SandboxLimits::default()).await;
    result.expect("log_flood");
    assert_eq!(receipt.log_bytes, 2000, "{receipt:?}");
    assert!(receipt.host_calls >= 20, "one per log.write: {receipt:?}");
    assert!(receipt.peak_memory_bytes >= 64 << 10, "{receipt:?}");
    assert_eq!((receipt.http_requests, receipt.tool_calls), (0, 0));
    assert!(receipt.cpu > Duration::ZERO && receipt.wall > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_call_uses_cpu_within_its_wall_time() {
    let limits = SandboxLimits {
        timeout: Duration::from_millis(400),
        ..SandboxLimits::default()
    };
    let (result, receipt) = hostile_receipt("spin", json!({}), limits).await;
    assert!(
        matches!(result, Err(CallError::Limit(LimitHit::Time { .. }))),
        "{result:?}"
    );
    assert!(receipt.wall >= Duration::from_millis(400), "{receipt:?}");
    eprintln!("spin receipt: {receipt:?}");
    // CPU is what the thread got while polling the spinner: positive, and no more than the
    // wall time (plus slack for clock granularity).
    assert!(receipt.cpu > Duration::ZERO, "{receipt:?}");
    assert!(
        receipt.cpu <= receipt.wall + Duration::from_millis(20),
        "{receipt:?}"
    );
}
