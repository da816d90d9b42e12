//! JavaScript skills on the shared engine component (QuickJS), with real components: a call,
//! grants and denials, error mapping with the author's frames, load failures that name the
//! file, hot reload under concurrent calls, outgoing HTTP, and hostile code contained.
//!
//! The engine is built once per source version into the shared test cache (needs clang,
//! llvm-ar and wasi-libc the first time: `dev/setup`; about a minute and a half), then only
//! loaded.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::grants::Grants;
use molecule_runtime::javascript;
use molecule_runtime::limits::SandboxLimits;
use molecule_runtime::sandbox::{CallError, Sandbox};
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{host, js_builder};
use serde_json::{json, Value};

const HELLO: &str = r#"import { tool } from "molecule-skill";

export const hello = tool({
  description: "Greets someone by name.",
  inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
}, ({ name }) => ({ greeting: `Hello, ${name}!` }));
"#;

/// Writes skill `id` under `root` with `files` (relative path, text); returns its folder.
fn write_skill(root: &Path, id: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!("---\nname: {id}\ndescription: Test skill {id}.\n---\nUse {id}.\n");
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// One host per test process, so every skill shares one compiled engine.
fn shared_host() -> &'static ComponentHost {
    static HOST: OnceLock<ComponentHost> = OnceLock::new();
    HOST.get_or_init(host)
}

async fn try_load(dir: &Path, grants: Arc<Grants>) -> anyhow::Result<SkillComponent> {
    javascript::load_skill(shared_host(), &js_builder(), dir, &grants).await
}

async fn load(dir: &Path, grants: Arc<Grants>) -> SkillComponent {
    try_load(dir, grants)
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e:#}", dir.display()))
}

fn sandbox() -> Sandbox {
    Sandbox::new(shared_host().engine().clone())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_skill_says_hello_and_describes_its_schema() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "greeter", &[("app.js", HELLO)]);
    let skill = load(&dir, Grants::builder("skill greeter").build()).await;
    let names: Vec<&str> = skill.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["hello"]);
    assert_eq!(skill.tools[0].description, "Greets someone by name.");
    assert_eq!(
        parse(&skill.tools[0].input_schema)["required"],
        json!(["name"])
    );
    let out = sandbox()
        .call_tool(&skill, "hello", r#"{"name":"Ada"}"#)
        .await
        .unwrap();
    assert_eq!(parse(&out), json!({"greeting": "Hello, Ada!"}));
}

const MODERN: &str = r#"import { tool } from "molecule-skill";
import { Counter } from "./lib/counter.js";

export const modern = tool({ description: "ES2020+ features." }, async (input) => {
  const c = new Counter();
  c.add(input?.step ?? 2);
  const { a = 1, ...rest } = { b: 2, c: 3 };
  const settled = await Promise.allSettled([Promise.resolve(1), Promise.reject(new Error("x"))]);
  return {
    count: c.value,
    big: (2n ** 64n).toString(),
    rest,
    a,
    settled: settled.map((s) => s.status),
    groups: "2026-11-30".match(/(?<y>\d+)-(?<m>\d+)/).groups.m,
    at: [1, 2, 3].at(-1),
    text: new TextDecoder().decode(new TextEncoder().encode("héllo ✓")),
  };
});
"#;

const COUNTER: &str = "export class Counter {\n  #n = 0;\n  add(k) { this.#n += k; }\n  get value() { return this.#n; }\n}\n";

/// Modern JavaScript (ES2020–ES2022) runs, relative imports inside the folder included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_javascript_and_relative_imports_work() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(
        root.path(),
        "modern",
        &[("app.js", MODERN), ("lib/counter.js", COUNTER)],
    );
    let skill = load(&dir, Grants::builder("skill modern").build()).await;
    let out = sandbox()
        .call_tool(&skill, "modern", r#"{"step":5}"#)
        .await
        .unwrap();
    assert_eq!(
        parse(&out),
        json!({"count": 5, "big": "18446744073709551616", "rest": {"b": 2, "c": 3}, "a": 1,
               "settled": ["fulfilled", "rejected"], "groups": "11", "at": 3,
               "text": "héllo ✓"})
    );
}

const REMEMBER: &str = r#"import { tool, memory, config } from "molecule-skill";

export const remember = tool({
  description: "Stores a note.",
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
}, ({ text }) => memory.commit(text));

export const setting = tool({ description: "Reads a config value." }, () => config.get("GREETING"));
"#;

