//! `runtime: cli` and what a task carries besides its text, through a fully booted workspace
//! over A2A (JSON-RPC, reqwest): a file part is stored under `<data dir>/uploads` at intake
//! (the same limits and errors as for wasm adapters: one over `uploads.max_file_bytes` is
//! refused whole) and reaches the program — `MOLECULE_UPLOADS_DIR`, the message's files listed
//! in `MOLECULE_FILES_FILE`, earlier messages' files in the history — and every task, failed
//! ones included, carries a `molecule.receipt` (wall and CPU time, exit code). The program is
//! a small Python agent run by the real interpreter (no shell).

use std::path::PathBuf;
use std::process::Command;

use molecule_tests::boot_config_env;
use serde_json::{json, Value};

/// Lists its uploads folder, prints each file of its message (read at the listed path), then
/// the history's lines with their files; exits 3 on the text `fail`.
const AGENT: &str = "import json, os, sys
text = sys.stdin.read().strip()
if text == 'fail':
    sys.exit(3)
uploads = os.environ.get('MOLECULE_UPLOADS_DIR', '-')
print('uploads=' + uploads)
for line in open(os.environ['MOLECULE_FILES_FILE']):
    f = json.loads(line)
    print('file=%s %s %s %d in-dir=%s' % (f['name'], f['filename'], f['mediaType'],
          f['bytes'], os.path.dirname(f['path']) == uploads))
    sys.stdout.write(open(f['path']).read())
for line in open(os.environ['MOLECULE_HISTORY_FILE']):
    h = json.loads(line)
    print('history=%s files=%s' % (h['role'], ','.join(x['name'] for x in h.get('files', []))))
";

const CONTEXT: &str = "files-context";

/// The real interpreter behind `python3` (a version-manager shim needs an environment the
/// granted program does not get).
fn python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed (dev/setup)");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

/// Standard base64 (RFC 4648 §4), what protojson uses for bytes.
fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A blocking 1.0 SendMessage of `text` plus `files` in [`CONTEXT`]; the whole reply.
async fn send(base: &str, id: &str, text: &str, files: Vec<Value>) -> Value {
    let mut parts = vec![json!({"text": text})];
    parts.extend(files);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message":
        {"messageId": id, "role": "ROLE_USER", "contextId": CONTEXT, "parts": parts}}});
    reqwest::Client::new()
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json body")
}

/// The text of all of a task's artifacts.
fn artifact_text(task: &Value) -> String {
    let parts = task["artifacts"].as_array().into_iter().flatten();
    parts
        .flat_map(|a| a["parts"].as_array().into_iter().flatten())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_parts_are_stored_and_reach_the_program_and_every_task_has_a_receipt() {
    let dir = tempfile::tempdir().expect("config dir");
    let work = tempfile::tempdir().expect("agent and data dir");
    let agent = work.path().join("agent.py");
    std::fs::write(&agent, AGENT).expect("write agent.py");
    let yaml = format!(
        "runtime: cli\nruntime_config:\n  command: {}\n  args: [{}]\nuploads: {{max_file_bytes: 1k}}\n",
        python().display(),
        agent.display()
    );
    let data = work.path().join("data");
    let env = [
        ("MOLECULE_DATA_DIR", data.to_str().expect("utf-8 path")),
        ("MOLECULE_CLI_SHEPHERD", env!("CARGO_BIN_EXE_cli-shepherd")),
    ];
    let ws = boot_config_env(dir.path(), &yaml, &env, true).await;
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    let base = format!("http://{}", ws.addr);

    let file = json!({"raw": b64(b"hello from the client\n"), "filename": "../notes.txt",
                      "mediaType": "text/plain"});
    let first = send(&base, "f-1", "read it", vec![file]).await;
    let task = &first["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{first}");
    let files = data.join("uploads").join(CONTEXT).join("files");
    let stored = std::fs::read_to_string(files.join("notes.txt"))
        .unwrap_or_else(|e| panic!("stored upload: {e}; reply {first}"));
    assert_eq!(stored, "hello from the client\n");
    // The stored part carries its upload record, as the transcript shows it.
    let upload = &task["history"][0]["parts"][1]["metadata"]["molecule.upload"];
    assert_eq!(upload["name"], "notes.txt", "{first}");
    let out = artifact_text(task);
    let uploads = std::fs::canonicalize(&files).expect("uploads folder");
    let shown = out
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("uploads=");
    assert_eq!(
        std::fs::canonicalize(shown).ok().as_ref(),
        Some(&uploads),
        "{out}"
    );
    assert!(
        out.contains(
            "file=notes.txt ../notes.txt text/plain 22 in-dir=True\nhello from the client\n"
        ),
        "{out}"
    );
    let receipt = &task["metadata"]["molecule.receipt"];
    assert!(
        receipt["wall_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{first}"
    );
    assert!(
        receipt["cpu_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{first}"
    );
    assert!(receipt["waited_ms"].as_f64().is_some(), "{first}");
    assert!(
        receipt["peak_rss_bytes"].as_u64().is_some_and(|b| b > 0),
        "{first}"
    );
    assert_eq!(receipt["output_bytes"], out.len(), "{first}");
    assert_eq!(receipt["exit_code"], 0, "{first}");

    // The next message of the context: no files of its own, the earlier one's in the history.
    let second = send(&base, "f-2", "again", Vec::new()).await;
    let out = artifact_text(&second["result"]["task"]);
    assert!(!out.contains("file="), "{out}");
    assert!(
        out.contains("history=user files=notes.txt\nhistory=agent files=\n"),
        "{out}"
    );

    // Over the limit: refused whole, naming the key, as for a wasm adapter.
    let big = json!({"raw": b64(&[b'x'; 2000]), "filename": "big.bin"});
    let refused = send(&base, "f-3", "too big", vec![big]).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("uploads.max_file_bytes"), "{refused}");
    assert!(!files.join("big.bin").exists());

    // A failed task has its receipt too, with the exit code.
    let failed = send(&base, "f-4", "fail", Vec::new()).await;
    let task = &failed["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_FAILED", "{failed}");
    assert_eq!(
        task["metadata"]["molecule.receipt"]["exit_code"], 3,
        "{failed}"
    );
    ws.shutdown().await.expect("shutdown");
}
