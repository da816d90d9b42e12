//! JavaScript skills against the sandbox: hostile code contained, outgoing HTTP only to
//! granted origins, oversized headers refused, queued promise jobs run, torn bytecode falls
//! back to source, and the workspace policy giving a skill the model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::SandboxLimits;
use molecule_runtime::sandbox::CallError;
use molecule_tests::js_builder;
use serde_json::json;

#[allow(dead_code)]
#[path = "js_common.rs"]
mod common;
use common::{load, parse, sandbox, write_skill, HELLO};

const HOSTILE: &str = r#"import { tool } from "molecule-skill";

export const spin = tool({ description: "Never returns." }, () => { for (;;) {} });
export const bomb = tool({ description: "Allocates without end." }, () => {
  const kept = [];
  for (;;) kept.push(new Array(1 << 16).fill(kept.length));
});
export const huge = tool({ description: "Returns 8 MiB." }, () => "y".repeat(8 << 20));
export const deep = tool({ description: "Recurses without end." }, () => {
  const f = (n) => f(n + 1) + 1;
  return f(0);
});
export const fine = tool({ description: "Answers." }, () => "still here");
"#;

/// Hostile code is stopped by the sandbox's limits, each with its own error, and the same
/// skill answers the next call normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_javascript_is_contained() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "hostile", &[("app.js", HOSTILE)]);
    let limits = SandboxLimits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(3),
        ..SandboxLimits::default()
    };
    let grants = Grants::builder("skill hostile").limits(limits).build();
    let skill = load(&dir, grants).await;
    let cases = [
        ("spin", "time limit"),
        ("bomb", "memory limit"),
        ("huge", "output too large"),
        ("deep", "stack"),
    ];
    for (tool, needle) in cases {
        let err = sandbox().call_tool(&skill, tool, "{}").await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.to_lowercase().contains(needle),
            "{tool}: {text} lacks {needle}"
        );
        let out = sandbox().call_tool(&skill, "fine", "{}").await.unwrap();
        assert_eq!(out, r#""still here""#, "after {tool}");
    }
}

const FETCHER: &str = r#"import { tool, http } from "molecule-skill";

export const get = tool({
  description: "Fetches a URL.",
  inputSchema: { type: "object", properties: { url: { type: "string" } }, required: ["url"] },
}, ({ url }) => {
  const response = http.get(url);
  return { status: response.status, body: response.text(), type: response.header("Content-Type") };
});
"#;

/// Outgoing HTTP from JavaScript goes through the same `wasi:http` egress as Rust skills: a
/// granted origin answers, anything else is `denied` before a connection is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_http_reaches_only_granted_origins() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let body = "hello from loopback ✓";
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "fetcher", &[("app.js", FETCHER)]);
    let origin = format!("http://127.0.0.1:{port}");
    let url = json!({ "url": format!("{origin}/x") }).to_string();

    let granted = Grants::builder("skill fetcher")
        .http_hosts(std::slice::from_ref(&origin))
        .unwrap()
        .build();
    let skill = load(&dir, granted).await;
    let out = parse(&sandbox().call_tool(&skill, "get", &url).await.unwrap());
    assert_eq!(
        out,
        json!({"status": 200, "body": "hello from loopback ✓", "type": "text/plain; charset=utf-8"})
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let skill = load(&dir, Grants::builder("skill fetcher").build()).await;
    let denied = sandbox().call_tool(&skill, "get", &url).await;
    assert!(
        matches!(&denied, Err(CallError::Tool(ToolError::Denied(t))) if t.contains(&origin)),
        "{denied:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a denied request connected"
    );
    server.abort();
}

const QUEUED: &str = r#"import { tool, memory } from "molecule-skill";

export const later = tool({ description: "Queues a commit it does not await." }, () => {
  Promise.resolve().then(() => memory.commit("committed from a job"));
  return "returned";
});
export const count = tool({ description: "Counts matching notes." }, () =>
  memory.search("committed from a job").length);
"#;

/// Promise jobs a tool queues without awaiting them still run before its call ends, as they
/// would under Node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_tool_queued_run_before_the_call_ends() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "queued", &[("app.js", QUEUED)]);
    let db = root.path().join("memory.sqlite");
    let grants = Grants::builder("skill queued")
        .memory(Arc::new(SqliteMemory::open(&db).unwrap()))
        .build();
    let skill = load(&dir, grants).await;
    let out = sandbox().call_tool(&skill, "later", "{}").await.unwrap();
    assert_eq!(out, r#""returned""#);
    let count = sandbox().call_tool(&skill, "count", "{}").await.unwrap();
    assert_eq!(count, "1", "the queued commit ran");
}

