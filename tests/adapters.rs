//! The six adapters end to end through A2A: each test boots a workspace from a temp config
//! folder (config.yaml naming the adapter, a scripted model, and a copy of the real
//! `demo/skills/json-query` skill), sends a JSON-RPC `SendMessage` (A2A 1.0) with reqwest,
//! and checks that the model's scripted `query` call reached the skill (its result is fed back
//! to the model) and that the final answer arrives. langgraph also streams
//! (`SendStreamingMessage`) and must deliver artifact chunks. Each script matches its
//! adapter's strategy (crewai: a two-task crew; autogen: tool call, nudge, TERMINATE).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use molecule_config::Env;
use molecule_llm::{
    ChatRequest, ChatResponse, ChatRole, ChatStream, Gateway, LlmError, ModelSelection, Provider,
    ScriptedProvider,
};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::workspace::boot::{boot, BootDeps, RunningWorkspace};
use molecule_tests::{copy_crate, host, test_cache_dir};
use serde_json::{json, Value};

/// The value json-query returns for the scripted call.
const TOOL_RESULT: &str = "\"Ada\"";
/// The scripted call every adapter makes first.
const QUERY_CALL: &str = r#"
    tool_calls:
      - name: query
        id: call_query
        arguments: {json: {team: {lead: Ada}}, pointer: /team/lead}"#;

/// The scripted provider, recording every request it answers.
struct Recording {
    inner: ScriptedProvider,
    seen: Arc<Mutex<Vec<ChatRequest>>>,
}

#[async_trait]
impl Provider for Recording {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn complete(&self, model: &str, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.seen.lock().unwrap().push(request.clone());
        self.inner.complete(model, request).await
    }

    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        self.seen.lock().unwrap().push(request.clone());
        self.inner.stream(model, request).await
    }
}

/// Copies json-query into `<dir>/skills/json-query`, pointing its SDK path at the repo.
fn copy_json_query(dir: &Path) {
    copy_crate("demo/skills/json-query", &dir.join("skills/json-query"));
}

/// A booted workspace and what its model saw.
struct Workspace {
    ws: RunningWorkspace,
    seen: Arc<Mutex<Vec<ChatRequest>>>,
    _dir: tempfile::TempDir,
}

async fn boot_adapter(runtime: &str, runtime_config: &str, script: &str) -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    copy_json_query(dir.path());
    let yaml = format!(
        "name: {runtime} test\nruntime: {runtime}\nmodel: scripted:adapters\n\
         a2a: {{streaming: true}}\n{runtime_config}\n"
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("model-script.yaml"), script).unwrap();
    let overrides = Overrides {
        config_dir: Some(dir.path().to_owned()),
        port: Some(0),
        bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let plan = Plan::new(Env::from_pairs(Vec::<(String, String)>::new()), &overrides);
    assert!(
        !plan.preflight.has_failures(),
        "{}",
        plan.preflight.render()
    );
    let inner = ScriptedProvider::from_file(&dir.path().join("model-script.yaml")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let provider = Arc::new(Recording {
        inner,
        seen: seen.clone(),
    });
    let selection = ModelSelection::resolve(None, "scripted:adapters").unwrap();
    let deps = BootDeps {
        host: Arc::new(host()),
        builder: ComponentBuilder::new(&test_cache_dir()),
        gateway: Ok(Arc::new(Gateway::with_provider(selection, provider))),
        in_memory_tasks: true,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let ws = boot(plan, deps, listener).await.expect("boot");
    assert!(ws.not_configured.is_none(), "{:?}", ws.not_configured);
    let snapshot = ws.skills.snapshot();
    assert!(
        snapshot.tools.contains_key("query"),
        "json-query did not load: {:?}",
        snapshot.problems
    );
    Workspace {
        ws,
        seen,
        _dir: dir,
    }
}

fn request(ws: &Workspace, method: &str, text: &str) -> reqwest::RequestBuilder {
    let message = json!({"messageId": format!("m-{text}"), "role": "ROLE_USER",
                         "parts": [{"text": text}]});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method,
                      "params": {"message": message}});
    reqwest::Client::new()
        .post(format!("http://{}/", ws.ws.addr))
        .header("A2A-Version", "1.0")
        .json(&body)
}

async fn send(ws: &Workspace, text: &str) -> Value {
    let resp = request(ws, "SendMessage", text).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    body["result"]["task"].clone()
}

/// Every text of a task: artifacts (chunks joined) and the status message.
fn task_text(task: &Value) -> String {
    let mut out = String::new();
    for artifact in task["artifacts"].as_array().into_iter().flatten() {
        for part in artifact["parts"].as_array().into_iter().flatten() {
            out.push_str(part["text"].as_str().unwrap_or_default());
        }
        out.push('\n');
    }
    for part in task["status"]["message"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push_str(part["text"].as_str().unwrap_or_default());
    }
    out
}

