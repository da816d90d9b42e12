//! The sandbox with real components built from source: a tool round trip, denied imports,
//! and a hostile guest whose every attack ends as a clean error within its limit while the
//! host keeps serving other calls.

use std::sync::Arc;
use std::time::Duration;

use molecule_runtime::bindings::ToolError;
use molecule_runtime::cache::{CacheOutcome, CompiledCache};
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::grants::{Grants, GrantsBuilder};
use molecule_runtime::limits::{LimitHit, SandboxLimits};
use molecule_runtime::sandbox::{CallError, Sandbox};
use molecule_tests::{guest_wasm, host};
use serde_json::{json, Value};

const HOSTILE: &str = "tests/guests/hostile";
const JSON_QUERY: &str = "demo/skills/json-query";
const NOTES: &str = "demo/skills/notes";

fn tight_limits() -> SandboxLimits {
    SandboxLimits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(2),
        max_output_bytes: 1 << 20,
        ..SandboxLimits::default()
    }
}

async fn load(host: &ComponentHost, rel: &str, grants: GrantsBuilder) -> SkillComponent {
    host.load_skill(&guest_wasm(rel), grants.build())
        .await
        .unwrap_or_else(|e| panic!("loading {rel}: {e:#}"))
}

async fn call(
    host: &ComponentHost,
    skill: &SkillComponent,
    tool: &str,
    input: Value,
) -> Result<Value, CallError> {
    Sandbox::new(host.engine().clone())
        .call_tool(skill, tool, &input.to_string())
        .await
        .map(|out| serde_json::from_str(&out).expect("sandbox returns JSON"))
}

