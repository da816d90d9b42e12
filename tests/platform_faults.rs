//! Platform faults against a real workspace, each recovering by itself: a platform restarted
//! with empty state (401 "register first") gets a new registration and the queued activity; a
//! platform hanging while the workspace restarts neither opens A2A (the saved inbound secret
//! is required from the first request) nor slows boot or card updates; activity under a queue
//! limit is dropped, counted in `/metrics`, and summarised by one warning naming the cause.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use molecule_platform::fake::{FakePlatform, Fault};
use molecule_tests::{boot_config_env, repo_root, try_boot_config_env};
use serde_json::{json, Value};

fn echo_yaml(name: &str) -> String {
    let adapter = repo_root().join("tests/guests/echo-adapter");
    format!(
        "name: {name}\nruntime: {}\nmodel: scripted:demo\n\
         observability: {{heartbeat_interval_seconds: 5}}\n",
        adapter.display()
    )
}

/// SendMessage `text`; the HTTP status and the reply's text (empty when refused).
async fn ask(base: &str, text: &str, bearer: Option<&str>) -> (u16, String) {
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
    let resp = request.send().await.expect("the workspace answers");
    let status = resp.status().as_u16();
    let reply: Value = resp.json().await.unwrap_or(Value::Null);
    let text = reply["result"]["task"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, text)
}

/// The value of an unlabelled series in `/metrics`.
async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

