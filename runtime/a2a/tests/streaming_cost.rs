//! A long answer streamed in small chunks costs the same per chunk however long it grows:
//! the chunks merge in memory into one text part, and the task is written to the store at most
//! once per progress interval (250 ms) plus its changes of state — never once per chunk.
//! 700 KB in chunks of 1 byte to 1 KiB (about 1,400 chunks), streamed and blocking.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{read_sse, rpc, rpc_stream, user_message};
use molecule_a2a::types::{Artifact, Part, TaskState};
use molecule_a2a::{
    A2aServer, AgentExecutor, CardHandle, EventSink, RequestContext, Retention, TaskStore,
};
use serde_json::json;

/// The answer's length.
const ANSWER_BYTES: usize = 700 * 1024;
/// The store writes a streaming task gets at most once per this many milliseconds, besides
/// its changes of state (`manager::events::PROGRESS_WRITE_INTERVAL`).
const PROGRESS_WRITE_MS: u128 = 250;

/// The chunk sizes: 1..=1024 bytes, from a fixed pseudo-random sequence, summing to
/// [`ANSWER_BYTES`].
fn chunk_sizes() -> Vec<usize> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut left = ANSWER_BYTES;
    let mut sizes = Vec::new();
    while left > 0 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let n = (((seed >> 33) % 1024) as usize + 1).min(left);
        sizes.push(n);
        left -= n;
    }
    sizes
}

/// The answer: letters cycling, so a misplaced chunk shows.
fn answer() -> String {
    (0..ANSWER_BYTES)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

/// Streams [`answer`] as one artifact in [`chunk_sizes`] chunks, then completes.
struct Streamer;

#[async_trait::async_trait]
impl AgentExecutor for Streamer {
    async fn execute(&self, _ctx: RequestContext, events: EventSink) -> Result<(), String> {
        events
            .status(TaskState::Working, None)
            .map_err(|e| e.to_string())?;
        let text = answer();
        let sizes = chunk_sizes();
        let mut at = 0;
        for (i, n) in sizes.iter().enumerate() {
            let chunk = Artifact {
                artifact_id: "answer".into(),
                name: Some("answer".into()),
                description: None,
                parts: vec![Part::text(&text[at..at + n])],
                metadata: None,
                extensions: None,
            };
            at += n;
            events
                .artifact(chunk, i > 0, i + 1 == sizes.len())
                .map_err(|e| e.to_string())?;
        }
        events
            .status(TaskState::Completed, None)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn cancel(&self, _task_id: &str) -> Result<(), String> {
        Ok(())
    }
}

/// A server running [`Streamer`] on a file-backed store; the store is returned to read its
/// counters. The server stops with the test's runtime.
async fn serve(dir: &std::path::Path) -> (String, TaskStore) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let store = TaskStore::open(&dir.join("tasks.db"), Retention::default()).expect("store");
    let server = A2aServer::new(
        CardHandle::new(common::card(&url, true)),
        Arc::new(Streamer),
        store.clone(),
    );
    tokio::spawn(async move {
        let _ = server.serve(listener, std::future::pending()).await;
    });
    (url, store)
}

/// Asserts the stored task holds the whole answer as one text part, and that the writes
/// made for it are bounded by its changes of state plus one per progress interval.
async fn check(url: &str, store: &TaskStore, id: &str, writes_before: u64, started: Instant) {
    let writes = store.metrics().writes_queued - writes_before;
    let (_, g) = rpc(url, Some("1.0"), "GetTask", json!({"id": id})).await;
    let parts = g["result"]["artifacts"][0]["parts"]
        .as_array()
        .expect("parts")
        .clone();
    assert_eq!(parts.len(), 1, "the chunks are one part");
    assert!(
        parts[0]["text"].as_str() == Some(answer().as_str()),
        "the whole answer, in order"
    );
    // SUBMITTED, WORKING, COMPLETED, and the progress writes the elapsed time allows.
    let allowed = 3 + 1 + started.elapsed().as_millis() / PROGRESS_WRITE_MS;
    assert!(
        u128::from(writes) <= allowed,
        "{writes} store writes for {} chunks (allowed {allowed})",
        chunk_sizes().len()
    );
    assert!(
        (writes as usize) < chunk_sizes().len() / 20,
        "not one write per chunk"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_streamed_answer_is_written_a_bounded_number_of_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, store) = serve(dir.path()).await;
    let before = store.metrics().writes_queued;
    let started = Instant::now();
    let resp = rpc_stream(
        &url,
        Some("1.0"),
        "SendStreamingMessage",
        json!({"message": user_message("go")}),
    )
    .await;
    let events = read_sse(resp).await;
    let chunks = events
        .iter()
        .filter(|e| e["result"].get("artifactUpdate").is_some())
        .count();
    assert_eq!(chunks, chunk_sizes().len(), "every chunk is streamed");
    let last = events.last().expect("events");
    assert_eq!(
        last["result"]["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );
    let id = events[0]["result"]["task"]["id"]
        .as_str()
        .expect("task id")
        .to_string();
    check(&url, &store, &id, before, started).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_blocking_answer_is_written_a_bounded_number_of_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, store) = serve(dir.path()).await;
    let before = store.metrics().writes_queued;
    let started = Instant::now();
    let (_, v) = rpc(
        &url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("go")}),
    )
    .await;
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{}",
        v["error"]
    );
    let id = v["result"]["task"]["id"].as_str().expect("id").to_string();
    check(&url, &store, &id, before, started).await;
}
