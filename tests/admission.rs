//! Workspace-wide admission and the guest pool (issue 14, Deliver 3 and 4): tasks beyond
//! `sandbox.admission.max_concurrent_calls` wait SUBMITTED and then run in FIFO order; a full
//! queue and a wait past `max_wait` fail "busy" naming the keys; the workspace's guest-memory
//! budget refuses a growth two calls make together though each is under its own limit; an
//! adapter's tool calls share its slot (no deadlock at one slot); guest code runs on a guest
//! pool thread, never on a server thread (but an MCP call's first poll, never for a skill
//! granted a folder: `scheduler/start_here.rs`). Busy tasks carry a receipt of their wait and count
//! in `/metrics` (started, and finished with outcome `busy`); a canceled task keeps a receipt
//! of what it spent.
//!
//! Workspaces boot from a temp config folder (the echo adapter, a copy of json-query) on
//! 127.0.0.1:0 with a model whose answers wait on a gate the test opens, so "waiting on the
//! model" needs no sleeps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use molecule_llm::{
    ChatRequest, ChatResponse, ChatRole, ChatStream, Gateway, LlmError, ModelSelection, Provider,
    ScriptedProvider,
};
use molecule_runtime::budgets::{hits, Budget};
use molecule_runtime::component::ComponentHost;
use molecule_runtime::grants::Grants;
use molecule_runtime::sandbox::Sandbox;
use molecule_runtime::scheduler::pool::{BATCH_THREAD, INTERACTIVE_THREAD};
use molecule_runtime::scheduler::{start_here, AdmissionConfig};
use molecule_runtime::workspace::boot::RunningWorkspace;
use molecule_tests::{copy_crate, guest_wasm, host, repo_root};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// Each prompt the model got, with the name of the thread that asked.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A model that answers like the demo script, once the test lets each answer through, and
/// records each prompt with the name of the thread that asked.
struct Gated {
    inner: ScriptedProvider,
    gate: Arc<Semaphore>,
    seen: Seen,
}

#[async_trait]
impl Provider for Gated {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let prompt = request
            .messages
            .iter()
            .rfind(|m| m.role == ChatRole::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let thread = std::thread::current().name().map(str::to_owned);
        self.seen.lock().unwrap().push((prompt, thread));
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        self.inner.complete(model, request).await
    }

    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        self.inner.stream(model, request).await
    }
}

/// A booted workspace, its engine's host and its model's gate.
struct Workspace {
    ws: RunningWorkspace,
    host: Arc<ComponentHost>,
    gate: Arc<Semaphore>,
    seen: Seen,
    _dir: tempfile::TempDir,
}

impl Workspace {
    fn base(&self) -> String {
        format!("http://{}", self.ws.addr)
    }

    fn prompts(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    async fn waiting_reaches(&self, n: u64) {
        let admission = self.host.engine().admission().clone();
        eventually(|| admission.waiting() == n, "tasks waiting").await;
    }
}

/// Boots the echo adapter with json-query and `sandbox_yaml` under `sandbox:`.
async fn boot_gated(sandbox_yaml: &str) -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    copy_crate(
        "demo/skills/json-query",
        &dir.path().join("skills/json-query"),
    );
    let adapter = repo_root().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Admission\nruntime: {}\nmodel: scripted:demo\nsandbox: {sandbox_yaml}\n",
        adapter.display()
    );
    let plan = molecule_tests::local_plan(dir.path(), &yaml, &[]);
    let gate = Arc::new(Semaphore::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let provider = Arc::new(Gated {
        inner: ScriptedProvider::from_file(&repo_root().join("demo/model-script.yaml")).unwrap(),
        gate: gate.clone(),
        seen: seen.clone(),
    });
    let selection = ModelSelection::resolve(None, "scripted:demo").unwrap();
    let host = Arc::new(host());
    let gateway = Arc::new(Gateway::with_provider(selection, provider));
    let ws = molecule_tests::boot_plan(plan, host.clone(), gateway).await;
    Workspace {
        ws,
        host,
        gate,
        seen,
        _dir: dir,
    }
}

