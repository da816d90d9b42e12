//! A new user's first run: the Agent Card keeps every skill whose `SKILL.md` reads when
//! components fail; unusable entries of `skills/` (broken links, folders without `SKILL.md`)
//! are named; a workspace whose adapter never calls a model needs none, and one whose adapter
//! does names the missing setting; `new workspace` and `new skill` write folders that work
//! wherever they are; the demo holds no links out of its folder.

use std::path::Path;

use molecule_llm::Credentials;
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::scaffold::{guest_sdk, new_skill, new_workspace, SkillLang};
use molecule_runtime::workspace::boot::RunningWorkspace;
use molecule_tests::{boot_with_gateway, copy_crate, host, repo_root, test_cache_dir};
use serde_json::{json, Value};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn skill_md(id: &str) -> String {
    format!("---\nname: {id}\ndescription: The {id} skill.\n---\nbody\n")
}

async fn card(ws: &RunningWorkspace) -> Value {
    reqwest::get(format!("http://{}/.well-known/agent-card.json", ws.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn card_skill_ids(card: &Value) -> Vec<String> {
    card["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// SendMessage with `text`, blocking; returns the result.
async fn send(ws: &RunningWorkspace, text: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}]}}});
    let reply: Value = reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_lists_every_skill_whose_skill_md_reads() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    copy_crate("demo/skills/json-query", &skills.join("json-query"));
    write(
        &skills.join("no-component/SKILL.md"),
        &skill_md("no-component"),
    );
    write(
        &skills.join("broken-crate/SKILL.md"),
        &skill_md("broken-crate"),
    );
    write(&skills.join("broken-crate/Cargo.toml"), "[package\nname = ");
    // The adapter does not build either: the workspace is not configured.
    write(&dir.path().join("adapter/Cargo.toml"), "[package\n");
    std::os::unix::fs::symlink("../../nowhere", skills.join("gone")).unwrap();
    std::fs::create_dir_all(skills.join("not-a-skill")).unwrap();

    let yaml = "name: Broken\nruntime: ./adapter\nmodel: scripted:demo\n";
    let ws = boot_with_gateway(dir.path(), yaml, &[], true, |p| {
        p.gateway(Credentials::default())
    })
    .await;
    assert!(ws.not_configured.is_some());
    assert_eq!(
        card_skill_ids(&card(&ws).await),
        ["broken-crate", "json-query", "no-component"]
    );
    let snapshot = ws.skills.snapshot();
    assert!(snapshot.skills.contains_key("json-query"));
    let problem = |id: &str| snapshot.problems.get(id).cloned().unwrap_or_default();
    // Instructions only (SKILL.md, no component): listed, with no tools and no problem.
    assert!(
        !snapshot.problems.contains_key("no-component"),
        "{:?}",
        snapshot.problems
    );
    assert!(snapshot.listed.contains_key("no-component"));
    assert!(!snapshot.tools.values().any(|id| id == "no-component"));
    assert!(problem("broken-crate").contains("Cargo.toml"));
    assert!(
        problem("gone").contains("is a link to ../../nowhere"),
        "{}",
        problem("gone")
    );
    assert!(
        problem("not-a-skill").contains("has no SKILL.md"),
        "{}",
        problem("not-a-skill")
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_that_never_calls_a_model_needs_none() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo_root().join("tests/guests/smoke-adapter");
    // No `model:`: the default Anthropic model, and no ANTHROPIC_API_KEY.
    let yaml = format!("name: Events\nruntime: {}\n", adapter.display());
    let ws = boot_with_gateway(dir.path(), &yaml, &[], true, |p| {
        let gateway = p.gateway(Credentials::default());
        assert!(
            gateway.is_err(),
            "the test needs a workspace without a model"
        );
        gateway
    })
    .await;
    assert_eq!(ws.not_configured, None);
    let result = send(&ws, "hello").await;
    assert_eq!(
        result["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{result}"
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_calling_adapter_without_a_model_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!("name: Echo\nruntime: {}\n", adapter.display());
    let ws = boot_with_gateway(dir.path(), &yaml, &[], true, |p| {
        p.gateway(Credentials::default())
    })
    .await;
    let reason = ws.not_configured.clone().expect("not configured");
    assert!(reason.contains("ANTHROPIC_API_KEY"), "{reason}");
    assert!(reason.contains("set `model` in"), "{reason}");
    assert!(reason.contains("config.yaml"), "{reason}");
    assert!(
        reason.contains("imports `molecule:runtime/llm`"),
        "{reason}"
    );
    ws.shutdown().await.unwrap();
}

#[test]
fn the_demo_holds_no_links() {
    fn walk(dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            assert!(!kind.is_symlink(), "{} is a link", entry.path().display());
            if kind.is_dir() {
                walk(&entry.path());
            }
        }
    }
    walk(&repo_root().join("demo"));
}

/// `new workspace` in a folder far from the repository boots with both skills on its card,
/// and the offline model's tool call runs json-query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_workspace_boots_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = dir.path().join("my-workspace");
    new_workspace(&ws_dir, &guest_sdk(None).unwrap()).unwrap();
    let yaml = std::fs::read_to_string(ws_dir.join("config.yaml")).unwrap();
    let ws = boot_with_gateway(&ws_dir, &yaml, &[], true, |p| {
        p.gateway(Credentials::default())
    })
    .await;
    assert_eq!(ws.not_configured, None);
    assert_eq!(card_skill_ids(&card(&ws).await), ["json-query", "notes"]);
    assert_eq!(ws.skills.snapshot().skills.len(), 2);
    let result = send(&ws, "who is the team lead?").await;
    assert!(
        result.to_string().contains("The team lead is Ada"),
        "{result}"
    );
    ws.shutdown().await.unwrap();
}

/// `new skill` writes a crate whose `hello` tool answers `{"greeting": …}`.
#[tokio::test]
async fn a_new_rust_skill_says_hello() {
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("greeter");
    new_skill(&skill, SkillLang::Rust, &guest_sdk(None).unwrap()).unwrap();
    let built = ComponentBuilder::new(&test_cache_dir())
        .build(&skill)
        .unwrap();
    let wasm = std::fs::read(&built.wasm).unwrap();
    let host = host();
    let grants = molecule_runtime::grants::Grants::builder("skill greeter").build();
    let component = host.load_skill(&wasm, grants).await.unwrap();
    assert_eq!(component.tools[0].name, "hello");
    let sandbox = molecule_runtime::sandbox::Sandbox::new(host.engine().clone());
    let out = sandbox
        .call_tool(&component, "hello", r#"{"name":"Ada"}"#)
        .await
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out, json!({"greeting": "Hello, Ada!"}));
    let md = std::fs::read_to_string(skill.join("SKILL.md")).unwrap();
    assert!(md.contains("name: greeter"), "{md}");
}
