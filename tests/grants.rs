//! The capability grant matrix, through the config policy a workspace uses: every capability a
//! skill requests is denied by default and works once config.yaml grants it; a secret reaches
//! only the skill granted it (as a placeholder unless exposed); outgoing HTTP reaches only granted origins, and a name that
//! resolves to loopback is refused unless that exact host is granted.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use molecule_config::{Env, WorkspaceConfig};
use molecule_egress::{EgressHooks, EgressPolicy, StaticResolver};
use molecule_runtime::bindings::ToolError;
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::component::SkillComponent;
use molecule_runtime::grants::Grants;
use molecule_runtime::sandbox::{CallError, Sandbox};
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::policy::ConfigPolicy;
use molecule_runtime::workspace::skills::GrantPolicy;
use molecule_tests::{guest_wasm, host};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A skill folder `<root>/<id>` with `capabilities` in its SKILL.md and `wasm` as tool.wasm.
fn skill_dir(root: &Path, id: &str, capabilities: &str, wasm: &[u8]) -> SkillDir {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let md = format!(
        "---\nname: {id}\ndescription: test skill\ncapabilities: {capabilities}\n---\nbody\n"
    );
    std::fs::write(dir.join("SKILL.md"), md).unwrap();
    std::fs::write(dir.join("tool.wasm"), wasm).unwrap();
    SkillDir::load(&dir).unwrap()
}

fn policy(config_dir: &Path, yaml: &str, values: &[(&str, &str)]) -> ConfigPolicy {
    let config = WorkspaceConfig::from_yaml_str(
        yaml,
        config_dir,
        &Env::from_pairs(Vec::<(String, String)>::new()),
    );
    let values: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let memory = Arc::new(SqliteMemory::in_memory().unwrap());
    ConfigPolicy::new(Arc::new(config), Some(memory), values)
}

async fn load(policy: &ConfigPolicy, dir: &SkillDir, wasm: &[u8]) -> (Sandbox, SkillComponent) {
    let host = host();
    let grants = policy.grants_for(dir).unwrap();
    let skill = host.load_skill(wasm, grants).await.unwrap();
    (Sandbox::new(host.engine().clone()), skill)
}

async fn call(
    sandbox: &Sandbox,
    skill: &SkillComponent,
    tool: &str,
    input: Value,
) -> Result<Value, CallError> {
    sandbox
        .call_tool(skill, tool, &input.to_string())
        .await
        .map(|out| serde_json::from_str(&out).unwrap())
}

#[tokio::test]
async fn env_and_secrets_reach_only_granted_skills() {
    let root = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("tests/guests/hostile");
    let caps = "{env: [GREETING], secrets: [API_TOKEN]}";
    let hostile = skill_dir(root.path(), "hostile", caps, &wasm);
    let other = skill_dir(root.path(), "other", caps, &wasm);
    let values = [("GREETING", "hello"), ("API_TOKEN", "tok-123")];

    // Nothing granted: the env var is absent, the secret denied with the key that grants it.
    let denied = policy(root.path(), "name: w\n", &values);
    let (sandbox, skill) = load(&denied, &hostile, &wasm).await;
    let env = call(&sandbox, &skill, "read_env", json!({"name": "GREETING"}))
        .await
        .unwrap();
    assert_eq!(env["var"], Value::Null);
    let secret = call(&sandbox, &skill, "use_config", json!({"key": "API_TOKEN"}))
        .await
        .unwrap();
    let text = secret["result"].as_str().unwrap();
    assert!(
        text.contains("Denied") && text.contains("grants.skills.hostile"),
        "{text}"
    );

    // Granted to `hostile` only.
    let yaml =
        "name: w\ngrants:\n  skills:\n    hostile: {env: [GREETING], secrets: [API_TOKEN]}\n";
    let granted = policy(root.path(), yaml, &values);
    let (sandbox, skill) = load(&granted, &hostile, &wasm).await;
    let env = call(&sandbox, &skill, "read_env", json!({"name": "GREETING"}))
        .await
        .unwrap();
    assert_eq!(env["var"], json!("hello"));
    assert_eq!(
        env["all"],
        json!({"GREETING": "hello"}),
        "only the granted variable"
    );
    let secret = call(&sandbox, &skill, "use_config", json!({"key": "API_TOKEN"}))
        .await
        .unwrap();
    let held = secret["result"].as_str().unwrap();
    assert!(
        held.starts_with("molecule-secret-API_TOKEN-") && !held.contains("tok-123"),
        "the list form grants a placeholder: {secret}"
    );
    // Only `expose: true` hands the value itself to the skill.
    let yaml = "name: w\ngrants:\n  skills:\n    hostile: {env: [GREETING], secrets: {API_TOKEN: \
                {expose: true}}}\n";
    let (sandbox, skill) = load(&policy(root.path(), yaml, &values), &hostile, &wasm).await;
    let secret = call(&sandbox, &skill, "use_config", json!({"key": "API_TOKEN"}))
        .await
        .unwrap();
    assert_eq!(secret["result"], "tok-123");

    let (sandbox, skill) = load(&granted, &other, &wasm).await;
    let secret = call(&sandbox, &skill, "use_config", json!({"key": "API_TOKEN"}))
        .await
        .unwrap();
    assert!(
        !secret.to_string().contains("tok-123"),
        "another skill never sees it: {secret}"
    );
}