/// Every bytecode file of a loaded version, found by the version's copy of `app.js`.
fn bytecode_files(marker: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![js_builder().cache_root().join("javascript/skills")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "qbc") {
                // <version>/jscache/<engine>/<file>.qbc, and <version>/src/app.js
                let version = path.parent().and_then(Path::parent).and_then(Path::parent);
                let app = version.map(|v| v.join("src/app.js")).unwrap_or_default();
                if std::fs::read_to_string(app).is_ok_and(|t| t.contains(marker)) {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// A torn or foreign bytecode file never breaks a skill: the engine compiles the source
/// instead (and the next load rewrites the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_bytecode_falls_back_to_the_source() {
    let root = tempfile::tempdir().unwrap();
    let marker = format!("marker-{}", std::process::id());
    let app = HELLO.replace("Greets someone", &format!("Greets someone ({marker})"));
    let dir = write_skill(root.path(), "torn", &[("app.js", app.as_str())]);
    let skill = load(&dir, Grants::builder("skill torn").build()).await;
    let files = bytecode_files(&marker);
    assert!(
        files.iter().any(|f| f.ends_with("app.js.qbc")),
        "the load wrote bytecode: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
    }
    let out = sandbox()
        .call_tool(&skill, "hello", r#"{"name":"Ada"}"#)
        .await
        .unwrap();
    assert_eq!(parse(&out), json!({"greeting": "Hello, Ada!"}));
}

const BIG_HEADERS: &str = r#"import { tool, http } from "molecule-skill";

export const get = tool({ description: "Sends a huge header." }, ({ url }) =>
  http.get(url, { headers: { "x-big": "v".repeat(100000) } }).status);
"#;

/// Request headers over the engine's limit are refused as invalid input before the host sees
/// them (the host would otherwise trap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_headers_are_refused_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "headers", &[("app.js", BIG_HEADERS)]);
    let granted = Grants::builder("skill headers")
        .http_hosts(&["http://127.0.0.1:9"])
        .unwrap()
        .build();
    let skill = load(&dir, granted).await;
    let err = sandbox()
        .call_tool(&skill, "get", r#"{"url":"http://127.0.0.1:9/"}"#)
        .await
        .unwrap_err();
    match &err {
        CallError::Tool(ToolError::Failed(text)) => {
            assert!(text.contains("65536-byte limit"), "{text}")
        }
        other => panic!("expected a tool error, got {other:?}"),
    }
}

const ASKS: &str = r#"import { tool, llm } from "molecule-skill";

export const ask = tool({ description: "Asks the model." }, ({ q }) => llm.ask(q));
"#;

/// The model the workspace policy gives a skill: a fixed answer, recording the prompt.
struct FixedModel;

#[async_trait::async_trait]
impl molecule_runtime::capabilities::llm::LlmBackend for FixedModel {
    async fn complete(
        &self,
        request: molecule_runtime::bindings::imports::molecule::runtime::llm::ChatRequest,
    ) -> Result<molecule_runtime::bindings::imports::molecule::runtime::llm::ChatResponse, HostError>
    {
        use molecule_runtime::bindings::imports::molecule::runtime::llm::{
            ChatMessage, ChatResponse, ChatRole, Usage,
        };
        let prompt = request.messages.last().map(|m| m.content.clone());
        Ok(ChatResponse {
            message: ChatMessage {
                role: ChatRole::Assistant,
                content: format!("you asked: {}", prompt.unwrap_or_default()),
                tool_calls: Vec::new(),
                tool_call_id: None,
            },
            stop_reason: "end_turn".into(),
            usage: Usage {
                input_tokens: 1,
                output_tokens: 1,
            },
        })
    }

    async fn stream(
        &self,
        _: molecule_runtime::bindings::imports::molecule::runtime::llm::ChatRequest,
    ) -> Result<molecule_runtime::bindings::ChatStream, HostError> {
        Err(HostError::Unavailable("no streaming here".into()))
    }
}

/// In a workspace, a skill whose SKILL.md requests `llm` and whose config.yaml grant allows it
/// reaches the workspace's model; without the grant the denial names both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_grants_a_js_skill_the_model() {
    use molecule_runtime::skill_dir::SkillDir;
    use molecule_runtime::workspace::policy::ConfigPolicy;
    use molecule_runtime::workspace::skills::GrantPolicy;
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "asker", &[("app.js", ASKS)]);
    let md = "---\nname: asker\ndescription: Asks.\ncapabilities:\n  interfaces: [llm]\n---\n";
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    let skill_dir = SkillDir::load(&dir).unwrap();
    let policy = |yaml: &str| {
        let env = molecule_config::Env::from_pairs(Vec::<(String, String)>::new());
        let config = molecule_config::WorkspaceConfig::from_yaml_str(yaml, root.path(), &env);
        ConfigPolicy::new(Arc::new(config), None, Default::default()).with_llm(Arc::new(FixedModel))
    };
    let granted = policy("grants:\n  skills:\n    asker: {interfaces: [llm]}\n");
    let skill = load(&dir, granted.grants_for(&skill_dir).unwrap()).await;
    let out = sandbox()
        .call_tool(&skill, "ask", r#"{"q":"why?"}"#)
        .await
        .unwrap();
    assert_eq!(parse(&out), json!("you asked: why?"));

    let bare = policy("name: w\n");
    let skill = load(&dir, bare.grants_for(&skill_dir).unwrap()).await;
    let err = sandbox()
        .call_tool(&skill, "ask", r#"{"q":"why?"}"#)
        .await
        .unwrap_err();
    match &err {
        CallError::Tool(ToolError::Denied(text)) => {
            assert!(text.contains("grants.skills.asker"), "{text}");
            assert!(text.contains("SKILL.md"), "{text}");
        }
        other => panic!("expected denied, got {other:?}"),
    }
}