async fn wait_for(what: &str, done: impl FnMut() -> bool) {
    let (within, every) = (Duration::from_secs(30), Duration::from_millis(20));
    molecule_tests::wait_until(what, within, every, done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_restarted_empty_answering_401_is_joined_again() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-r")];
    let ws = boot_config_env(dir.path(), &echo_yaml("Restarted"), &env, true).await;
    let base = format!("http://{}", ws.addr);
    wait_for("a first heartbeat", || {
        platform
            .calls_to("POST", "/registry/heartbeat")
            .iter()
            .any(|c| c.status == 200)
    })
    .await;
    let old_secret = platform.inbound_secret_of("ws-r").unwrap();
    let old_token = platform.token_of("ws-r").unwrap();

    platform.forget_everything();
    // Served meanwhile with the secret the workspace knows; its activity report meets a 401.
    let (status, out) = ask(&base, "while forgotten", Some(&old_secret)).await;
    assert_eq!((status, out.as_str()), (200, "echo: while forgotten"));
    wait_for("a new registration", || platform.token_of("ws-r").is_some()).await;
    wait_for("heartbeats accepted again", || {
        platform
            .calls_to("POST", "/registry/heartbeat")
            .last()
            .is_some_and(|c| c.status == 200)
    })
    .await;
    let beats = platform.calls_to("POST", "/registry/heartbeat");
    assert!(
        beats.iter().any(|c| c.status == 401),
        "the empty platform said 401"
    );
    assert_eq!(platform.calls_to("POST", "/registry/register").len(), 2);
    let new_token = platform.token_of("ws-r").unwrap();
    assert_ne!(new_token, old_token);
    let saved = std::fs::read_to_string(dir.path().join(".molecule/.auth_token")).unwrap();
    assert_eq!(saved.trim(), new_token);
    // The report refused with 401 was kept and delivered after the registration.
    wait_for("the activity of the task", || {
        platform
            .activities("ws-r")
            .iter()
            .any(|a| a["summary"] == "while forgotten")
    })
    .await;
    assert_eq!(metric(&base, "molecule_activity_rejected_total").await, 0.0);
    // The platform's new inbound secret is required from now on.
    let new_secret = platform.inbound_secret_of("ws-r").unwrap();
    let mut status = 0;
    for _ in 0..200 {
        status = ask(&base, "after", Some(&new_secret)).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
    assert_eq!(ask(&base, "old", Some(&old_secret)).await.0, 401);
    ws.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_hanging_at_boot_neither_opens_a2a_nor_slows_local_work() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("skills")).unwrap();
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-h")];
    let ws = boot_config_env(dir.path(), &echo_yaml("Hung"), &env, true).await;
    let saved = dir.path().join(".molecule/inbound_secret.json");
    wait_for("the inbound secret saved", || saved.is_file()).await;
    let secret = platform.inbound_secret_of("ws-h").unwrap();
    ws.shutdown().await.unwrap();

    platform.set_fault(Fault::Hang);
    let started = Instant::now();
    let ws = boot_config_env(dir.path(), &echo_yaml("Hung"), &env, true).await;
    let boot_time = started.elapsed();
    // Boot waited for no platform call: none has been answered since the platform hung (a
    // background call may time out meanwhile on a loaded machine; that is not boot waiting).
    assert!(platform.calls().iter().all(|c| c.at < started));
    let base = format!("http://{}", ws.addr);
    let (status, _) = ask(&base, "no secret", None).await;
    assert_eq!(
        status, 401,
        "the saved secret is required from the first request"
    );
    let (status, out) = ask(&base, "with the saved secret", Some(&secret)).await;
    assert_eq!((status, out.as_str()), (200, "echo: with the saved secret"));
    wait_for("registration hanging", || platform.hanging_calls() >= 1).await;

    // A SKILL.md edit reaches the served card while update-card hangs.
    let skill = dir.path().join("skills/late-note");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: late-note\ndescription: Added while the platform hangs.\n---\nNotes.\n",
    )
    .unwrap();
    let card_url = format!("{base}/.well-known/agent-card.json");
    let edited = Instant::now();
    let mut listed = false;
    while !listed {
        assert!(
            edited.elapsed() < Duration::from_secs(30),
            "the card never changed"
        );
        let card: Value = reqwest::get(&card_url).await.unwrap().json().await.unwrap();
        listed = card["skills"].to_string().contains("late-note");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let card_time = edited.elapsed();
    assert!(
        platform
            .calls_to("POST", "/registry/update-card")
            .is_empty(),
        "the card changed before the platform answered anything"
    );
    eprintln!("boot with a hung platform: {boot_time:?}; SKILL.md edit to card: {card_time:?}");

    platform.set_fault(Fault::None);
    wait_for("update-card with the new skill", || {
        platform
            .calls_to("POST", "/registry/update-card")
            .iter()
            .any(|c| c.status == 200 && c.body.to_string().contains("late-note"))
    })
    .await;
    ws.shutdown().await.unwrap();
}

/// Every log line of this test binary (the subscriber is process-wide).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines(needle: &str) -> Vec<String> {
    String::from_utf8_lossy(&logs().lock().unwrap())
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_under_a_queue_limit_is_counted_with_one_warning() {
    logs();
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PLATFORM_URL", url.as_str()),
        ("WORKSPACE_ID", "ws-q"),
        ("MOLECULE_ACTIVITY_QUEUE", "4"),
    ];
    let ws = boot_config_env(dir.path(), &echo_yaml("Busy"), &env, true).await;
    let base = format!("http://{}", ws.addr);
    wait_for("registration", || platform.token_of("ws-q").is_some()).await;
    let secret = platform.inbound_secret_of("ws-q").unwrap();
    // A healthy platform, slower than the workspace produces reports.
    platform.set_fault(Fault::Delay(Duration::from_millis(300)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (base, secret) = (base.clone(), secret.clone());
        tasks.spawn(async move { ask(&base, &format!("task {i}"), Some(&secret)).await });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().0, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&base, "molecule_activity_queued").await > 0.0 {
        assert!(Instant::now() < deadline, "the queue never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dropped = metric(&base, "molecule_activity_dropped_total").await;
    assert!(dropped > 0.0, "reports beyond the queue of 4 were dropped");
    let received = platform.activities("ws-q").len();
    assert!(received < 80, "{received} of 80 reports arrived");
    let warnings: Vec<String> = log_lines("activity queue full")
        .into_iter()
        .filter(|l| l.contains("ws-q"))
        .collect();
    assert_eq!(warnings.len(), 1, "one summarising warning: {warnings:#?}");
    assert!(
        warnings[0].contains("faster than the platform accepted"),
        "{}",
        warnings[0]
    );
    assert!(!warnings[0].contains("unreachable"), "{}", warnings[0]);
    let failures = log_lines("activity reports failed");
    assert!(
        !failures.iter().any(|l| l.contains("ws-q")),
        "nothing failed: {failures:#?}"
    );
    eprintln!("dropped {dropped}, delivered {received}: {}", warnings[0]);
    platform.set_fault(Fault::None);
    ws.shutdown().await.unwrap();
}

/// A saved inbound secret that exists but cannot be parsed stops boot with an error naming
/// the file and what to do — never serves A2A without authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_saved_inbound_secret_stops_boot_instead_of_serving_unauthenticated() {
    let platform = FakePlatform::start().await;
    let url = platform.url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("skills")).unwrap();
    let saved = dir.path().join(".molecule/inbound_secret.json");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    std::fs::write(&saved, "{truncated").unwrap();
    let env = [("PLATFORM_URL", url.as_str()), ("WORKSPACE_ID", "ws-m")];
    let err = match try_boot_config_env(dir.path(), &echo_yaml("Closed"), &env).await {
        Ok(ws) => {
            let base = format!("http://{}", ws.addr);
            let (status, _) = ask(&base, "no secret", None).await;
            panic!("boot served (unauthenticated request answered {status})");
        }
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains(&saved.display().to_string()), "{err}");
    assert!(err.contains("delete it to start over"), "{err}");
}