/// A secret whose mapping-form entry is mis-typed is an error and not granted, but its name
/// stays a secret's name: the same name granted as an env var does not hand the skill the
/// value (which no egress layer would then redact).
#[tokio::test]
async fn a_mistyped_secret_entry_keeps_its_value_out_of_env() {
    let root = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("tests/guests/hostile");
    let hostile = skill_dir(root.path(), "hostile", "{env: [API_TOKEN]}", &wasm);
    let values = [("API_TOKEN", "tok-1234567890")];
    let read = |yaml: &str| policy(root.path(), yaml, &values);
    // Control: a plain env grant of a name that is no secret passes the value.
    let plain = read_env(
        &read("grants:\n  skills:\n    hostile: {env: [API_TOKEN]}\n"),
        &hostile,
        &wasm,
    )
    .await;
    assert_eq!(plain["var"], json!("tok-1234567890"), "{plain}");
    for entry in [
        "{hosts: [\"https://a.example\"], body: yes}",
        "{hosts: []}",
        "{expose: \"true\"}",
        "~",
    ] {
        let yaml = format!(
            "grants:\n  skills:\n    hostile: {{env: [API_TOKEN], hosts:              [\"https://a.example\"], secrets: {{API_TOKEN: {entry}}}}}\n"
        );
        let got = read_env(&read(&yaml), &hostile, &wasm).await;
        assert_eq!(got["var"], Value::Null, "{entry}: {got}");
        assert!(
            !got.to_string().contains("tok-1234567890"),
            "{entry}: {got}"
        );
    }
}

/// The `read_env` answer of the hostile guest for `API_TOKEN` under `policy`.
async fn read_env(policy: &ConfigPolicy, dir: &SkillDir, wasm: &[u8]) -> Value {
    let (sandbox, skill) = load(policy, dir, wasm).await;
    call(&sandbox, &skill, "read_env", json!({"name": "API_TOKEN"}))
        .await
        .unwrap()
}

