//! Two follow-up messages sent at once to the same INPUT_REQUIRED task: the "still running"
//! check and the claim of the task are one step, so exactly one continuation runs and the
//! other gets the usual "still running" error — even while the first is still in `intake`
//! (an await between the check and the live task). The executor's intake holds each
//! continuation a while to widen that window. And `EventSink::metadata_stored` (the settle
//! write of an approval before a held call runs): a write the store refuses fails the
//! continuation before anything runs.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{card, rpc, user_message};
use molecule_a2a::types::{Message, TaskState};
use molecule_a2a::{
    A2aServer, AgentExecutor, CardHandle, EventSink, IntakeError, RequestContext, Retention,
    TaskStore,
};
use serde_json::json;
use tokio::sync::oneshot;

/// First message: INPUT_REQUIRED. A continuation: counted, then COMPLETED.
#[derive(Default)]
struct Counting {
    continued: AtomicUsize,
}

#[async_trait::async_trait]
impl AgentExecutor for Counting {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        if ctx.is_continuation {
            self.continued.fetch_add(1, Ordering::SeqCst);
            events
                .status_text(TaskState::Completed, "done")
                .map_err(|e| e.to_string())
        } else {
            events
                .status_text(TaskState::InputRequired, "approve?")
                .map_err(|e| e.to_string())
        }
    }

    async fn cancel(&self, _task_id: &str) -> Result<(), String> {
        Ok(())
    }

    async fn intake(&self, message: &mut Message) -> Result<(), IntakeError> {
        if format!("{:?}", message.parts).contains("approve") {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_answers_at_once_continue_the_task_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let executor = Arc::new(Counting::default());
    let store = TaskStore::in_memory(Retention::default()).unwrap();
    let server = A2aServer::new(CardHandle::new(card(&url, true)), executor.clone(), store);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let (_, v) = rpc(
        &url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("go")}),
    )
    .await;
    assert_eq!(
        v["result"]["task"]["status"]["state"], "TASK_STATE_INPUT_REQUIRED",
        "{v}"
    );
    let id = v["result"]["task"]["id"].as_str().unwrap().to_owned();
    let answer = || {
        let mut m = user_message("approve");
        m["taskId"] = json!(id);
        rpc(&url, Some("1.0"), "SendMessage", json!({ "message": m }))
    };
    let ((_, a), (_, b)) = tokio::join!(answer(), answer());
    assert_eq!(executor.continued.load(Ordering::SeqCst), 1, "{a}\n{b}");
    let (done, refused) = if a.get("error").is_some() {
        (b, a)
    } else {
        (a, b)
    };
    assert_eq!(
        done["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{done}"
    );
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("still running"), "{refused}");
    let _ = stop.send(());
}

/// A continuation first stores a metadata key with `metadata_stored` and runs only once the
/// write is committed; a failed write fails the task and nothing runs.
#[derive(Default)]
struct StoreFirst {
    ran: AtomicUsize,
}

#[async_trait::async_trait]
impl AgentExecutor for StoreFirst {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        if !ctx.is_continuation {
            return events
                .status_text(TaskState::InputRequired, "approve?")
                .map_err(|e| e.to_string());
        }
        let cleared = json!({"resolved": "x".repeat(200_000)});
        events
            .metadata_stored("molecule.approval", cleared)
            .await
            .map_err(|e| format!("not stored: {e}"))?;
        self.ran.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn cancel(&self, _task_id: &str) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn a_metadata_write_that_cannot_be_stored_stops_the_continuation() {
    let dir = tempfile::tempdir().unwrap();
    let store = TaskStore::open(&dir.path().join("tasks.db"), Retention::default()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let executor = Arc::new(StoreFirst::default());
    let server = A2aServer::new(
        CardHandle::new(card(&url, true)),
        executor.clone(),
        store.clone(),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let (_, v) = rpc(
        &url,
        Some("1.0"),
        "SendMessage",
        json!({"message": user_message("go")}),
    )
    .await;
    let id = v["result"]["task"]["id"].as_str().unwrap().to_owned();
    store.set_max_pages(1).await.unwrap();
    let mut m = user_message("approve");
    m["taskId"] = json!(id);
    let (_, answered) = rpc(&url, Some("1.0"), "SendMessage", json!({ "message": m })).await;
    assert_eq!(
        executor.ran.load(Ordering::SeqCst),
        0,
        "nothing runs: {answered}"
    );
    let state = &answered["result"]["task"]["status"]["state"];
    assert!(
        state == "TASK_STATE_FAILED" || answered.get("error").is_some(),
        "the continuation fails: {answered}"
    );
    let _ = stop.send(());
}
