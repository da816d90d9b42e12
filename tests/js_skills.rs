//! JavaScript skills on the shared engine component (QuickJS), with real components: a call
//! and its schema, modern JavaScript, grants and denials, error mapping with the author's
//! frames, load failures that name the file, and hot reload under concurrent calls. The
//! sandbox side (hostile code, HTTP, bytecode, the workspace policy) is in `js_sandbox.rs`.
//!
//! The engine is built once per source version into the shared test cache (needs clang,
//! llvm-ar and wasi-libc the first time: `dev/setup`; about a minute), then only loaded.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::grants::Grants;
use molecule_runtime::sandbox::CallError;
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_tests::{host, js_builder};
use serde_json::json;

#[allow(dead_code)]
#[path = "js_common.rs"]
mod common;
use common::{load, parse, sandbox, try_load, write_skill, HELLO};

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
