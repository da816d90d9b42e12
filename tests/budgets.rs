//! Budgets on the capability channels, with the hostile guest's budget bombs: each floods one
//! channel (log records and bytes, stdout lines, wedged reports, memory writes, entry size
//! and quota, outgoing HTTP requests and bytes, task events and artifact bytes) and each test
//! checks three things: the error or notice names the limit and its config key, the budget
//! held where it lands (log text written, entries stored, requests and bytes that reached a
//! 127.0.0.1 server, events delivered), and the `/metrics` counter of hits moved.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use molecule_runtime::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use molecule_runtime::bindings::HostError;
use molecule_runtime::budgets::{Budget, Budgets};
use molecule_runtime::capabilities::events::{EventsBackend, TaskBudget};
use molecule_runtime::capabilities::heartbeat::{HeartbeatBackend, MAX_REASON};
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::grants::{Grants, GrantsBuilder};
use molecule_runtime::limits::SandboxLimits;
use molecule_runtime::sandbox::Sandbox;
use molecule_tests::{budget_hits as hits, captured_log as captured, guest_wasm, host};
use serde_json::{json, Value};

const HOSTILE: &str = "tests/guests/hostile";

/// Default limits with `budgets`.
fn limits(budgets: Budgets) -> SandboxLimits {
    SandboxLimits {
        timeout: Duration::from_secs(20),
        budgets,
        ..SandboxLimits::default()
    }
}

async fn load(host: &ComponentHost, grants: GrantsBuilder) -> SkillComponent {
    host.load_skill(&guest_wasm(HOSTILE), grants.build())
        .await
        .unwrap_or_else(|e| panic!("loading the hostile skill: {e:#}"))
}

async fn call(host: &ComponentHost, skill: &SkillComponent, tool: &str, input: Value) -> Value {
    let out = Sandbox::new(host.engine().clone())
        .call_tool(skill, tool, &input.to_string())
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    serde_json::from_str(&out).expect("the bombs return JSON")
}

/// The captured log lines that mention `label` (each test uses its own component label).
fn lines_of(label: &str) -> Vec<String> {
    let log = captured().lock().unwrap();
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| l.contains(label))
        .map(str::to_owned)
        .collect()
}

/// Lines of guest output (target `guest`) of `label`.
fn guest_lines(label: &str) -> Vec<String> {
    let mut lines = lines_of(label);
    lines.retain(|l| l.contains(" guest:"));
    lines
}

/// Budget notices (and errors) logged for `label`.
fn notices(label: &str) -> Vec<String> {
    let mut lines = lines_of(label);
    lines.retain(|l| l.contains("budget spent"));
    lines
}

#[tokio::test]
async fn log_and_stdout_records_past_the_budget_are_not_written() {
    captured();
    let host = host();
    let label = "skill log-records-bomb";
    let budgets = Budgets {
        log_records: 50,
        ..Budgets::default()
    };
    let grants = Grants::builder(label).limits(limits(budgets));
    let skill = load(&host, grants).await;
    let before = hits(Budget::LogRecords);
    call(&host, &skill, "log_flood", json!({"count": 100_000})).await;
    call(&host, &skill, "print_flood", json!({"count": 100_000})).await;
    let guest = guest_lines(label);
    assert_eq!(
        guest.len(),
        100,
        "50 records per call, two calls: {guest:?}"
    );
    let notices = notices(label);
    assert_eq!(notices.len(), 2, "one notice per call: {notices:?}");
    for notice in &notices {
        assert!(
            notice.contains("log records per call is limited to 50")
                && notice.contains("(raise sandbox.log.max_records)"),
            "{notice}"
        );
    }
    assert!(hits(Budget::LogRecords) >= before + 2);
}

