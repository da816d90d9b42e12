//! Transcripts and uploads end to end (issue 18 item 4): a workspace booted on 127.0.0.1:0
//! (the echo adapter, built from source, and two real Python skills, one granted `uploads`
//! in config.yaml and one not), driven with reqwest over A2A 1.0 JSON-RPC and 0.3. A message
//! with a file part is stored under `<data dir>/uploads/<context>/files/` (safe name, media
//! type in the index) before it is answered; the granted skill reads it at `/uploads`, the
//! other cannot see it; a file over `uploads.max_file_bytes` is refused naming the key and
//! nothing is stored; `GET /transcript` shows the messages and both tool calls as JSON and
//! Markdown, behind the inbound bearer, with 400 and 404 answers naming what is wrong. A
//! previous run's upload past `uploads.retention` is swept at boot and frees the budget.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use molecule_config::Env;
use molecule_llm::{Credentials, Gateway, ModelSelection};
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::workspace::boot::{boot, BootDeps, RunningWorkspace};
use molecule_tests::{host, repo_root, test_cache_dir};
use serde_json::{json, Value};

const TOKEN: &str = "transcript-test-bearer-0123456789";
const CONTEXT: &str = "chat-42";

/// Reads a file under `/uploads` (Python, on the shared interpreter).
const READER: &str = r#"from molecule_skill import tool

@tool
def read_upload(name: str) -> dict:
    """Reads a file the client uploaded."""
    with open("/uploads/" + name) as f:
        return {"text": f.read()}


@tool
def overwrite_upload(name: str) -> dict:
    """Tries to overwrite an uploaded file (the folder is read-only)."""
    try:
        with open("/uploads/" + name, "w") as f:
            f.write("changed")
        return {"written": True}
    except OSError as e:
        return {"refused": type(e).__name__}
"#;

/// The same, under another name, for a skill that is not granted `uploads`.
const PEEKER: &str = r#"from molecule_skill import tool

@tool
def peek_upload(name: str) -> dict:
    """Tries to read an uploaded file."""
    try:
        with open("/uploads/" + name) as f:
            return {"text": f.read()}
    except OSError as e:
        return {"denied": type(e).__name__}
"#;

fn write_skill(root: &Path, id: &str, app: &str) {
    let dir = root.join("skills").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!(
        "---\nname: {id}\ndescription: Test skill {id}.\ncapabilities:\n  interfaces: [uploads]\n---\nUse {id}.\n"
    );
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    std::fs::write(dir.join("app.py"), app).unwrap();
}

/// The workspace of these tests in `dir`, its config.yaml `uploads:` set to `{uploads}`.
async fn boot_ws(dir: &Path, uploads: &str) -> RunningWorkspace {
    write_skill(dir, "reader", READER);
    write_skill(dir, "peeker", PEEKER);
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Uploads\nruntime: {}\nmodel: scripted:demo\n\
         uploads: {{{uploads}}}\n\
         grants:\n  skills:\n    reader: {{interfaces: [uploads]}}\n    peeker: {{}}\n",
        adapter.display()
    );
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    let env = Env::from_pairs([("MOLECULE_INBOUND_SECRET".to_string(), TOKEN.to_string())]);
    let overrides = Overrides {
        config_dir: Some(dir.to_owned()),
        port: Some(0),
        bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let plan = Plan::new(env, &overrides);
    assert!(
        !plan.preflight.has_failures(),
        "{}",
        plan.preflight.render()
    );
    let credentials = Credentials {
        scripted_file: Some(repo_root().join("demo/model-script.yaml")),
        ..Credentials::default()
    };
    let selection = ModelSelection::resolve(None, "scripted:demo").unwrap();
    let deps = BootDeps {
        host: Arc::new(host()),
        builder: molecule_runtime::builder::ComponentBuilder::new(&test_cache_dir()),
        gateway: Gateway::new(selection, credentials)
            .map(Arc::new)
            .map_err(|e| e.to_string()),
        in_memory_tasks: false,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let ws = boot(plan, deps, listener).await.expect("boot");
    let snapshot = ws.skills.snapshot();
    for tool in ["read_upload", "peek_upload"] {
        assert!(snapshot.tools.contains_key(tool), "{:?}", snapshot.problems);
    }
    ws
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

/// A 1.0 SendMessage of `text` plus `files` (`[{"raw", "filename", "mediaType"}]`).
async fn send(ws: &RunningWorkspace, id: &str, text: &str, files: Vec<Value>) -> Value {
    let mut parts = vec![json!({"text": text})];
    parts.extend(files);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message":
        {"messageId": id, "role": "ROLE_USER", "contextId": CONTEXT, "parts": parts}}});
    reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .header("A2A-Version", "1.0")
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn task_text(reply: &Value) -> String {
    reply.to_string()
}