/// Numbers of any size or precision come back from json-query exactly as written: the guest
/// cuts its answer out of the input text and the sandbox returns the guest's JSON text as is.
#[tokio::test]
async fn json_query_keeps_numbers_exact() {
    let host = host();
    let skill = load(&host, JSON_QUERY, Grants::builder("skill json-query")).await;
    let sandbox = Sandbox::new(host.engine().clone());
    for number in [
        "123456789012345678901234567890",
        "-98765432109876543210987654321098765432",
        "0.1000000000000000055511151231257827",
        "6.02214076e-23",
        "-2.5E-7",
        "1e-400",
        "2.50",
    ] {
        let input = format!(r#"{{"json":{{"n":{number},"m":[{number}]}},"pointer":"/n"}}"#);
        let out = sandbox
            .call_tool(&skill, "query", &input)
            .await
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(out, number, "input {input}");
        let input = format!(r#"{{"json":{{"n":{number},"m":[{number}]}},"pointer":""}}"#);
        let out = sandbox.call_tool(&skill, "query", &input).await.unwrap();
        assert_eq!(out, format!(r#"{{"n":{number},"m":[{number}]}}"#));
    }
}

#[tokio::test]
async fn json_query_round_trip() {
    let host = host();
    let skill = load(&host, JSON_QUERY, Grants::builder("skill json-query")).await;
    assert_eq!(skill.tools.len(), 1);
    assert_eq!(skill.tools[0].name, "query");
    let schema: Value = serde_json::from_str(&skill.tools[0].input_schema).unwrap();
    assert_eq!(schema["type"], "object");

    let out = call(
        &host,
        &skill,
        "query",
        json!({"json": {"a": [1, 2]}, "pointer": "/a/1"}),
    )
    .await;
    assert_eq!(out.unwrap(), json!(2));
    let out = call(
        &host,
        &skill,
        "query",
        json!({"json": {"a": {"b": "c"}}, "pointer": ""}),
    )
    .await;
    assert_eq!(out.unwrap(), json!({"a": {"b": "c"}}));

    match call(
        &host,
        &skill,
        "query",
        json!({"json": {}, "pointer": "a/1"}),
    )
    .await
    {
        Err(CallError::Tool(ToolError::InvalidInput(msg))) => assert!(msg.contains('/'), "{msg}"),
        other => panic!("expected invalid-input, got {other:?}"),
    }
    match call(&host, &skill, "query", json!({"pointer": "/a"})).await {
        Err(CallError::Tool(ToolError::InvalidInput(msg))) => {
            assert!(msg.contains("json"), "{msg}")
        }
        other => panic!("expected invalid-input naming `json`, got {other:?}"),
    }
    match call(&host, &skill, "nope", json!({})).await {
        Err(CallError::Tool(ToolError::NotFound(_))) => {}
        other => panic!("expected not-found, got {other:?}"),
    }
    let bad = Sandbox::new(host.engine().clone())
        .call_tool(&skill, "query", "{not json")
        .await;
    assert!(matches!(bad, Err(CallError::InvalidInput(_))), "{bad:?}");
}

#[tokio::test]
async fn ungranted_imports_answer_denied_and_grants_open_them() {
    let host = host();
    let bare = load(&host, HOSTILE, Grants::builder("skill hostile")).await;
    for tool in ["use_memory", "use_llm"] {
        let out = call(&host, &bare, tool, json!({})).await.unwrap();
        let text = out["result"].as_str().unwrap().to_ascii_lowercase();
        assert!(text.contains("denied"), "{tool}: {out}");
        assert!(
            text.contains("skill hostile"),
            "{tool} names the component: {out}"
        );
    }
    let out = call(&host, &bare, "use_config", json!({"key": "API_BASE"}))
        .await
        .unwrap();
    assert!(
        out["result"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("denied"),
        "{out}"
    );

    let granted = Grants::builder("skill hostile")
        .memory(Arc::new(SqliteMemory::in_memory().unwrap()))
        .config("API_BASE", Some("https://example.test".into()));
    let skill = load(&host, HOSTILE, granted).await;
    let out = call(&host, &skill, "use_memory", json!({})).await.unwrap();
    assert!(out["result"].as_str().unwrap().contains("mem-"), "{out}");
    let out = call(&host, &skill, "use_config", json!({"key": "API_BASE"}))
        .await
        .unwrap();
    assert!(
        out["result"]
            .as_str()
            .unwrap()
            .contains("https://example.test"),
        "{out}"
    );
    let out = call(&host, &skill, "use_config", json!({"key": "OTHER"}))
        .await
        .unwrap();
    assert!(
        out["result"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("denied"),
        "{out}"
    );
}

#[tokio::test]
async fn notes_round_trip_through_memory() {
    let host = host();
    let memory = Arc::new(SqliteMemory::in_memory().unwrap());
    let skill = load(&host, NOTES, Grants::builder("skill notes").memory(memory)).await;
    call(
        &host,
        &skill,
        "add_note",
        json!({"text": "the staging database is on port 5433"}),
    )
    .await
    .unwrap();
    call(
        &host,
        &skill,
        "add_note",
        json!({"text": "lunch at noon", "scope": "team"}),
    )
    .await
    .unwrap();
    let found = call(
        &host,
        &skill,
        "find_notes",
        json!({"query": "staging database"}),
    )
    .await
    .unwrap();
    assert!(found.to_string().contains("port 5433"), "{found}");
    assert!(!found.to_string().contains("lunch"), "{found}");

    let denied = load(&host, NOTES, Grants::builder("skill notes")).await;
    match call(&host, &denied, "add_note", json!({"text": "x"})).await {
        Err(CallError::Tool(ToolError::Denied(msg))) => assert!(msg.contains("memory"), "{msg}"),
        other => panic!("expected denied, got {other:?}"),
    }
}

#[tokio::test]
async fn hostile_guests_end_in_clean_errors() {
    let host = host();
    let skill = load(
        &host,
        HOSTILE,
        Grants::builder("skill hostile").limits(tight_limits()),
    )
    .await;

    match call(&host, &skill, "spin", json!({})).await {
        Err(CallError::Limit(LimitHit::Time { limit })) => {
            assert_eq!(limit, Duration::from_secs(2))
        }
        other => panic!("spin: expected time limit, got {other:?}"),
    }
    match call(&host, &skill, "alloc_bomb", json!({})).await {
        Err(CallError::Limit(LimitHit::Memory { limit, .. })) => assert_eq!(limit, 64 << 20),
        other => panic!("alloc_bomb: expected memory limit, got {other:?}"),
    }
    // Rust keeps most frames on a shadow stack in linear memory: overflowing it runs off the
    // bottom of memory. Frames that stay on the wasm stack hit the engine's stack limit.
    match call(&host, &skill, "recurse", json!({"mode": "shadow"})).await {
        Err(CallError::Trap { reason, .. }) => {
            assert!(reason.contains("out of bounds"), "{reason}")
        }
        other => panic!("recurse (shadow): expected out-of-bounds trap, got {other:?}"),
    }
    match call(&host, &skill, "recurse", json!({"mode": "native"})).await {
        Err(CallError::Trap { reason, .. }) => assert!(reason.contains("stack"), "{reason}"),
        other => panic!("recurse (native): expected stack exhaustion, got {other:?}"),
    }
    match call(&host, &skill, "panic", json!({})).await {
        Err(CallError::Trap { stderr, .. }) => {
            assert!(stderr.contains("hostile panic"), "{stderr}")
        }
        other => panic!("panic: expected trap carrying the panic message, got {other:?}"),
    }
    match call(&host, &skill, "trap", json!({})).await {
        Err(CallError::Trap { reason, .. }) => assert!(reason.contains("unreachable"), "{reason}"),
        other => panic!("trap: expected unreachable trap, got {other:?}"),
    }
    match call(&host, &skill, "big_output", json!({"mib": 4})).await {
        Err(CallError::OutputTooLarge { limit, bytes }) => {
            assert_eq!(limit, 1 << 20);
            assert!(bytes >= 4 << 20);
        }
        other => panic!("big_output: expected output limit, got {other:?}"),
    }
    // After all of that the same component still serves.
    assert_eq!(
        call(&host, &skill, "echo", json!({"value": [1, "two"]}))
            .await
            .unwrap(),
        json!([1, "two"])
    );
}

/// Instances come from a pool and their memory is reset by the pages the guest dirtied: what
/// one call leaves on its stack and heap (inside and past its initial memory) must be gone
/// for every later call, including calls running on a recycled slot many times over.
#[tokio::test]
async fn no_call_sees_what_an_earlier_call_left_in_memory() {
    let host = host();
    let skill = load(&host, HOSTILE, Grants::builder("skill hostile")).await;
    let marker = "molecule-residue-7f3a9c";
    for kib in [0, 64, 4096, 16] {
        for _ in 0..3 {
            let out = call(
                &host,
                &skill,
                "residue",
                json!({"marker": marker, "kib": kib}),
            )
            .await
            .expect("residue call");
            assert_eq!(out["found"], 0, "after a call that left {kib} KiB: {out}");
            assert!(
                out["after"].as_u64() > Some(kib as u64),
                "the scan sees its own writes: {out}"
            );
        }
    }
}

#[tokio::test]
async fn guests_see_no_host_env_files_or_args() {
    let secret_name = "MOLECULE_SANDBOX_TEST_SECRET";
    let host = host();
    let skill = load(&host, HOSTILE, Grants::builder("skill hostile")).await;
    assert!(std::env::var("HOME").is_ok() || std::env::var("PATH").is_ok());

    let env = call(&host, &skill, "read_env", json!({"name": "PATH"}))
        .await
        .unwrap();
    assert_eq!(env["var"], Value::Null, "{env}");
    assert_eq!(env["all"], json!({}), "{env}");
    assert!(env["args"].as_array().is_none_or(|a| a.is_empty()), "{env}");
    let env = call(&host, &skill, "read_env", json!({"name": secret_name}))
        .await
        .unwrap();
    assert_eq!(env["var"], Value::Null);

    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    for path in ["/etc/passwd", manifest, "Cargo.toml"] {
        let out = call(&host, &skill, "read_file", json!({"path": path}))
            .await
            .unwrap();
        assert_eq!(out["ok"], json!(false), "{path}: {out}");
    }
    let out = call(&host, &skill, "list_dir", json!({"path": "/"}))
        .await
        .unwrap();
    assert_eq!(out["ok"], json!(false), "{out}");

    let granted = Grants::builder("skill hostile").env("GREETING", "hello");
    let skill = load(&host, HOSTILE, granted).await;
    let env = call(&host, &skill, "read_env", json!({"name": "GREETING"}))
        .await
        .unwrap();
    assert_eq!(env["var"], json!("hello"));
    assert_eq!(env["all"], json!({"GREETING": "hello"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_keeps_serving_while_hostile_calls_run() {
    let host = Arc::new(host());
    let limits = SandboxLimits {
        timeout: Duration::from_secs(4),
        ..tight_limits()
    };
    let hostile = Arc::new(
        load(
            &host,
            HOSTILE,
            Grants::builder("skill hostile").limits(limits),
        )
        .await,
    );
    let query = load(&host, JSON_QUERY, Grants::builder("skill json-query")).await;

    let mut attacks = Vec::new();
    for tool in ["spin", "spin", "alloc_bomb", "recurse", "sleep_ms"] {
        let (host, hostile) = (host.clone(), hostile.clone());
        attacks.push(tokio::spawn(async move {
            let input = json!({"ms": 60_000});
            (tool, call(&host, &hostile, tool, input).await)
        }));
    }
    for i in 0..50 {
        let out = call(
            &host,
            &query,
            "query",
            json!({"json": {"i": i}, "pointer": "/i"}),
        )
        .await;
        assert_eq!(out.unwrap(), json!(i));
    }
    let spinners_still_running = attacks[..2].iter().all(|h| !h.is_finished());
    for attack in attacks {
        let (tool, result) = attack.await.unwrap();
        assert!(result.is_err(), "{tool} must fail cleanly");
        if tool == "spin" || tool == "sleep_ms" {
            assert!(
                matches!(result, Err(CallError::Limit(LimitHit::Time { .. }))),
                "{tool}: {result:?}"
            );
        }
    }
    assert!(
        spinners_still_running,
        "the 50 calls were served while the spinners ran"
    );
}

#[tokio::test]
async fn compiled_code_is_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = guest_wasm(JSON_QUERY);
    let first = molecule_tests::host_with(Default::default());
    let cache = CompiledCache::new(dir.path());
    let (_, outcome) = cache
        .load(first.engine().engine(), &wasm, "json-query")
        .unwrap();
    assert_eq!(outcome, CacheOutcome::Compiled);
    let second = molecule_tests::host_with(Default::default());
    let (_, outcome) = cache
        .load(second.engine().engine(), &wasm, "json-query")
        .unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
    let err = cache
        .load(second.engine().engine(), b"not wasm", "junk.wasm")
        .unwrap_err();
    assert!(format!("{err:#}").contains("junk.wasm"), "{err:#}");
}
