//! Python skills on the shared interpreter component, with real components: a call, grants
//! and denials, exception mapping, an instructions-only skill, hot reload under concurrent
//! calls, a script-only skill's `__molecule_run_script__`, and a crashing tool in a task.
//!
//! The interpreter is built once per source version into the shared test cache (needs
//! python3 and PyPI the first time; a few tens of seconds), then only loaded.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::capabilities::events::EventsBackend;
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::capabilities::tools::ToolsBackend;
use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::grants::Grants;
use molecule_runtime::python::{self, RUN_SCRIPT_TOOL};
use molecule_runtime::sandbox::{CallError, Sandbox};
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_runtime::workspace::task_tools::{Builtins, TaskTools};
use molecule_tests::{guest_wasm, host, python_interpreter, test_cache_dir};

const HELLO: &str = r#"from molecule_skill import tool

@tool
def hello(name: str) -> dict:
    """Greets someone by name."""
    return {"greeting": f"Hello, {name}!"}
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

/// One host per test process, so every skill shares one compiled interpreter.
fn shared_host() -> &'static ComponentHost {
    static HOST: OnceLock<ComponentHost> = OnceLock::new();
    HOST.get_or_init(host)
}

async fn load(dir: &Path, grants: Arc<Grants>) -> SkillComponent {
    let python = python_interpreter();
    python::load_skill(shared_host(), &python, dir, &grants)
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e:#}", dir.display()))
}

fn sandbox() -> Sandbox {
    Sandbox::new(shared_host().engine().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_skill_says_hello() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "greeter", &[("app.py", HELLO)]);
    let skill = load(&dir, Grants::builder("skill greeter").build()).await;
    let names: Vec<&str> = skill.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["hello"], "reserved tools are never listed");
    let out = sandbox()
        .call_tool(&skill, "hello", r#"{"name":"Ada"}"#)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!({"greeting": "Hello, Ada!"})
    );
}

const REMEMBER: &str = r#"from molecule_skill import tool, memory