async fn transcript(ws: &RunningWorkspace, query: &str, accept: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .get(format!("http://{}/transcript{query}", ws.addr))
        .bearer_auth(TOKEN);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_stored_offered_to_granted_skills_and_shown_in_the_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_ws(dir.path(), "max_file_bytes: 1k, max_context_files: 10").await;
    let file = json!({"raw": b64(b"hello upload"), "filename": "../notes.txt",
                      "mediaType": "text/plain"});
    let reply = send(
        &ws,
        "m1",
        r#"tool read_upload {"name":"notes.txt"}"#,
        vec![file],
    )
    .await;
    assert!(task_text(&reply).contains("hello upload"), "{reply}");

    // On disk, under a safe name, with its media type in the index.
    let ctx = dir.path().join(".molecule/uploads").join(CONTEXT);
    let stored = std::fs::read_to_string(ctx.join("files/notes.txt")).unwrap();
    assert_eq!(stored, "hello upload");
    let index: Value =
        serde_json::from_slice(&std::fs::read(ctx.join("index.json")).unwrap()).unwrap();
    assert_eq!(index[0]["mediaType"], "text/plain");
    assert_eq!(index[0]["filename"], "../notes.txt");

    // Read-only: the granted skill cannot change what the client sent.
    let reply = send(
        &ws,
        "m1b",
        r#"tool overwrite_upload {"name":"notes.txt"}"#,
        vec![],
    )
    .await;
    assert!(task_text(&reply).contains("refused"), "{reply}");
    assert_eq!(
        std::fs::read_to_string(ctx.join("files/notes.txt")).unwrap(),
        "hello upload"
    );

    // A skill not granted `uploads` does not see the folder.
    let reply = send(
        &ws,
        "m2",
        r#"tool peek_upload {"name":"notes.txt"}"#,
        vec![],
    )
    .await;
    let text = task_text(&reply);
    assert!(
        text.contains("denied") && !text.contains("hello upload"),
        "{reply}"
    );

    // Too large: refused naming the key, nothing stored, no task.
    let big = json!({"raw": b64(&[b'x'; 2000]), "filename": "big.bin"});
    let reply = send(&ws, "m3", "tools", vec![big]).await;
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("uploads.max_file_bytes"), "{message}");
    assert!(!ctx.join("files/big.bin").exists());

    // The 0.3 form of a file part is stored too.
    let v03 = json!({"jsonrpc": "2.0", "id": 2, "method": "message/send", "params": {"message":
        {"kind": "message", "messageId": "m4", "role": "user", "contextId": CONTEXT, "parts": [
            {"kind": "text", "text": "tools"},
            {"kind": "file", "file": {"bytes": b64(b"a,b\n1,2\n"), "name": "t.csv",
                                      "mimeType": "text/csv"}}]}}});
    let reply: Value = reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .bearer_auth(TOKEN)
        .json(&v03)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reply.get("result").is_some(), "{reply}");
    assert_eq!(
        std::fs::read_to_string(ctx.join("files/t.csv")).unwrap(),
        "a,b\n1,2\n"
    );

    check_transcript(&ws).await;
}