/// Waits until `ready` holds (polling every 5 ms, for at most 60 s).
async fn eventually(mut ready: impl FnMut() -> bool, what: &str) {
    for _ in 0..12_000 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn rpc(base: &str, method: &str, params: Value) -> Value {
    molecule_tests::a2a_result(&reqwest::Client::new(), base, method, params).await
}

/// SendMessage with `text`; returns the task (at once when `immediately`).
async fn send(ws: &Workspace, text: &str, immediately: bool) -> Value {
    let id = format!("m-{text}-{}", std::process::id());
    let message = json!({"messageId": id, "role": "ROLE_USER", "parts": [{"text": text}]});
    let params = json!({"message": message, "configuration": {"returnImmediately": immediately}});
    rpc(&ws.base(), "SendMessage", params).await["task"].clone()
}

async fn get_task(ws: &Workspace, id: &str) -> Value {
    rpc(&ws.base(), "GetTask", json!({"id": id})).await
}

fn state(task: &Value) -> &str {
    task["status"]["state"].as_str().unwrap_or_default()
}

fn status_text(task: &Value) -> String {
    task["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Polls GetTask until the task is COMPLETED, FAILED or CANCELED.
async fn finished(ws: &Workspace, id: &str) -> Value {
    for _ in 0..12_000 {
        let task = get_task(ws, id).await;
        if matches!(
            state(&task),
            "TASK_STATE_COMPLETED" | "TASK_STATE_FAILED" | "TASK_STATE_CANCELED"
        ) {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("task {id} never finished");
}

fn id(task: &Value) -> String {
    task["id"].as_str().expect("task id").to_owned()
}

/// With one slot, the first task runs (WORKING, in the model) while the next three wait
/// SUBMITTED; opened up, they run one at a time in the order they arrived and complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_tasks_stay_submitted_then_run_in_fifo_order() {
    let ws = boot_gated("{admission: {max_concurrent_calls: 1, max_waiting: 10}}").await;
    let first = send(&ws, "ask first", true).await;
    eventually(
        || ws.prompts().len() == 1,
        "the first task to reach the model",
    )
    .await;
    // A running task that has reported nothing yet shows WORKING once the executor's grace
    // passes (WORKING is lazy so a quick reply can be a bare Message).
    let first_id = id(&first);
    let mut first_state = String::new();
    for _ in 0..1_000 {
        first_state = state(&get_task(&ws, &first_id).await).to_owned();
        if first_state != "TASK_STATE_SUBMITTED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(first_state, "TASK_STATE_WORKING");
    let mut queued = Vec::new();
    for (n, name) in ["second", "third", "fourth"].into_iter().enumerate() {
        queued.push(send(&ws, &format!("ask {name}"), true).await);
        ws.waiting_reaches(n as u64 + 1).await;
    }
    assert_eq!(ws.host.engine().admission().running(), 1);
    for task in &queued {
        let now = get_task(&ws, &id(task)).await;
        assert_eq!(state(&now), "TASK_STATE_SUBMITTED", "{now}");
    }
    assert_eq!(
        ws.prompts(),
        ["first"],
        "no queued task reached the adapter"
    );
    ws.gate.add_permits(4);
    for task in std::iter::once(&first).chain(&queued) {
        let done = finished(&ws, &id(task)).await;
        assert_eq!(state(&done), "TASK_STATE_COMPLETED", "{done}");
    }
    assert_eq!(ws.prompts(), ["first", "second", "third", "fourth"]);
    assert_eq!(ws.host.engine().admission().running(), 0);
    ws.ws.shutdown().await.unwrap();
}

/// One slot, a queue of one: a third task fails at once "busy" naming the slot and queue
/// keys; the queued one fails once it waited `max_wait`, naming that key; the running one is
/// untouched and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_and_a_long_wait_fail_busy_naming_the_keys() {
    let before = hit_count(Budget::Waiting);
    let ws =
        boot_gated("{admission: {max_concurrent_calls: 1, max_waiting: 1, max_wait: 1s}}").await;
    let started = metric(&ws, "molecule_tasks_started_total ").await;
    let busy = metric(&ws, BUSY).await;
    let running = send(&ws, "ask running", true).await;
    eventually(
        || ws.prompts().len() == 1,
        "the first task to reach the model",
    )
    .await;
    let queued = send(&ws, "ask queued", true).await;
    ws.waiting_reaches(1).await;

    let refused = send(&ws, "ask refused", false).await;
    assert_eq!(state(&refused), "TASK_STATE_FAILED", "{refused}");
    let text = status_text(&refused);
    assert!(text.starts_with("busy:"), "{text}");
    assert!(text.contains("sandbox.admission.max_waiting"), "{text}");
    assert!(
        text.contains("sandbox.admission.max_concurrent_calls"),
        "{text}"
    );

    let waited = finished(&ws, &id(&queued)).await;
    assert_eq!(state(&waited), "TASK_STATE_FAILED", "{waited}");
    let text = status_text(&waited);
    assert!(text.starts_with("busy: waited 1s"), "{text}");
    assert!(text.contains("or sandbox.admission.max_wait"), "{text}");
    assert!(!text.contains("max_waiting"), "{text}");
    assert_eq!(
        ws.prompts(),
        ["running"],
        "neither refused task reached the adapter"
    );
    assert!(hit_count(Budget::Waiting) >= before + 2);

    // Both carry a receipt of their wait (nothing ran) and count as started and busy.
    let receipt = &refused["metadata"]["molecule.receipt"];
    assert!(receipt["waited_ms"].as_f64() >= Some(0.0), "{refused}");
    assert_eq!(receipt["wall_ms"], 0.0, "{refused}");
    assert_eq!(receipt["host_calls"], 0, "{refused}");
    let receipt = &waited["metadata"]["molecule.receipt"];
    assert!(receipt["waited_ms"].as_f64() >= Some(1000.0), "{waited}");
    assert!(metric(&ws, BUSY).await >= busy + 2.0);
    // Other tests of this process start tasks too: at least the running one and the two.
    assert!(metric(&ws, "molecule_tasks_started_total ").await >= started + 3.0);

    ws.gate.add_permits(1);
    let done = finished(&ws, &id(&running)).await;
    assert_eq!(state(&done), "TASK_STATE_COMPLETED", "{done}");
    ws.ws.shutdown().await.unwrap();
}

/// The `/metrics` line of tasks that failed busy.
const BUSY: &str = "molecule_tasks_finished_total{outcome=\"busy\"} ";

/// The value of the `/metrics` line starting with `prefix` (0 when there is none yet).
async fn metric(ws: &Workspace, prefix: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", ws.base()))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A task canceled while its adapter waits on the model still gets a receipt (what it spent
/// until it was stopped) in the stored task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_task_keeps_a_receipt_of_what_it_spent() {
    let ws = boot_gated("{admission: {max_concurrent_calls: 4}}").await;
    let task = send(&ws, "ask slowly", true).await;
    eventually(|| ws.prompts().len() == 1, "the task to reach the model").await;
    let canceled = rpc(&ws.base(), "CancelTask", json!({"id": id(&task)})).await;
    assert_eq!(state(&canceled), "TASK_STATE_CANCELED", "{canceled}");
    let mut stored = get_task(&ws, &id(&task)).await;
    for _ in 0..2_000 {
        if stored["metadata"]["molecule.receipt"].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        stored = get_task(&ws, &id(&task)).await;
    }
    let receipt = &stored["metadata"]["molecule.receipt"];
    assert!(receipt["wall_ms"].as_f64() > Some(0.0), "{stored}");
    assert!(receipt["waited_ms"].is_number(), "{stored}");
    assert_eq!(state(&stored), "TASK_STATE_CANCELED", "{stored}");
    ws.gate.add_permits(1);
    ws.ws.shutdown().await.unwrap();
}

/// At one slot, a task whose adapter calls a skill tool completes: the nested call runs in
/// the task's slot instead of queueing behind it. Guest code ran on the guest pool: the
/// model (a host call made by the adapter) was asked from a guest thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_tool_calls_share_the_slot_and_guests_run_on_the_pool() {
    let ws = boot_gated("{admission: {max_concurrent_calls: 1, max_waiting: 0}}").await;
    let input = r#"{"json": {"team": {"lead": "Ada"}}, "pointer": "/team/lead"}"#;
    let done = send(&ws, &format!("tool query {input}"), false).await;
    assert_eq!(state(&done), "TASK_STATE_COMPLETED", "{done}");
    assert_eq!(done["artifacts"][0]["parts"][0]["text"], "\"Ada\"");

    ws.gate.add_permits(1);
    let asked = send(&ws, "ask where", false).await;
    assert_eq!(state(&asked), "TASK_STATE_COMPLETED", "{asked}");
    let (prompt, thread) = ws.seen.lock().unwrap()[0].clone();
    assert_eq!(prompt, "where");
    let thread = thread.unwrap_or_default();
    assert!(
        thread == INTERACTIVE_THREAD || thread == BATCH_THREAD,
        "the adapter ran on `{thread}`, not a guest pool thread"
    );
    ws.ws.shutdown().await.unwrap();
}

fn hit_count(budget: Budget) -> u64 {
    hits().find(|(b, _)| *b == budget).map_or(0, |(_, n)| n)
}

/// Two calls that each stay well under their own 256 MiB limit but together pass the
/// workspace's 64 MiB budget: the second growth is refused naming
/// `sandbox.admission.max_guest_memory`, the first completes, and the memory comes back
/// when the stores drop (a third call alone fits again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_memory_budget_refuses_what_two_calls_take_together() {
    let host = host();
    host.engine().admission().configure(AdmissionConfig {
        max_guest_memory: 64 << 20,
        ..AdmissionConfig::default()
    });
    let skill = host
        .load_skill(
            &guest_wasm("tests/guests/hostile"),
            Grants::builder("skill hostile").build(),
        )
        .await
        .map(Arc::new)
        .expect("hostile loads");
    let sandbox = Sandbox::new(host.engine().clone());
    let memory = host.engine().admission().memory().clone();
    let before = hit_count(Budget::GuestMemory);

    let holder = {
        let (sandbox, skill) = (sandbox.clone(), skill.clone());
        tokio::spawn(async move {
            let input = r#"{"mib": 40, "hold_ms": 5000}"#;
            sandbox.call_tool(&skill, "alloc_bomb", input).await
        })
    };
    eventually(|| memory.in_use() >= 40 << 20, "the first call's 40 MiB").await;
    let err = sandbox
        .call_tool(&skill, "alloc_bomb", r#"{"mib": 40}"#)
        .await
        .expect_err("40 + 40 MiB pass the 64 MiB workspace budget");
    let text = err.to_string();
    assert!(
        text.contains("sandbox.admission.max_guest_memory"),
        "{text}"
    );
    assert!(text.contains("64 MiB"), "{text}");
    assert!(hit_count(Budget::GuestMemory) > before);

    let out = holder.await.unwrap().expect("the first call is unharmed");
    assert_eq!(out, r#"{"allocated_mib":40}"#);
    assert_eq!(memory.in_use(), 0, "every store gave its memory back");
    let alone = sandbox
        .call_tool(&skill, "alloc_bomb", r#"{"mib": 40}"#)
        .await
        .expect("40 MiB alone fits");
    assert_eq!(alone, r#"{"allocated_mib":40}"#);
}

/// An MCP tool call (made inside `start_here::starting_here`) of a skill granted a folder
/// never runs on the asking thread: WASI file operations would block it. The same skill
/// without a folder does start there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_granted_folder_never_starts_on_the_asking_thread() {
    let host = host();
    let folder = tempfile::tempdir().unwrap();
    let wasm = guest_wasm("tests/guests/hostile");
    let plain = Grants::builder("skill hostile-plain").build();
    let with_folder = Grants::builder("skill hostile-folder")
        .dir(folder.path(), "/data", false)
        .build();
    let sandbox = Sandbox::new(host.engine().clone());
    let (started, hopped) = start_here::counts();
    for grants in [plain, with_folder] {
        let skill = host.load_skill(&wasm, grants).await.expect("hostile loads");
        let call = sandbox.call_tool(&skill, "echo", r#"{"value": 1}"#);
        let out = start_here::starting_here(call).await.expect("echo answers");
        assert_eq!(out, "1");
    }
    let (started_after, hopped_after) = start_here::counts();
    let delta = |after: &[(&str, u64)], before: &[(&str, u64)], label: &str| {
        let n = |list: &[(&str, u64)]| list.iter().find(|(l, _)| *l == label).unwrap().1;
        n(after) - n(before)
    };
    assert_eq!(
        delta(&hopped_after, &hopped, "files"),
        1,
        "the call with a folder hopped"
    );
    let here =
        delta(&started_after, &started, "answered") + delta(&started_after, &started, "moved");
    assert_eq!(here, 1, "the call without a folder started here");
}