#[tokio::test]
async fn log_text_past_the_byte_budget_is_not_written() {
    captured();
    let host = host();
    let label = "skill log-bytes-bomb";
    let grants = Grants::builder(label).limits(SandboxLimits {
        max_log_bytes: 8 << 10,
        ..limits(Budgets::default())
    });
    let skill = load(&host, grants).await;
    let before = hits(Budget::LogBytes);
    call(
        &host,
        &skill,
        "log_flood",
        json!({"count": 500, "bytes": 1000}),
    )
    .await;
    call(
        &host,
        &skill,
        "print_flood",
        json!({"count": 500, "bytes": 1000}),
    )
    .await;
    let guest = guest_lines(label);
    let text: usize = guest.iter().map(|l| l.matches(['L', 'P']).count()).sum();
    assert!(
        text <= 2 * (8 << 10),
        "{text} bytes of guest text in two calls"
    );
    assert!(guest.len() <= 2 * 9, "{} lines", guest.len());
    let notices = notices(label);
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("log text per call is limited to 8 KiB (raise sandbox.log.max_bytes)")
    );
    assert!(hits(Budget::LogBytes) >= before + 2);
}

/// Records the wedged reports it receives.
#[derive(Default)]
struct Wedged(Mutex<Vec<String>>);

impl HeartbeatBackend for Wedged {
    fn set_current_task(&self, _: &str, _: &str) {}
    fn report_wedged(&self, _: &str, reason: &str) {
        self.0.lock().unwrap().push(reason.to_owned());
    }
}

#[tokio::test]
async fn wedged_reports_are_budgeted_capped_and_escaped() {
    captured();
    let host = host();
    let budgets = Budgets {
        wedged_reports: 5,
        ..Budgets::default()
    };
    let backend = Arc::new(Wedged::default());
    let granted = Grants::builder("skill wedged-granted")
        .heartbeat(backend.clone())
        .limits(limits(budgets));
    let skill = load(&host, granted).await;
    let before = hits(Budget::WedgedReports);
    let input = json!({"count": 2_000, "bytes": 64 << 10});
    call(&host, &skill, "wedged_flood", input.clone()).await;
    let seen = backend.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "the budget held");
    for reason in &seen {
        assert!(
            reason.starts_with("stuck\\nFORGED"),
            "escaped: {}",
            &reason[..40]
        );
        assert!(reason.len() <= MAX_REASON + 64, "capped: {}", reason.len());
        assert!(reason.ends_with("bytes in all]"), "marked as cut");
    }

    // Not granted: each report is a WARN line, so the budget is what bounds the log.
    let label = "skill wedged-denied";
    let denied = Grants::builder(label).limits(limits(budgets));
    let skill = load(&host, denied).await;
    call(&host, &skill, "wedged_flood", input).await;
    let lines = lines_of(label);
    let reports = lines.iter().filter(|l| l.contains("reports itself wedged"));
    assert_eq!(reports.count(), 5, "{lines:?}");
    let notice = notices(label);
    assert_eq!(notice.len(), 1, "{notice:?}");
    assert!(notice[0].contains("limited to 5 (raise sandbox.heartbeat.max_wedged_reports)"));
    assert!(lines.iter().map(String::len).sum::<usize>() < 6 * (MAX_REASON + 1024));
    let log = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")),
        "a forged record"
    );
    assert!(hits(Budget::WedgedReports) >= before + 2);
}