/// An ungranted capability is `denied` with exactly the text a Rust skill's host call gets;
/// granted, it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_are_denied_unless_granted_with_the_rust_message() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "notes", &[("app.js", REMEMBER)]);
    let hint = "config.yaml under grants.skills.notes";
    let bare = || Grants::builder("skill notes").grant_hint(hint).build();
    let denied = load(&dir, bare()).await;
    for (tool, capability) in [("remember", "memory"), ("setting", "config key GREETING")] {
        let err = sandbox()
            .call_tool(&denied, tool, r#"{"text":"x"}"#)
            .await
            .unwrap_err();
        let expected = match bare().denied(capability) {
            HostError::Denied(text) => text,
            other => panic!("{other:?}"),
        };
        match &err {
            CallError::Tool(ToolError::Denied(text)) => {
                assert!(text.contains(&expected), "{tool}: {text} lacks {expected}")
            }
            other => panic!("{tool}: expected denied, got {other:?}"),
        }
    }
    let db = root.path().join("memory.sqlite");
    let grants = Grants::builder("skill notes")
        .memory(Arc::new(SqliteMemory::open(&db).unwrap()))
        .config("GREETING", Some("hi".into()))
        .build();
    let granted = load(&dir, grants).await;
    let id = sandbox()
        .call_tool(&granted, "remember", r#"{"text":"x"}"#)
        .await
        .unwrap();
    assert!(parse(&id).as_str().is_some_and(|s| !s.is_empty()), "{id}");
    let value = sandbox()
        .call_tool(&granted, "setting", "{}")
        .await
        .unwrap();
    assert_eq!(parse(&value), json!("hi"));
}

const ERRORS: &str = r#"import { tool, InvalidInput, HostDenied } from "molecule-skill";
import { divide } from "./lib/maths.js";

export const div = tool({
  description: "Divides a by b.",
  inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } },
                 required: ["a", "b"] },
}, ({ a, b }) => divide(a, b));

export const picky = tool({ description: "Refuses empty names." }, ({ name }) => {
  if (!name) throw new InvalidInput("field `name`: must not be empty");
  return name;
});

export const raw = tool({ description: "Throws a string." }, () => { throw "just a string"; });

export const undef = tool({ description: "Throws undefined." }, () => { throw undefined; });

export const host = tool({ description: "Lets a host denial escape." }, () => {
  throw new HostDenied("not granted here");
});

export const rejects = tool({ description: "An async failure." }, async () => {
  await null;
  throw new TypeError("async trouble");
});

export const cyclic = tool({ description: "Returns a cycle." }, () => { const o = {}; o.o = o; return o; });
"#;

const MATHS: &str = "export function divide(a, b) {\n  if (b === 0) {\n    throw new RangeError(\"division by zero\");\n  }\n  return a / b;\n}\n";