/// A previous run's upload older than `uploads.retention` is removed by the sweep at boot, and
/// its bytes no longer count against `uploads.max_total_bytes`.
#[tokio::test(flavor = "multi_thread")]
async fn old_uploads_are_swept_at_boot_and_free_the_budget() {
    use molecule_runtime::uploads::{UploadLimits, Uploads};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".molecule/uploads");
    let limits = UploadLimits {
        max_file_bytes: 1024,
        max_context_bytes: 1 << 20,
        max_context_files: 10,
        max_total_bytes: 1000,
        max_contexts: 10,
        retention: Duration::from_secs(2 * 86_400),
    };
    let previous_run = Uploads::new(&root, limits);
    let part = json!({"raw": b64(&[b'o'; 900]), "filename": "old.bin"});
    let mut old: molecule_a2a::types::Message = serde_json::from_value(json!({
        "messageId": "old", "role": "ROLE_USER", "contextId": "old-chat", "parts": [part]}))
    .unwrap();
    previous_run.take_in(&mut old).await.unwrap();
    let index = std::fs::File::options()
        .write(true)
        .open(root.join("old-chat/index.json"))
        .unwrap();
    index
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
        .unwrap();

    let ws = boot_ws(
        dir.path(),
        "max_file_bytes: 1k, max_total_bytes: 1000, retention: 2d",
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while root.join("old-chat").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the boot sweep never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let file = json!({"raw": b64(&[b'n'; 900]), "filename": "new.bin"});
    let reply = send(&ws, "m1", "tools", vec![file]).await;
    assert!(reply.get("result").is_some(), "{reply}");
    let stored = root.join(CONTEXT).join("files/new.bin");
    assert_eq!(std::fs::metadata(stored).unwrap().len(), 900);
}

async fn check_transcript(ws: &RunningWorkspace) {
    let (status, body) = transcript(ws, &format!("?contextId={CONTEXT}"), None).await;
    assert_eq!(status, 200, "{body}");
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["totalTasks"], 4, "the refused message made no task: {t}");
    let entries = t["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let first_call = kinds.iter().position(|k| *k == "toolCall").unwrap();
    assert_eq!(entries[first_call - 1]["role"], "user", "{kinds:?}");
    let file = &entries[first_call - 1]["parts"][1];
    assert_eq!(file["upload"]["path"], "/uploads/notes.txt", "{file}");
    assert_eq!(file["bytes"], 12);
    let calls: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "toolCall").collect();
    let tools: Vec<&str> = calls.iter().map(|c| c["tool"].as_str().unwrap()).collect();
    assert_eq!(tools, ["read_upload", "overwrite_upload", "peek_upload"]);
    let output = calls[0]["output"].as_str().unwrap();
    assert!(output.contains("hello upload"), "{output}");

    for (query, accept) in [
        (format!("?contextId={CONTEXT}"), Some("text/markdown")),
        (format!("?contextId={CONTEXT}&format=markdown"), None),
    ] {
        let (status, md) = transcript(ws, &query, accept).await;
        assert_eq!(status, 200);
        assert!(
            md.contains("## User") && md.contains("### Tool call `read_upload`"),
            "{md}"
        );
        assert!(md.contains("stored as `/uploads/notes.txt`"), "{md}");
    }

    let (status, body) = transcript(ws, "?contextId=nobody", None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = transcript(ws, "?limit=3", None).await;
    assert_eq!(status, 400);
    assert!(body.contains("contextId"), "{body}");
    let (status, body) = transcript(ws, &format!("?contextId={CONTEXT}&limit=1"), None).await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, page["tasks"].as_u64()), (200, Some(1)));
    assert_ne!(
        page["nextPageToken"], "",
        "older tasks are on the next page"
    );

    let resp = reqwest::get(format!("http://{}/transcript?contextId={CONTEXT}", ws.addr))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