#[tokio::test]
async fn memory_writes_entry_size_and_quota_hold() {
    let host = host();
    let store = Arc::new(SqliteMemory::in_memory().unwrap());
    let budgets = Budgets {
        memory_writes: 20,
        memory_entry_bytes: 1000,
        memory_quota_bytes: 30_000,
        ..Budgets::default()
    };
    let label = "skill memory-bomb";
    let grants = Grants::builder(label)
        .memory(store.clone())
        .limits(limits(budgets));
    let skill = load(&host, grants).await;
    let (writes, entry, quota) = (
        hits(Budget::MemoryWrites),
        hits(Budget::MemoryEntryBytes),
        hits(Budget::MemoryQuota),
    );

    let out = call(
        &host,
        &skill,
        "memory_flood",
        json!({"count": 10_000, "bytes": 1}),
    )
    .await;
    assert_eq!(out["ok"], 20, "{out}");
    let error = out["first_error"].as_str().unwrap();
    assert!(
        error.contains("memory writes per call is limited to 20"),
        "{error}"
    );
    assert!(
        error.contains("sandbox.memory_capability.max_writes_per_call"),
        "{error}"
    );
    // Each entry costs its content + 256 (ENTRY_OVERHEAD) + owner (17) + scope (5).
    assert_eq!(store.kept_bytes(label).await.unwrap(), 20 * 279);

    let out = call(
        &host,
        &skill,
        "memory_flood",
        json!({"count": 3, "bytes": 1001}),
    )
    .await;
    assert_eq!(out["ok"], 0, "{out}");
    let error = out["first_error"].as_str().unwrap();
    assert!(error.contains("InvalidInput"), "{error}");
    assert!(
        error.contains("sandbox.memory_capability.max_entry_bytes"),
        "{error}"
    );
    assert_eq!(
        store.kept_bytes(label).await.unwrap(),
        20 * 279,
        "nothing stored"
    );

    // 1000-byte entries (1278 each with overhead): the 30 000-byte quota stops the first call.
    let mut stored = 0;
    for _ in 0..3 {
        let out = call(
            &host,
            &skill,
            "memory_flood",
            json!({"count": 20, "bytes": 1000}),
        )
        .await;
        stored += out["ok"].as_u64().unwrap();
        if let Some(error) = out["first_error"].as_str() {
            assert!(
                error.contains("memory kept per component is limited to 30000 bytes")
                    && error.contains("(raise sandbox.memory_capability.quota)")
                    || error.contains("max_writes_per_call"),
                "{error}"
            );
        }
    }
    assert_eq!(stored, 19, "(30000 - 5580) / 1278 entries fit");
    assert_eq!(store.kept_bytes(label).await.unwrap(), 5580 + 19 * 1278);
    assert!(hits(Budget::MemoryWrites) > writes);
    assert!(hits(Budget::MemoryEntryBytes) > entry);
    assert!(hits(Budget::MemoryQuota) > quota);
}

/// What the test server saw: requests and request-body bytes.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    body_bytes: AtomicU64,
}

/// A server on 127.0.0.1 that counts what reaches it; `/big` answers 1 MiB.
async fn server() -> (String, Arc<Seen>) {
    use axum::body::Body;
    use axum::routing::any;
    use http_body_util::BodyExt;
    let seen = Arc::new(Seen::default());
    let counted = seen.clone();
    let handler = move |uri: axum::http::Uri, body: Body| {
        let seen = counted.clone();
        async move {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            let mut body = body;
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen.body_bytes
                        .fetch_add(data.len() as u64, Ordering::SeqCst);
                }
            }
            if uri.path() == "/big" {
                vec![b'd'; 1 << 20]
            } else {
                b"ok".to_vec()
            }
        }
    };
    let app = axum::Router::new().fallback(any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, seen)
}

#[tokio::test]
async fn http_requests_past_the_budget_never_reach_the_server() {
    let host = host();
    let (origin, seen) = server().await;
    let budgets = Budgets {
        http_requests: 5,
        ..Budgets::default()
    };
    let grants = Grants::builder("skill http-requests-bomb")
        .http_hosts(&[origin.as_str()])
        .unwrap()
        .limits(limits(budgets));
    let skill = load(&host, grants).await;
    let before = hits(Budget::HttpRequests);
    let input = json!({"url": format!("{origin}/x"), "count": 1_000});
    let out = call(&host, &skill, "http_flood", input).await;
    assert_eq!(out["ok"], 5, "{out}");
    let error = out["first_error"].as_str().unwrap();
    assert!(
        error.starts_with("ErrorCode::InternalError(Some("),
        "{error}"
    );
    assert!(
        error.contains(
            "outgoing HTTP requests per call is limited to 5 \
                        (raise sandbox.http.max_requests_per_call)"
        ),
        "{error}"
    );
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        5,
        "refused before connecting"
    );
    assert!(hits(Budget::HttpRequests) >= before + 995);
}

