//! Workspaces joined to a (fake) Molecule platform that speaks the contract and records every
//! call: registration with the card, authenticated heartbeats, memory through the platform with
//! secrets redacted, delegation end to end between two real workspaces over HTTP, and a
//! coordinator refused work tools.

use std::time::{Duration, Instant};

use molecule_platform::fake::FakePlatform;
use molecule_tests::{boot_config_env, repo_root};
use serde_json::{json, Value};

fn echo_yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!("name: {name}\nruntime: {}\nmodel: scripted:demo\nobservability: {{heartbeat_interval_seconds: 5}}\n", adapter.display())
}

/// SendMessage with the inbound secret the platform gave workspace `id` (A2A calls without
/// it are refused once the workspace has registered).
async fn ask_as(platform: &FakePlatform, id: &str, base: &str, text: &str) -> String {
    ask(base, text, platform.inbound_secret_of(id).as_deref()).await
}

async fn ask(base: &str, text: &str, bearer: Option<&str>) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
        "message": {"messageId": format!("m-{}", Instant::now().elapsed().as_nanos()),
                    "role": "ROLE_USER", "parts": [{"text": text}]}}});
    let mut request = reqwest::Client::new()
        .post(format!("{base}/"))
        .header("A2A-Version", "1.0")
        .json(&body);
    if let Some(secret) = bearer {
        request = request.bearer_auth(secret);
    }
    let reply: Value = request.send().await.unwrap().json().await.unwrap();
    reply["result"]["task"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(50));
    molecule_tests::wait_until(what, within, every, done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_heartbeats_and_keeps_memory_on_the_platform() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-a")];
    let yaml = format!("{}initial_prompt: hello on boot\n", echo_yaml("Alpha"));
    let ws = boot_config_env(dir.path(), &yaml, &env, true).await;
    let base = format!("http://{}", ws.addr);

    wait_for("registration", || {
        !platform.calls_to("POST", "/registry/register").is_empty()
    })
    .await;
    let register = &platform.calls_to("POST", "/registry/register")[0];
    assert_eq!(register.body["id"], "ws-a");
    assert_eq!(register.body["agent_card"]["name"], "Alpha");
    assert_eq!(register.body["agent_card"]["configuration_status"], "ready");
    assert!(register.body["url"]
        .as_str()
        .unwrap()
        .contains(&ws.addr.port().to_string()));
    wait_for("a heartbeat", || {
        !platform.calls_to("POST", "/registry/heartbeat").is_empty()
    })
    .await;
    let token = platform.token_of("ws-a").expect("a token was minted");
    for call in platform
        .calls()
        .iter()
        .filter(|c| c.path != "/registry/register")
    {
        assert_eq!(
            call.bearer(),
            Some(token.as_str()),
            "auth on {} {}",
            call.method,
            call.path
        );
        assert_eq!(call.header("x-workspace-id"), Some("ws-a"), "{}", call.path);
    }
    let saved = std::fs::read_to_string(dir.path().join(".molecule/.auth_token")).unwrap();
    assert_eq!(saved.trim(), token);
    // The initial prompt went once through the platform's proxy to the workspace itself.
    wait_for("the initial prompt", || {
        !platform.calls_to("POST", "/workspaces/ws-a/a2a").is_empty()
    })
    .await;
    assert!(dir.path().join(".molecule/.initial_prompt_done").is_file());

    let out = ask_as(
        &platform,
        "ws-a",
        &base,
        r#"tool commit_memory {"content":"deploy key is sk-live-abcdef1234567890","scope":"TEAM"}"#,
    )
    .await;
    assert!(out.contains("\"scope\":\"TEAM\""), "{out}");
    let memories = platform.memories();
    let stored = memories[0]["content"].as_str().unwrap();
    assert!(
        stored.contains("[REDACTED]") && !stored.contains("sk-live"),
        "{stored}"
    );
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegation_between_two_workspaces_and_coordinator_refusal() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let (dir_p, dir_c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let child = boot_config_env(
        dir_c.path(),
        &echo_yaml("Child"),
        &[("PLATFORM_URL", &url), ("WORKSPACE_ID", "ws-c")],
        true,
    )
    .await;
    wait_for("child registration", || platform.token_of("ws-c").is_some()).await;
    let parent = boot_config_env(
        dir_p.path(),
        &echo_yaml("Parent"),
        &[("PLATFORM_URL", &url), ("WORKSPACE_ID", "ws-p")],
        true,
    )
    .await;
    wait_for("parent registration", || {
        platform.token_of("ws-p").is_some()
    })
    .await;
    let base = format!("http://{}", parent.addr);

    let started = Instant::now();
    let out = ask_as(
        &platform,
        "ws-p",
        &base,
        r#"tool delegate_task {"workspace_id":"ws-c","task":"hello from the parent"}"#,
    )
    .await;
    let round_trip = started.elapsed();
    assert!(out.contains("echo: hello from the parent"), "{out}");
    assert!(out.contains("\"state\":\"completed\""), "{out}");
    eprintln!("delegation round trip through the platform proxy: {round_trip:?}");

    let out = ask_as(
        &platform,
        "ws-p",
        &base,
        r#"tool delegate_task {"workspace_id":"ws-p","task":"loop"}"#,
    )
    .await;
    assert!(out.contains("cannot delegate to itself"), "{out}");

    let out = ask_as(
        &platform,
        "ws-p",
        &base,
        r#"tool delegate_task_async {"workspace_id":"ws-c","task":"later"}"#,
    )
    .await;
    let id = serde_json::from_str::<Value>(&out).unwrap()["delegation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut status = String::new();
    for _ in 0..100 {
        status = ask_as(
            &platform,
            "ws-p",
            &base,
            &format!(r#"tool check_task_status {{"delegation_id":"{id}"}}"#),
        )
        .await;
        if status.contains("completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(status.contains("echo: later"), "{status}");
    parent.shutdown().await.unwrap();

    // With a child, the parent is a coordinator: work tools are refused, delegation is not.
    platform.set_parent("ws-c", Some("ws-p"));
    // Restarted from the same config folder, so it authenticates with its saved token.
    let coordinator = boot_config_env(
        dir_p.path(),
        &echo_yaml("Parent"),
        &[("PLATFORM_URL", &url), ("WORKSPACE_ID", "ws-p")],
        true,
    )
    .await;
    let base = format!("http://{}", coordinator.addr);
    let mut out = String::new();
    for _ in 0..100 {
        out = ask_as(
            &platform,
            "ws-p",
            &base,
            r#"tool query {"json":{},"pointer":""}"#,
        )
        .await;
        if out.contains("coordinator") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        out.contains("coordinator") && out.contains("delegate_task"),
        "{out}"
    );
    let tools = ask_as(&platform, "ws-p", &base, "tools").await;
    assert!(
        ask(&base, "tools", None).await.is_empty(),
        "no bearer, no answer"
    );
    assert!(
        tools.contains("delegate_task") && !tools.contains("query"),
        "{tools}"
    );
    coordinator.shutdown().await.unwrap();
    child.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_pokes_and_wedged_state_reach_the_platform() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    // An external workspace: provisioned on the platform, its token given by env.
    let token = platform.provision("ws-s", "Secretive", None);
    let mut secrets = std::collections::BTreeMap::new();
    secrets.insert("API_TOKEN".to_owned(), "tok-from-platform".to_owned());
    platform.set_secrets("ws-s", secrets);

    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("skills/hostile");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: hostile\ndescription: test\ncapabilities: {secrets: [API_TOKEN]}\n---\n",
    )
    .unwrap();
    std::fs::write(
        skill.join("tool.wasm"),
        &*molecule_tests::guest_wasm("tests/guests/hostile"),
    )
    .unwrap();
    let adapter = repo_root().join("tests/guests/smoke-adapter");
    let yaml = format!(
        "name: Secretive\nruntime: {}\nmodel: scripted:demo\nruntime_config: {{smoke: wedge}}\n\
         grants:\n  skills:\n    hostile: {{secrets: [API_TOKEN]}}\n",
        adapter.display()
    );
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-s"),
        ("MOLECULE_WORKSPACE_TOKEN", token.as_str()),
    ];
    let ws = boot_config_env(dir.path(), &yaml, &env, true).await;
    assert!(
        std::env::var("API_TOKEN").is_err(),
        "secrets never enter the process env"
    );
    // Boot does not wait for the secrets: they arrive in the background and the skill
    // granted them is reloaded. Granted in the list form, the skill holds a placeholder.
    let mut out = String::new();
    for _ in 0..400 {
        out = ws
            .skills
            .call("use_config", r#"{"key":"API_TOKEN"}"#)
            .await
            .unwrap();
        if out.contains("molecule-secret-API_TOKEN-") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(out.contains("molecule-secret-API_TOKEN-"), "{out}");
    assert!(
        !out.contains("tok-from-platform"),
        "the value stays outside: {out}"
    );

    wait_for("a first heartbeat", || {
        !platform.calls_to("POST", "/registry/heartbeat").is_empty()
    })
    .await;
    let before = platform.calls_to("POST", "/registry/heartbeat").len();
    let base = format!("http://{}", ws.addr);
    ask_as(&platform, "ws-s", &base, "go").await;
    // The task start and end poke the loop (the interval is 5 s), and the adapter's
    // report-wedged shows in the beat.
    wait_for("poked heartbeats", || {
        platform.calls_to("POST", "/registry/heartbeat").len() > before
    })
    .await;
    wait_for("a wedged heartbeat", || {
        platform
            .calls_to("POST", "/registry/heartbeat")
            .iter()
            .any(|c| c.body["runtime_state"] == "wedged")
    })
    .await;
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_workspace_is_created_registered_and_remembered() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let admin = platform.admin_token().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("MOLECULE_ADMIN_TOKEN", admin.as_str()),
        ("MOLECULE_WORKSPACE_URL", "https://tunnel.example.test"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("Outside"), &env, true).await;
    let id = std::fs::read_to_string(dir.path().join(".molecule/.workspace_id")).unwrap();
    // Registration runs in the background: boot never waits on the platform.
    wait_for("registration", || platform.token_of(&id).is_some()).await;
    wait_for("the saved token", || {
        dir.path().join(".molecule/.auth_token").is_file()
    })
    .await;
    let token = platform
        .token_of(&id)
        .expect("registered with a minted token");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".molecule/.auth_token"))
            .unwrap()
            .trim(),
        token
    );
    let register = &platform.calls_to("POST", "/registry/register")[0];
    assert_eq!(
        register.body["url"], "https://tunnel.example.test",
        "the advertised URL"
    );
    ws.shutdown().await.unwrap();

    // A restart reuses the id and the saved token: no second workspace is created.
    let ws = boot_config_env(dir.path(), &echo_yaml("Outside"), &env, true).await;
    // One registration per boot (the first one with the admin token).
    wait_for("re-registration", || {
        platform.calls_to("POST", "/registry/register").len() >= 2
    })
    .await;
    assert_eq!(platform.calls_to("POST", "/workspaces").len(), 1);
    assert_eq!(platform.token_of(&id), Some(token));
    ws.shutdown().await.unwrap();
}

/// A minimal awareness service: stores memories per namespace, answers searches by substring.
async fn fake_awareness() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    tokio::task::JoinHandle<()>,
) {
    use axum::extract::{Path, Query, State};
    use axum::routing::post;
    type Store = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;
    let store: Store = Default::default();
    let app = axum::Router::new()
        .route(
            "/api/v1/namespaces/{ns}/memories",
            post(|State(s): State<Store>, Path(ns): Path<String>, axum::Json(body): axum::Json<Value>| async move {
                let mut s = s.lock().unwrap();
                let id = format!("aw-{}", s.len() + 1);
                s.push(json!({"id": id, "ns": ns, "content": body["content"], "scope": body["scope"]}));
                axum::Json(json!({"id": id}))
            })
            .get(|State(s): State<Store>, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let needle = q.get("q").cloned().unwrap_or_default();
                let hits: Vec<Value> = s.lock().unwrap().iter()
                    .filter(|m| m["content"].as_str().unwrap_or("").contains(&needle))
                    .cloned()
                    .collect();
                axum::Json(json!({"memories": hits}))
            }),
        )
        .with_state(store.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, store, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_memory_round_trip() {
    let (url, store, server) = fake_awareness().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("AWARENESS_URL", url.as_str()),
        ("AWARENESS_NAMESPACE", "workspace:ws-m"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("Mem"), &env, true).await;
    let base = format!("http://{}", ws.addr);
    let out = ask(&base, r#"tool commit_memory {"content":"the standup moved to 10:30 password=hunter22","scope":"LOCAL"}"#, None).await;
    assert!(out.contains("aw-1"), "{out}");
    let stored = store.lock().unwrap()[0].clone();
    assert_eq!(stored["ns"], "workspace:ws-m");
    assert!(
        stored["content"]
            .as_str()
            .unwrap()
            .contains("password=[REDACTED]"),
        "{stored}"
    );
    let found = ask(&base, r#"tool search_memory {"query":"standup"}"#, None).await;
    assert!(found.contains("10:30"), "{found}");
    ws.shutdown().await.unwrap();
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skill_changes_send_update_card() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("skills")).unwrap();
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-u")];
    let ws = boot_config_env(dir.path(), &echo_yaml("Cards"), &env, true).await;
    wait_for("registration", || platform.token_of("ws-u").is_some()).await;

    let skill = dir.path().join("skills/ver");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: ver\ndescription: Answers its version.\ntags: [test]\n---\n",
    )
    .unwrap();
    std::fs::write(
        skill.join("tool.wasm"),
        molecule_tests::versioned_wasm("v1"),
    )
    .unwrap();
    wait_for("update-card", || {
        platform
            .calls_to("POST", "/registry/update-card")
            .iter()
            .any(|c| c.body["agent_card"]["skills"][0]["id"] == "ver")
    })
    .await;
    let update = platform
        .calls_to("POST", "/registry/update-card")
        .pop()
        .unwrap();
    assert_eq!(update.body["workspace_id"], "ws-u");
    assert_eq!(update.bearer(), platform.token_of("ws-u").as_deref());
    ws.shutdown().await.unwrap();
}
