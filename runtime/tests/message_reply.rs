//! Message-only replies through the real binary and the echo test adapter: `say <text>`
//! answers with `events.reply` — SendMessage returns the Message (no task) and a stream is that
//! one Message —, and WORKING is sent once: lazily before the first artifact, and not again
//! when the adapter reports WORKING itself (`working`).

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{cache_dir, repo};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path) -> (Server, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_molecule-runtime"))
        .current_dir(repo())
        .env("MOLECULE_CACHE_DIR", cache_dir())
        .env("MOLECULE_DATA_DIR", dir.join("data"))
        .env_remove("PLATFORM_URL")
        .env_remove("WORKSPACE_CONFIG_PATH")
        .env_remove("MOLECULE_INBOUND_SECRET")
        .args(["run", "--config-dir", dir.to_str().unwrap()])
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("running molecule-runtime run");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut seen = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.split(" serving A2A on port ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            // Keep reading stderr so the server never writes to a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return (server, digits.parse().unwrap());
        }
        seen.push(line);
        assert!(Instant::now() < deadline, "no port: {}", seen.join("\n"));
    }
    panic!("no port announced; stderr: {}", seen.join("\n"));
}

fn rpc(port: u16, method: &str, text: &str) -> reqwest::RequestBuilder {
    let params = json!({"message": {"messageId": format!("m-{text}"), "role": "ROLE_USER",
                                    "parts": [{"text": text}]}});
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("A2A-Version", "1.0")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
}

async fn stream(port: u16, text: &str) -> Vec<Value> {
    let resp = rpc(port, "SendStreamingMessage", text)
        .send()
        .await
        .expect("stream");
    let body = tokio::time::timeout(Duration::from_secs(60), resp.text())
        .await
        .expect("stream ends")
        .expect("body");
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str::<Value>(d.trim()).expect("json")["result"].clone())
        .collect()
}

fn working_updates(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["statusUpdate"]["status"]["state"] == "TASK_STATE_WORKING")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_is_the_whole_answer_and_working_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Reply\nruntime: {}\nmodel: scripted:reply\na2a: {{streaming: true}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"ok\"\n",
    )
    .unwrap();
    let (_server, port) = start(dir.path());

    let v: Value = rpc(port, "SendMessage", "say hi there")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &v["result"]["message"];
    assert_eq!(m["parts"][0]["text"], "hi there", "{v}");
    assert_eq!(m["role"], "ROLE_AGENT", "{v}");
    assert!(v["result"].get("task").is_none(), "{v}");

    let events = stream(port, "say streamed").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["message"]["parts"][0]["text"], "streamed");

    let events = stream(port, "working").await;
    assert_eq!(working_updates(&events), 1, "{events:?}");
    let last = &events[events.len() - 1];
    assert_eq!(
        last["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );

    let events = stream(port, "plain echo").await;
    assert_eq!(working_updates(&events), 1, "{events:?}");
    assert!(events.iter().any(|e| e.get("artifactUpdate").is_some()));
}

/// A reply is held to the task's budgets like any message: past
/// `sandbox.task.max_artifact_bytes` it is refused and the task ends FAILED naming the key,
/// instead of the whole oversized reply reaching the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_past_the_task_budget_fails_the_task_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Reply\nruntime: {}\nmodel: scripted:reply\nsandbox: {{task: {{max_artifact_bytes: 1k}}}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"ok\"\n",
    )
    .unwrap();
    let (_server, port) = start(dir.path());

    let small: Value = rpc(port, "SendMessage", "say fits")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(small["result"]["message"]["parts"][0]["text"], "fits");

    let text = format!("say {}", "A".repeat(20_000));
    let v: Value = rpc(port, "SendMessage", &text)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["result"].get("message").is_none(), "the reply got out");
    let task = &v["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_FAILED", "{task}");
    let why = task["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("sandbox.task.max_artifact_bytes"), "{why}");
}
