//! `/healthz` and `/readyz` on a booted workspace: alive whenever it serves; ready only when
//! configured, the task store takes a write within its bound, and the platform (when there is
//! one) has accepted the registration — each failing check named in the JSON body.

use std::path::Path;
use std::time::Duration;

use molecule_platform::fake::{FakePlatform, Fault};
use molecule_runtime::workspace::health_route::{PLATFORM_NOT_REGISTERED, STORE_NOT_WRITABLE};
use molecule_tests::{boot_config, boot_config_env, boot_with_gateway, repo_root, wait_until};
use serde_json::Value;

fn echo_yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: {name}\nruntime: {}\nmodel: scripted:demo\nobservability: \
         {{heartbeat_interval_seconds: 5}}\n",
        adapter.display()
    )
}

/// `GET base+path`: the status and the JSON body.
async fn get(base: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

/// The `ok` of check `name` in a `/readyz` body, and its error text.
fn check(body: &Value, name: &str) -> (bool, String) {
    let checks = body["checks"].as_array().expect("checks");
    let c = checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {body}"));
    let error = c["error"].as_str().unwrap_or_default().to_owned();
    (c["ok"] == true, error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_workspace_is_alive_and_ready_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{}a2a: {{inbound_secret: s3cret-for-tasks}}\n",
        echo_yaml("Alone")
    );
    let ws = boot_config(dir.path(), &yaml, false).await;
    let base = format!("http://{}", ws.addr);
    assert_eq!(
        get(&base, "/healthz").await,
        (200, serde_json::json!({"status": "alive"}))
    );
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    for name in ["configured", "task_store", "platform"] {
        assert_eq!(check(&body, name), (true, String::new()), "{body}");
    }
    // The probes need no token, but the task API behind the same secret still does.
    let tasks = reqwest::get(format!("{base}/tasks")).await.unwrap();
    assert_eq!(tasks.status().as_u16(), 401);
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_that_is_not_configured_is_alive_but_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("adapter")).unwrap();
    std::fs::write(dir.path().join("adapter/Cargo.toml"), "[package\n").unwrap();
    let yaml = "name: Broken\nruntime: ./adapter\nmodel: scripted:demo\n";
    let ws = boot_with_gateway(dir.path(), yaml, &[], true, |p| {
        p.gateway(molecule_llm::Credentials::default())
    })
    .await;
    let base = format!("http://{}", ws.addr);
    assert_eq!(get(&base, "/healthz").await.0, 200);
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    let (ok, error) = check(&body, "configured");
    assert!(!ok && error.contains("not configured"), "{body}");
    assert!(
        error.contains("Cargo.toml"),
        "the reason says what to fix: {body}"
    );
    assert!(check(&body, "task_store").0, "{body}");
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_probes_of_a_healthy_workspace_are_all_ready() {
    let dir = tempfile::tempdir().unwrap();
    let ws = boot_config(dir.path(), &echo_yaml("Probed"), false).await;
    let url = format!("http://{}/readyz", ws.addr);
    let client = reqwest::Client::new();
    let probes = (0..40).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let resp = client.get(url).send().await.expect("GET /readyz");
            (
                resp.status().as_u16(),
                resp.text().await.unwrap_or_default(),
            )
        })
    });
    let probes: Vec<_> = probes.collect();
    for probe in probes {
        let (status, body) = probe.await.unwrap();
        assert_eq!(status, 200, "every overlapping probe is ready: {body}");
    }
    ws.shutdown().await.unwrap();
}

/// Holds SQLite's write lock on `file` from a second connection until the returned sender
/// is dropped; returns once the lock is held.
fn hold_write_lock(file: &Path) -> std::sync::mpsc::Sender<()> {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let file = file.to_owned();
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&file).expect("open the task store");
        conn.execute_batch("BEGIN EXCLUSIVE")
            .expect("take the write lock");
        held.send(()).unwrap();
        let _ = wait.recv();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    is_held.recv().expect("the lock is held");
    release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_store_that_cannot_take_a_write_is_not_ready_without_blocking_the_probe() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_text = data.display().to_string();
    let env = [("MOLECULE_DATA_DIR", data_text.as_str())];
    let ws = boot_config_env(dir.path(), &echo_yaml("Locked"), &env, false).await;
    let base = format!("http://{}", ws.addr);
    assert_eq!(get(&base, "/readyz").await.0, 200);

    let release = hold_write_lock(&data.join("tasks.sqlite"));
    // The store thread waits on SQLite's lock; the probe answers after its bound.
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let (ok, error) = check(&body, "task_store");
    assert_eq!(error, STORE_NOT_WRITABLE, "{body}");
    assert!(!ok, "{body}");
    assert!(
        !body.to_string().contains(&data_text),
        "the unauthenticated body shows no host path: {body}"
    );
    assert!(
        check(&body, "configured").0 && check(&body, "platform").0,
        "{body}"
    );
    // A second probe while the first check still waits awaits that check again.
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(check(&body, "task_store").1, STORE_NOT_WRITABLE, "{body}");
    assert_eq!(
        get(&base, "/healthz").await.0,
        200,
        "liveness ignores the store"
    );

    drop(release);
    let mut ready = false;
    for _ in 0..100 {
        if get(&base, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again once the lock is released");
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_is_not_ready_until_the_platform_accepts_its_registration() {
    let platform = FakePlatform::start().await;
    platform.set_fault(Fault::Hang);
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-r")];
    let ws = boot_config_env(dir.path(), &echo_yaml("Joining"), &env, true).await;
    let base = format!("http://{}", ws.addr);
    wait_until(
        "the registration to reach the platform",
        Duration::from_secs(20),
        Duration::from_millis(20),
        || platform.hanging_calls() > 0,
    )
    .await;
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let (ok, error) = check(&body, "platform");
    assert!(!ok, "{body}");
    assert_eq!(error, PLATFORM_NOT_REGISTERED, "{body}");
    assert!(
        !body.to_string().contains(&url),
        "the unauthenticated body shows no platform URL: {body}"
    );
    assert!(check(&body, "configured").0 && check(&body, "task_store").0);
    assert_eq!(get(&base, "/healthz").await.0, 200);

    platform.set_fault(Fault::None);
    let mut ready = false;
    for _ in 0..200 {
        if get(&base, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready once the platform accepted the registration");
    // Registered once, ready for good: a platform that goes away does not unready it.
    platform.set_down(true);
    assert_eq!(get(&base, "/readyz").await.0, 200);
    ws.shutdown().await.unwrap();
}