/// Whether a request the model received carries json-query's result for `call_query`.
fn model_saw_tool_result(seen: &Mutex<Vec<ChatRequest>>) -> bool {
    seen.lock().unwrap().iter().any(|r| {
        r.messages.iter().any(|m| {
            m.role == ChatRole::Tool
                && m.tool_call_id.as_deref() == Some("call_query")
                && m.content.contains(TOOL_RESULT)
        })
    })
}

async fn check_adapter(runtime: &str, runtime_config: &str, script: &str, answer: &str) {
    let ws = boot_adapter(runtime, runtime_config, script).await;
    let task = send(&ws, "Who leads the team?").await;
    assert_eq!(
        task["status"]["state"], "TASK_STATE_COMPLETED",
        "{runtime}: {task}"
    );
    assert!(
        model_saw_tool_result(&ws.seen),
        "{runtime}: the model never got json-query's result: {:#?}",
        ws.seen.lock().unwrap()
    );
    let text = task_text(&task);
    assert!(
        text.contains(answer),
        "{runtime}: answer missing in {text:?} ({task})"
    );
    ws.ws.shutdown().await.unwrap();
}

/// Two turns: call `query`, then answer.
fn react_script(answer: &str) -> String {
    format!("turns:\n  - text: \"Looking it up.\"{QUERY_CALL}\n  - text: \"{answer}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langgraph_calls_the_skill_and_answers() {
    let answer = "The team lead is Ada (langgraph).";
    check_adapter("langgraph", "", &react_script(answer), answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepagents_calls_the_skill_and_answers() {
    let answer = "The team lead is Ada (deepagents).";
    check_adapter("deepagents", "", &react_script(answer), answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_calls_the_skill_and_answers() {
    let answer = "The team lead is Ada (claude-code).";
    let config = "runtime_config: {max_tokens: 1024}";
    check_adapter("claude-code", config, &react_script(answer), answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_calls_the_skill_and_answers() {
    let answer = "The team lead is Ada (openclaw).";
    let config = "runtime_config: {context: [\"Be brief.\"]}";
    check_adapter("openclaw", config, &react_script(answer), answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crewai_runs_a_two_task_crew_with_the_skill() {
    // Task 1 (researcher) calls the tool and reports; task 2 (writer) writes the answer. Each
    // task is a fresh conversation, so the rules key on the task descriptions (writer first:
    // its prompt quotes the research output).
    let config =
        "runtime_config:\n  agents:\n    researcher: {role: Researcher, goal: Find facts}\n    \
                  writer: {role: Writer, goal: Write clearly, tools: []}\n  tasks:\n    \
                  - {description: \"RESEARCH-STEP {input}\", agent: researcher}\n    \
                  - {description: \"WRITER-STEP summarise the research\", agent: writer}";
    let answer = "Final: Ada leads the team (crewai).";
    let script = format!(
        "rules:\n  - when: WRITER-STEP\n    turns:\n      - text: \"{answer}\"\n  \
         - when: RESEARCH-STEP\n    turns:\n      - text: \"Researching.\"{}\n      \
         - text: \"Research: the lead is Ada.\"\n",
        QUERY_CALL.replace("\n    ", "\n        ")
    );
    check_adapter("crewai", config, &script, answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autogen_group_chat_runs_until_terminate() {
    // Assistant: tool call; executor: runs it; assistant: answer without the keyword;
    // executor: nudges; assistant: TERMINATE. The answer is the last non-empty text.
    let answer = "The team lead is Ada (autogen).";
    // The scripted model counts turns since the last user message, and the nudge is one.
    let script = format!(
        "rules:\n  - when: \"No tool calls to execute\"\n    turns:\n      - text: TERMINATE\n\
         turns:\n  - text: \"Checking.\"{QUERY_CALL}\n  - text: \"{answer}\"\n"
    );
    check_adapter("autogen", "", &script, answer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langgraph_streams_artifact_chunks() {
    let answer = "The team lead is Ada, streamed in several chunks.";
    let script = format!("stream_chunk_chars: 8\n{}", react_script(answer));
    let ws = boot_adapter("langgraph", "", &script).await;
    let resp = request(&ws, "SendStreamingMessage", "Who leads the team? (stream)")
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let body = tokio::time::timeout(std::time::Duration::from_secs(60), resp.text())
        .await
        .expect("stream ends")
        .unwrap();
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).expect("SSE data is JSON"))
        .collect();
    let chunks: Vec<String> = events
        .iter()
        .filter_map(|e| e["result"].get("artifactUpdate"))
        .map(|u| {
            u["artifact"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str())
                .collect::<String>()
        })
        .collect();
    assert!(
        chunks.len() >= 3,
        "expected several artifact chunks: {events:#?}"
    );
    assert!(chunks.concat().contains(answer), "{chunks:?}");
    let last = events.last().unwrap();
    assert_eq!(
        last["result"]["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{last}"
    );
    assert!(model_saw_tool_result(&ws.seen));
    ws.ws.shutdown().await.unwrap();
}
