//! `kill -9` right after replies, many times over: every task a reply acknowledged is in the
//! store after the crash (COMPLETED when the reply said so), and the database passes
//! `PRAGMA integrity_check`. The server is this test binary run again as a child process
//! (`crash_child` below, a no-op unless started that way) serving a file-backed store, with
//! 16 clients sending blocking and non-blocking SendMessages; the child is killed with
//! SIGKILL the moment the 40th reply of a round arrives, while other requests are in flight.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use molecule_a2a::types::TaskState;
use molecule_a2a::{A2aServer, CardHandle, Retention, TaskStore};
use serde_json::{json, Value};

/// The database path for the child server, set only in the child.
const CHILD_ENV: &str = "MOLECULE_A2A_CRASH_CHILD_DB";
/// Kill-and-restart rounds.
const ROUNDS: usize = 25;
/// Replies per round before the kill.
const REPLIES: usize = 40;
/// Concurrent clients.
const CLIENTS: usize = 16;

/// The server of [`acknowledged_tasks_survive_kill_9`] when run as its child; else nothing.
#[test]
fn crash_child() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let store = TaskStore::open(std::path::Path::new(&db), Retention::default())
            .expect("open the store");
        let card = CardHandle::new(common::card(&format!("http://{addr}"), true));
        let server = A2aServer::new(card, Arc::new(common::EchoExecutor::default()), store);
        println!("PORT {}", addr.port());
        let _ = server.serve(listener, std::future::pending()).await;
    });
}

/// Starts the child server on `db`; returns it and its URL.
fn start_child(db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child server");
    let stdout = child.stdout.take().expect("child stdout");
    let port = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // The test harness may have written "test crash_child ... " on the same line.
        .find_map(|l| l.split("PORT ").nth(1).map(str::to_string))
        .expect("the child printed its port");
    (child, format!("http://127.0.0.1:{port}/"))
}

/// One acknowledged task: its id and whether the reply said COMPLETED.
type Acked = (String, bool);

/// One client: sends until the server is gone, recording what each reply acknowledged; the
/// client that receives the round's `REPLIES`-th reply kills the child at once.
async fn client(
    url: String,
    n: usize,
    acked: Arc<Mutex<Vec<Acked>>>,
    replies: Arc<AtomicUsize>,
    child: Arc<Mutex<Child>>,
) {
    let http = reqwest::Client::new();
    for i in 0.. {
        let blocking = (n + i).is_multiple_of(2);
        let text = if blocking { "hello" } else { "sleep 30" };
        let body = json!({"jsonrpc": "2.0", "id": i, "method": "SendMessage", "params": {
            "message": common::user_message(text),
            "configuration": {"returnImmediately": !blocking}}});
        let sent = http
            .post(&url)
            .header("A2A-Version", "1.0")
            .json(&body)
            .send()
            .await;
        let Ok(resp) = sent else { return };
        let Ok(v) = resp.json::<Value>().await else {
            return;
        };
        let Some(id) = v["result"]["task"]["id"].as_str() else {
            panic!("a reply that is not a task: {v}");
        };
        let completed = v["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED";
        assert_eq!(completed, blocking, "{v}");
        acked
            .lock()
            .expect("acked")
            .push((id.to_string(), completed));
        if replies.fetch_add(1, Ordering::SeqCst) + 1 == REPLIES {
            let _ = child.lock().expect("child").kill();
        }
    }
}

#[test]
fn acknowledged_tasks_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("tasks.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut all: Vec<Acked> = Vec::new();
    for round in 0..ROUNDS {
        let (child, url) = start_child(&db);
        let child = Arc::new(Mutex::new(child));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|n| {
                    tokio::spawn(client(
                        url.clone(),
                        n,
                        acked.clone(),
                        replies.clone(),
                        child.clone(),
                    ))
                })
                .collect();
            for c in clients {
                c.await.expect("client");
            }
        });
        let _ = child.lock().expect("child").wait();
        all.extend(acked.lock().expect("acked").drain(..));
        assert!(all.len() >= (round + 1) * REPLIES);
        // Everything acknowledged so far, in this round and every earlier one, is stored.
        rt.block_on(async {
            let store = TaskStore::open(&db, Retention::default()).expect("reopen");
            for (id, completed) in &all {
                let task = store.get(id).await.expect("read").unwrap_or_else(|| {
                    panic!("round {round}: acknowledged task {id} is gone after kill -9")
                });
                if *completed {
                    assert_eq!(
                        task.status.state,
                        TaskState::Completed,
                        "round {round}: {id}"
                    );
                }
            }
        });
    }
    let conn = rusqlite::Connection::open(&db).expect("open for the integrity check");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
}