@tool
def remember(text: str) -> str:
    """Stores a note."""
    return memory.commit(text)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_denied_unless_granted_with_the_rust_message() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "notes", &[("app.py", REMEMBER)]);
    let hint = "config.yaml under grants.skills.notes";
    let denied = load(
        &dir,
        Grants::builder("skill notes").grant_hint(hint).build(),
    )
    .await;
    let err = sandbox()
        .call_tool(&denied, "remember", r#"{"text":"x"}"#)
        .await
        .unwrap_err();
    // Exactly the text a Rust skill's host call gets (Grants::denied), as a `denied` error.
    let HostError::Denied(expected) = Grants::builder("skill notes")
        .grant_hint(hint)
        .build()
        .denied("memory")
    else {
        unreachable!()
    };
    match &err {
        CallError::Tool(ToolError::Denied(text)) => assert!(text.contains(&expected), "{text}"),
        other => panic!("expected denied, got {other:?}"),
    }
    let db = root.path().join("memory.sqlite");
    let grants = Grants::builder("skill notes")
        .memory(Arc::new(SqliteMemory::open(&db).unwrap()))
        .build();
    let granted = load(&dir, grants).await;
    let out = sandbox()
        .call_tool(&granted, "remember", r#"{"text":"x"}"#)
        .await
        .unwrap();
    assert!(out.starts_with('"'), "an id string: {out}");
}

const ERRORS: &str = r#"from molecule_skill import tool, InvalidInput
import helpers

@tool
def divide(a: int, b: int) -> float:
    """Divides a by b."""
    return helpers.div(a, b)

@tool
def picky(name: str) -> str:
    """Refuses empty names."""
    if not name:
        raise InvalidInput("field `name`: must not be empty")
    return name
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_map_to_tool_errors_with_author_frames() {
    let root = tempfile::tempdir().unwrap();
    let helpers = "def div(a, b):\n    return a / b\n";
    let dir = write_skill(
        root.path(),
        "maths",
        &[("app.py", ERRORS), ("helpers.py", helpers)],
    );
    let skill = load(&dir, Grants::builder("skill maths").build()).await;
    let sandbox = sandbox();
    let err = sandbox
        .call_tool(&skill, "divide", r#"{"a":1,"b":0}"#)
        .await
        .unwrap_err();
    match &err {
        CallError::Tool(ToolError::Failed(text)) => {
            assert!(text.contains("ZeroDivisionError"), "{text}");
            assert!(text.contains("helpers.py:2"), "author frames: {text}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    let err = sandbox
        .call_tool(&skill, "picky", r#"{"name":""}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Tool(ToolError::InvalidInput(t)) if t.contains("must not be empty")),
        "{err:?}"
    );
    let err = sandbox
        .call_tool(&skill, "picky", r#"{}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Tool(ToolError::InvalidInput(_))),
        "a missing argument is invalid input: {err:?}"
    );
    let err = sandbox.call_tool(&skill, "nope", "{}").await.unwrap_err();
    assert!(
        matches!(&err, CallError::Tool(ToolError::NotFound(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_only_skill_runs_its_scripts() {
    let root = tempfile::tempdir().unwrap();
    let script = "import sys\ntext = sys.stdin.read()\nprint(len(text.split()), *sys.argv[1:])\n\
                  print('note', file=sys.stderr)\nsys.exit(3)\n";
    let dir = write_skill(root.path(), "counter", &[("scripts/wc.py", script)]);
    let skill = load(&dir, Grants::builder("skill counter").build()).await;
    assert!(skill.tools.is_empty(), "{:?}", skill.tools);
    let input = r#"{"script":"scripts/wc.py","args":["--x"],"stdin":"a b c"}"#;
    let out = sandbox()
        .call_tool(&skill, RUN_SCRIPT_TOOL, input)
        .await
        .unwrap();
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["exit_code"], 3, "{out}");
    assert_eq!(out["stdout"], "3 --x\n", "{out}");
    assert_eq!(out["stderr"], "note\n", "{out}");
}

fn registry(root: &Path) -> Arc<SkillRegistry> {
    python_interpreter();
    Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        vec![root.to_owned()],
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructions_only_skill_is_listed_with_no_tools() {
    let root = tempfile::tempdir().unwrap();
    write_skill(root.path(), "style-guide", &[("reference.md", "# Style\n")]);
    write_skill(root.path(), "greeter", &[("app.py", HELLO)]);
    let registry = registry(root.path());
    let snapshot = registry.load_all().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    assert!(snapshot.listed.contains_key("style-guide"));
    assert!(!snapshot.skills.contains_key("style-guide"));
    let tools: Vec<&String> = snapshot.tools.keys().collect();
    assert_eq!(tools, ["hello"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_app_py_under_concurrent_calls_never_fails_a_call() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "greeter", &[("app.py", HELLO)]);
    let registry = registry(root.path());
    let snapshot = registry.load_all().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
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
                match out.as_str() {
                    r#"{"greeting": "Hello, Ada!"}"# | r#"{"greeting":"Hello, Ada!"}"# => {}
                    r#"{"greeting": "Bonjour, Ada!"}"# | r#"{"greeting":"Bonjour, Ada!"}"# => {
                        news.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("neither old nor new: {other}"),
                }
            }
        }));
    }
    for round in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let text = if round % 2 == 0 {
            HELLO.replace("Hello", "Bonjour")
        } else {
            HELLO.to_owned()
        };
        std::fs::write(dir.join("app.py"), text).unwrap();
        let snapshot = registry.reload(&["greeter".to_owned()]).await;
        assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
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
    // After the last reload (Bonjour again), the next call serves it.
    let out = registry.call("hello", r#"{"name":"Ada"}"#).await.unwrap();
    assert!(out.contains("Bonjour"), "{out}");
}

struct NoEvents;

#[async_trait]
impl EventsBackend for NoEvents {
    async fn status(
        &self,
        _: molecule_runtime::bindings::imports::molecule::runtime::types::TaskState,
        _: Option<molecule_runtime::bindings::imports::molecule::runtime::types::Message>,
    ) -> Result<(), HostError> {
        Ok(())
    }
    async fn artifact(
        &self,
        _: molecule_runtime::bindings::imports::molecule::runtime::types::Artifact,
    ) -> Result<(), HostError> {
        Ok(())
    }
    async fn message(
        &self,
        _: molecule_runtime::bindings::imports::molecule::runtime::types::Message,
    ) -> Result<(), HostError> {
        Ok(())
    }
}

/// A tool that traps inside a task's tool call fails that call (the adapter sees an error
/// naming the crash); the registry logs a WARN naming the skill and the tool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_tool_fails_the_task_tool_call() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        "---\nname: hostile\ndescription: Attacks.\n---\n",
    )
    .unwrap();
    std::fs::write(dir.join("tool.wasm"), &*guest_wasm("tests/guests/hostile")).unwrap();
    let registry = Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        vec![root.path().to_owned()],
    ));
    let snapshot = registry.load_all().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    let tools = TaskTools::new(registry, Builtins::default(), Arc::new(NoEvents));
    for tool in ["trap", "panic"] {
        let err = tools.call(tool, "{}").await.unwrap_err();
        match err {
            ToolError::Failed(text) => assert!(text.contains("crashed"), "{tool}: {text}"),
            other => panic!("{tool}: expected failed, got {other:?}"),
        }
    }
}

const PLANTER: &str = r#"import os
from molecule_skill import tool

@tool
def plant() -> str:
    """Tries to leave files behind for later calls."""
    results = []
    for path in ("/pycache/evil.pyc", "/skill/evil.py"):
        try:
            with open(path, "w") as f:
                f.write("x")
            results.append(f"{path}: written")
        except OSError as err:
            results.append(f"{path}: {type(err).__name__}")
    return "; ".join(results)

@tool
def seen() -> list:
    """Lists the bytecode folder."""
    found = []
    for base, _dirs, files in os.walk("/pycache"):
        found += [os.path.join(base, f) for f in files]
    return sorted(found)
"#;

/// A tool call, whatever its input, cannot write bytecode (or anything) that later calls of
/// the skill would load: `/pycache` and `/skill` are read-only for calls; only the load's own
/// `describe` fills the bytecode folder from the skill's modules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_plant_files_for_later_calls() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "planter", &[("app.py", PLANTER)]);
    let skill = load(&dir, Grants::builder("skill planter").build()).await;
    let out = sandbox().call_tool(&skill, "plant", "{}").await.unwrap();
    assert!(!out.contains("written"), "{out}");
    let seen = sandbox().call_tool(&skill, "seen", "{}").await.unwrap();
    assert!(!seen.contains("evil"), "{seen}");
    assert!(
        seen.contains("app.cpython"),
        "describe wrote the bytecode: {seen}"
    );
}

const FETCHER: &str = r#"from molecule_skill import http, tool

@tool
def get(url: str) -> dict:
    """Fetches a URL."""
    response = http.get(url)
    return {"status": response.status, "body": response.text()}
"#;

/// Outgoing HTTP from Python goes through the same `wasi:http` egress as Rust skills: a
/// granted origin answers, anything else is `denied` before a connection is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_reaches_only_granted_origins() {
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
            let body = "hello from loopback";
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    let root = tempfile::tempdir().unwrap();
    let dir = write_skill(root.path(), "fetcher", &[("app.py", FETCHER)]);
    let origin = format!("http://127.0.0.1:{port}");
    let url = serde_json::json!({ "url": format!("{origin}/x") }).to_string();

    let granted = Grants::builder("skill fetcher")
        .http_hosts(std::slice::from_ref(&origin))
        .unwrap()
        .build();
    let skill = load(&dir, granted).await;
    let out = sandbox().call_tool(&skill, "get", &url).await.unwrap();
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"], "hello from loopback");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let skill = load(&dir, Grants::builder("skill fetcher").build()).await;
    let denied = sandbox().call_tool(&skill, "get", &url).await;
    assert!(
        matches!(denied, Err(CallError::Tool(ToolError::Denied(_)))),
        "{denied:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a denied request connected"
    );
    server.abort();
}