#[tokio::test]
async fn http_bytes_past_the_budget_end_the_body() {
    let host = host();
    let (origin, seen) = server().await;
    let budgets = Budgets {
        http_bytes: 64 << 10,
        ..Budgets::default()
    };
    let grants = Grants::builder("skill http-bytes-bomb")
        .http_hosts(&[origin.as_str()])
        .unwrap()
        .limits(limits(budgets));
    let skill = load(&host, grants).await;
    let before = hits(Budget::HttpBytes);
    let key =
        "outgoing HTTP bytes per call is limited to 64 KiB (raise sandbox.http.max_bytes_per_call)";

    let upload = json!({"url": format!("{origin}/up"), "count": 1, "bytes": 1 << 20});
    let out = call(&host, &skill, "http_flood", upload).await;
    assert_eq!(out["ok"], 0, "{out}");
    assert!(out["first_error"].as_str().unwrap().contains(key), "{out}");
    let sent = seen.body_bytes.load(Ordering::SeqCst);
    assert!(sent <= 64 << 10, "{sent} request bytes reached the server");

    let download = json!({"url": format!("{origin}/big"), "count": 3});
    let out = call(&host, &skill, "http_flood", download).await;
    assert_eq!(out["ok"], 0, "{out}");
    assert!(out["first_error"].as_str().unwrap().contains(key), "{out}");
    let received = out["received"].as_u64().unwrap();
    assert!(
        received <= 64 << 10,
        "{received} response bytes reached the guest"
    );
    assert!(hits(Budget::HttpBytes) >= before + 2);
}

/// An events backend that counts what reaches the task.
#[derive(Clone, Default)]
struct Delivered(Arc<AtomicU64>);

#[async_trait]
impl EventsBackend for Delivered {
    async fn status(&self, _: TaskState, _: Option<Message>) -> Result<(), HostError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn message(&self, _: Message) -> Result<(), HostError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn task_events_and_artifact_bytes_are_budgeted_per_task() {
    let host = host();
    let budgets = Budgets {
        task_events: 30,
        artifact_bytes: 10_000,
        ..Budgets::default()
    };
    let (events, bytes) = (hits(Budget::TaskEvents), hits(Budget::ArtifactBytes));

    // One task: every call of it shares one budgeted backend.
    let delivered = Delivered::default();
    let task = Arc::new(TaskBudget::new(delivered.clone(), &budgets));
    let grants = Grants::builder("skill artifact-bomb")
        .events(task.clone())
        .limits(limits(budgets));
    let skill = load(&host, grants).await;
    let out = call(
        &host,
        &skill,
        "artifact_flood",
        json!({"count": 100, "bytes": 1000}),
    )
    .await;
    assert_eq!(out["ok"], 9, "9 chunks of 1005 bytes fit in 10 000: {out}");
    let error = out["first_error"].as_str().unwrap();
    let spent = "bytes per task (artifacts, messages and status messages) is limited to \
                 10000 bytes (raise sandbox.task.max_artifact_bytes)";
    assert!(error.contains(spent), "{error}");
    // The answer has a hole now: a later call of the same task gets nothing through either.
    let out = call(&host, &skill, "event_flood", json!({"count": 10})).await;
    assert_eq!(out["ok"], 0, "a later call of the same task: {out}");
    assert!(
        out["first_error"].as_str().unwrap().contains(spent),
        "{out}"
    );
    assert_eq!(
        delivered.0.load(Ordering::SeqCst),
        9,
        "refused events never arrive"
    );
    assert_eq!(task.used(), (9, 9 * 1005));
    assert_eq!(
        task.spent().map(|hit| hit.budget),
        Some(Budget::ArtifactBytes)
    );

    // Another task: the events budget.
    let delivered = Delivered::default();
    let task = Arc::new(TaskBudget::new(delivered.clone(), &budgets));
    let grants = Grants::builder("skill events-bomb")
        .events(task.clone())
        .limits(limits(budgets));
    let skill = load(&host, grants).await;
    let out = call(&host, &skill, "event_flood", json!({"count": 100_000})).await;
    assert_eq!(out["ok"], 30, "30 events per task: {out}");
    let error = out["first_error"].as_str().unwrap();
    assert!(
        error.contains("events per task is limited to 30 (raise sandbox.task.max_events)"),
        "{error}"
    );
    assert_eq!(
        delivered.0.load(Ordering::SeqCst),
        30,
        "refused events never arrive"
    );
    assert_eq!(task.spent().map(|hit| hit.budget), Some(Budget::TaskEvents));
    assert!(hits(Budget::TaskEvents) > events);
    assert!(hits(Budget::ArtifactBytes) > bytes);
}