/// Thrown errors become tool errors: the SDK's kinds keep their kind, anything else is
/// `failed` with its name, message and the author's frames (file and line), never the SDK's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrown_errors_map_to_tool_errors_with_author_frames() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(
        root.path(),
        "maths",
        &[("app.js", ERRORS), ("lib/maths.js", MATHS)],
    );
    let skill = load(&dir, Grants::builder("skill maths").build()).await;
    let call = |tool: &'static str, input: &'static str| {
        let skill = &skill;
        async move { sandbox().call_tool(skill, tool, input).await }
    };
    assert_eq!(call("div", r#"{"a":6,"b":3}"#).await.unwrap(), "2");
    match call("div", r#"{"a":1,"b":0}"#).await.unwrap_err() {
        CallError::Tool(ToolError::Failed(text)) => {
            assert!(text.contains("RangeError: division by zero"), "{text}");
            assert!(text.contains("lib/maths.js:3"), "author frames: {text}");
            assert!(!text.contains("molecule-skill"), "SDK frames: {text}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    let kinds = [
        (
            "picky",
            r#"{"name":""}"#,
            "invalid-input",
            "must not be empty",
        ),
        ("div", r#"{"a":"x","b":1}"#, "invalid-input", "`a`"),
        ("div", r#"{"a":1}"#, "invalid-input", "`b`"),
        ("div", "not json", "invalid-input", "JSON"),
        ("raw", "{}", "failed", "just a string"),
        ("undef", "{}", "failed", "undefined"),
        ("host", "{}", "denied", "not granted here"),
        ("rejects", "{}", "failed", "TypeError: async trouble"),
        ("cyclic", "{}", "failed", "cyclic"),
        ("nope", "{}", "not-found", "picky"),
    ];
    for (tool, input, kind, needle) in kinds {
        let err = call(tool, input).await.unwrap_err();
        let (got, text) = match &err {
            CallError::Tool(ToolError::InvalidInput(t)) => ("invalid-input", t),
            // Not JSON: the host refuses it before the guest runs.
            CallError::InvalidInput(t) => ("invalid-input", t),
            CallError::Tool(ToolError::Failed(t)) => ("failed", t),
            CallError::Tool(ToolError::Denied(t)) => ("denied", t),
            CallError::Tool(ToolError::NotFound(t)) => ("not-found", t),
            other => panic!("{tool}: not a tool error: {other:?}"),
        };
        assert_eq!(got, kind, "{tool} {input}: {text}");
        assert!(
            text.to_lowercase().contains(&needle.to_lowercase()),
            "{tool} {input}: {text} lacks {needle}"
        );
    }
}

/// A skill that cannot load says why, naming the file (and line for a syntax error); the
/// reason is not lost in a generic crash message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_that_cannot_load_names_the_file_and_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax",
            vec![("app.js", "import { tool } from \"molecule-skill\";\n\nexport const x = tool({ description: \"x\" } () => 1);\n")],
            vec!["app.js", "3"],
        ),
        (
            "missing",
            vec![("app.js", "import { helper } from \"./lib/helper.js\";\nexport const x = 1;\n")],
            vec!["lib/helper.js"],
        ),
        (
            "bare",
            vec![("app.js", "import _ from \"lodash\";\nexport const x = 1;\n")],
            vec!["lodash", "bundle"],
        ),
        (
            "escape",
            vec![("app.js", "import x from \"../../etc/passwd.js\";\nexport const y = x;\n")],
            vec!["leaves"],
        ),
        (
            "data",
            vec![("app.js", "import data from \"./data.txt\";\nexport const x = data;\n"), ("data.txt", "v = 1")],
            vec!["data.txt", "only .js and .mjs"],
        ),
        (
            "typo",
            vec![("app.js", "import { tool } from \"molecule-skill\";\nexport const x = tool({ description: \"x\", input_schema: {} }, () => 1);\n")],
            vec!["input_schema", "inputSchema"],
        ),
    ];
    for (id, files, needles) in cases {
        let dir = write_skill(root.path(), id, &files);
        let err = match try_load(&dir, Grants::builder(format!("skill {id}")).build()).await {
            Ok(skill) => panic!("{id} loaded with tools {:?}", skill.tools),
            Err(err) => format!("{err:#}"),
        };
        for needle in needles {
            assert!(err.contains(needle), "{id}: {err} lacks {needle}");
        }
    }
}

fn registry(root: &Path) -> Arc<SkillRegistry> {
    Arc::new(SkillRegistry::new(
        Arc::new(host()),
        js_builder(),
        Arc::new(GrantNothing),
        vec![root.to_owned()],
    ))
}

/// Editing `app.js` and reloading while four callers keep calling: no call fails, every
/// answer is the old or the new text, and the new one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_app_js_under_concurrent_calls_never_fails_a_call() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "greeter", &[("app.js", HELLO)]);
    let registry = registry(root.path());
    let snapshot = registry.load_all().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, news) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (registry, stop) = (registry.clone(), stop.clone());
        let (calls, news) = (calls.clone(), news.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let out = registry.call("hello", r#"{"name":"Ada"}"#).await;
                let out = out.unwrap_or_else(|e| panic!("a call failed during reload: {e}"));
                calls.fetch_add(1, Ordering::Relaxed);
                match parse(&out)["greeting"].as_str() {
                    Some("Hello, Ada!") => {}
                    Some("Bonjour, Ada!") => {
                        news.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => panic!("neither old nor new: {out}"),
                }
            }
        }));
    }
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let text = if round % 2 == 0 {
            HELLO.replace("Hello", "Bonjour")
        } else {
            HELLO.to_owned()
        };
        std::fs::write(dir.join("app.js"), text).unwrap();
        let snapshot = registry.reload(&["greeter".to_owned()]).await;
        assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        calls.load(Ordering::Relaxed) > 8,
        "too few calls to mean anything"
    );
    assert!(
        news.load(Ordering::Relaxed) > 0,
        "the edit was never served"
    );
    let out = registry.call("hello", r#"{"name":"Ada"}"#).await.unwrap();
    assert_eq!(
        parse(&out)["greeting"],
        "Hello, Ada!",
        "the last edit is served"
    );
}

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