#[tokio::test]
async fn memory_interface_needs_a_grant() {
    let root = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("demo/skills/notes");
    let notes = skill_dir(root.path(), "notes", "{interfaces: [memory]}", &wasm);
    let (sandbox, skill) = load(&policy(root.path(), "name: w\n", &[]), &notes, &wasm).await;
    match call(&sandbox, &skill, "add_note", json!({"text": "x"})).await {
        Err(CallError::Tool(ToolError::Denied(msg))) => {
            assert!(
                msg.contains("memory") && msg.contains("grants.skills.notes"),
                "{msg}"
            )
        }
        other => panic!("expected denied, got {other:?}"),
    }
    let yaml = "grants:\n  skills:\n    notes: {interfaces: [memory]}\n";
    let (sandbox, skill) = load(&policy(root.path(), yaml, &[]), &notes, &wasm).await;
    call(&sandbox, &skill, "add_note", json!({"text": "granted now"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn directories_are_visible_only_when_granted() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("data")).unwrap();
    std::fs::write(
        root.path().join("data/notes.txt"),
        "the invoice is due friday\n",
    )
    .unwrap();
    let wasm = guest_wasm("skills-examples/file-search");
    let caps = "{dirs: [{path: ./data, mode: ro}]}";
    let fs = skill_dir(root.path(), "file-search", caps, &wasm);

    let (sandbox, skill) = load(&policy(root.path(), "name: w\n", &[]), &fs, &wasm).await;
    let denied = call(&sandbox, &skill, "search", json!({"query": "invoice"})).await;
    assert!(denied.is_err(), "no /data without a grant: {denied:?}");

    let yaml = "grants:\n  skills:\n    file-search: {dirs: [{path: ./data, mode: ro}]}\n";
    let (sandbox, skill) = load(&policy(root.path(), yaml, &[]), &fs, &wasm).await;
    let found = call(&sandbox, &skill, "search", json!({"query": "invoice"}))
        .await
        .unwrap();
    assert!(found.to_string().contains("due friday"), "{found}");
}

/// A one-shot HTTP server on 127.0.0.1 answering every request with `body`.
async fn loopback_server(body: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (port, task)
}

#[tokio::test]
async fn outgoing_http_reaches_only_granted_origins() {
    let (port, server) = loopback_server("hello from loopback").await;
    let root = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("skills-examples/web-fetch");
    let origin = format!("http://127.0.0.1:{port}");
    let caps = format!("{{hosts: [\"{origin}\", \"http://localhost:{port}\"]}}");
    let fetcher = skill_dir(root.path(), "web-fetch", &caps, &wasm);

    let none = policy(root.path(), "name: w\n", &[]);
    let (sandbox, skill) = load(&none, &fetcher, &wasm).await;
    let denied = call(
        &sandbox,
        &skill,
        "fetch",
        json!({"url": format!("{origin}/")}),
    )
    .await;
    assert!(
        matches!(denied, Err(CallError::Tool(ToolError::Denied(_)))),
        "{denied:?}"
    );

    let yaml = format!("grants:\n  skills:\n    web-fetch: {{hosts: [\"{origin}\"]}}\n");
    let (sandbox, skill) = load(&policy(root.path(), &yaml, &[]), &fetcher, &wasm).await;
    let ok = call(
        &sandbox,
        &skill,
        "fetch",
        json!({"url": format!("{origin}/x")}),
    )
    .await
    .unwrap();
    assert_eq!(ok["status"], 200);
    assert!(
        ok["body"].as_str().unwrap().contains("hello from loopback"),
        "{ok}"
    );
    // `localhost` resolves to 127.0.0.1 but was not granted: refused.
    let by_name = call(
        &sandbox,
        &skill,
        "fetch",
        json!({"url": format!("http://localhost:{port}/")}),
    )
    .await;
    assert!(
        matches!(by_name, Err(CallError::Tool(ToolError::Denied(_)))),
        "{by_name:?}"
    );
    server.abort();
}

#[tokio::test]
async fn a_name_rebound_to_loopback_is_refused_unless_granted_exactly() {
    let (port, server) = loopback_server("internal").await;
    let wasm = guest_wasm("skills-examples/web-fetch");
    let resolver =
        Arc::new(StaticResolver::new().with("api.example.test", &["127.0.0.1".parse().unwrap()]));
    let host = host();
    let sandbox = Sandbox::new(host.engine().clone());
    let url = format!("http://api.example.test:{port}/");

    // Granted by wildcard: the name matches, but it resolves to loopback → refused.
    let wildcard = EgressPolicy::new(
        "skill web-fetch",
        &[format!("http://*.example.test:{port}")],
    )
    .unwrap();
    let grants = Grants::builder("skill web-fetch")
        .egress(EgressHooks::with_resolver(wildcard, resolver.clone()).unwrap())
        .build();
    let skill = host.load_skill(&wasm, grants).await.unwrap();
    let refused = call(&sandbox, &skill, "fetch", json!({"url": url})).await;
    assert!(
        matches!(refused, Err(CallError::Tool(ToolError::Denied(_)))),
        "{refused:?}"
    );

    // Granted exactly: the operator vouched for this host.
    let exact = EgressPolicy::new(
        "skill web-fetch",
        &[format!("http://api.example.test:{port}")],
    )
    .unwrap();
    let grants = Grants::builder("skill web-fetch")
        .egress(EgressHooks::with_resolver(exact, resolver).unwrap())
        .build();
    let skill = host.load_skill(&wasm, grants).await.unwrap();
    let ok = call(&sandbox, &skill, "fetch", json!({"url": url}))
        .await
        .unwrap();
    assert!(ok["body"].as_str().unwrap().contains("internal"), "{ok}");
    server.abort();
}

/// Egress denials name the config key that grants hosts to this skill, not its log label.
#[tokio::test]
async fn egress_denials_name_the_skills_hosts_key() {
    let root = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("skills-examples/web-fetch");
    let caps = "{hosts: [\"https://api.example.test\"]}";
    let fetcher = skill_dir(root.path(), "web-fetch", caps, &wasm);
    for yaml in [
        "name: w\n",
        "grants:\n  skills:\n    web-fetch: {hosts: [\"https://api.example.test\"]}\n",
    ] {
        let grants = policy(root.path(), yaml, &[]).grants_for(&fetcher).unwrap();
        assert_eq!(
            grants.hosts_key(),
            Some("grants.skills.web-fetch.hosts"),
            "{yaml}"
        );
    }
}

/// Smoke mode: a granted origin is still never contacted — the request fails at once with
/// "offline in smoke mode", and the server sees no connection.
#[tokio::test]
async fn offline_policy_never_connects_even_to_granted_origins() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let root = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("skills-examples/web-fetch");
    let origin = format!("http://127.0.0.1:{port}");
    let caps = format!("{{hosts: [\"{origin}\"]}}");
    let fetcher = skill_dir(root.path(), "web-fetch", &caps, &wasm);
    let yaml = format!("grants:\n  skills:\n    web-fetch: {{hosts: [\"{origin}\"]}}\n");
    let offline = policy(root.path(), &yaml, &[]).offline("offline in smoke mode: test");
    let (sandbox, skill) = load(&offline, &fetcher, &wasm).await;
    let result = call(
        &sandbox,
        &skill,
        "fetch",
        json!({"url": format!("{origin}/")}),
    )
    .await;
    let text = format!("{result:?}");
    assert!(result.is_err(), "{text}");
    assert!(text.contains("offline in smoke mode"), "{text}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    server.abort();
}
