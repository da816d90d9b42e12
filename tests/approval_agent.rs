//! Human approval with a real agent loop: the langgraph adapter (built from source) and the
//! `scripted` model, with a copy of the real `demo/skills/json-query` skill whose `query` tool
//! config.yaml gates (`approval: {tools: [query]}`), driven over A2A JSON-RPC with reqwest.
//! The model's `request_approval` call and its gated `query` call each move the task to
//! INPUT_REQUIRED; the follow-up answer resumes it, and the model's next request carries the
//! decision (and, for the approved `query`, the call's result, run once by the host).

use std::net::{IpAddr, Ipv4Addr};
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

/// The model: asks for approval of a deploy, or calls `query`; answers after a decision (the
/// decision rules come first: the resumed message also quotes the deploy it answers).
const SCRIPT: &str = r#"
rules:
  - when: "approve"
    turns:
      - text: "Approved, so: the team lead is Ada."
  - when: "deny"
    turns:
      - text: "Denied, so I will not deploy."
  - when: "deploy"
    turns:
      - text: "I need a human first."
        tool_calls:
          - name: request_approval
            id: call_ask
            arguments: {action: deploy v2, reason: release day}
turns:
  - text: "Looking it up."
    tool_calls:
      - name: query
        id: call_query
        arguments: {json: {team: {lead: Ada}}, pointer: /team/lead}
"#;

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

async fn boot_langgraph(dir: &std::path::Path) -> (RunningWorkspace, Arc<Mutex<Vec<ChatRequest>>>) {
    copy_crate("demo/skills/json-query", &dir.join("skills/json-query"));
    let yaml = "name: approval agent\nruntime: langgraph\nmodel: scripted:approval\n\
                approval:\n  tools: [query]\n";
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    std::fs::write(dir.join("model-script.yaml"), SCRIPT).unwrap();
    let overrides = Overrides {
        config_dir: Some(dir.to_owned()),
        port: Some(0),
        bind: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let plan = Plan::new(Env::from_pairs(Vec::<(String, String)>::new()), &overrides);
    assert!(
        !plan.preflight.has_failures(),
        "{}",
        plan.preflight.render()
    );
    let inner = ScriptedProvider::from_file(&dir.join("model-script.yaml")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let provider = Arc::new(Recording {
        inner,
        seen: seen.clone(),
    });
    let selection = ModelSelection::resolve(None, "scripted:approval").unwrap();
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
    (ws, seen)
}

async fn send(ws: &RunningWorkspace, text: &str, task: Option<&Value>) -> Value {
    let mut message = json!({"messageId": format!("m-{text}"), "role": "ROLE_USER",
                             "parts": [{"text": text}]});
    if let Some(task) = task {
        message["taskId"] = task["id"].clone();
        message["contextId"] = task["contextId"].clone();
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                      "params": {"message": message}});
    let resp = reqwest::Client::new()
        .post(format!("http://{}/", ws.addr))
        .header("A2A-Version", "1.0")
        .json(&body)
        .send()
        .await
        .expect("send");
    let body: Value = resp.json().await.unwrap();
    body["result"]["task"].clone()
}

fn artifact_text(task: &Value) -> String {
    let parts = task["artifacts"].as_array().into_iter().flatten();
    parts
        .flat_map(|a| a["parts"].as_array().into_iter().flatten())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// The pending id of an INPUT_REQUIRED task (from the question's data part).
fn pending_id(task: &Value) -> String {
    assert_eq!(
        task["status"]["state"], "TASK_STATE_INPUT_REQUIRED",
        "{task}"
    );
    let parts = task["status"]["message"]["parts"].as_array().cloned();
    let data = parts
        .into_iter()
        .flatten()
        .find_map(|p| p.get("data").cloned());
    data.and_then(|d| d["approval"]["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no approval data part in {task}"))
}

/// The user text of the model's last request.
/// The last request's text of `role`'s last message.
fn last_text(seen: &Mutex<Vec<ChatRequest>>, role: ChatRole) -> String {
    let seen = seen.lock().unwrap();
    let last = seen.last().expect("the model was asked");
    let found = last.messages.iter().rev().find(|m| m.role == role);
    found.map(|m| m.content.clone()).unwrap_or_default()
}

/// What the model last read as the host's decisions: the system message, which only the
/// host's SDK writes, holds the decision; the user's turn holds the reply and a pointer.
fn decision_seen(seen: &Mutex<Vec<ChatRequest>>) -> String {
    let user = last_text(seen, ChatRole::User);
    assert!(
        // The guest SDK's `agent::DECISION_POINTER`.
        user.contains("approval decision is in the system message"),
        "the user's turn points to the decision: {user}"
    );
    assert!(
        !user.contains("\"decision\""),
        "not in the user's turn: {user}"
    );
    last_text(seen, ChatRole::System)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langgraph_waits_for_a_human_and_sees_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, seen) = boot_langgraph(dir.path()).await;

    // The model asks; a human denies; the model's next request carries the denial.
    let task = send(&ws, "Please deploy v2", None).await;
    let id = pending_id(&task);
    let done = send(&ws, "deny", Some(&task)).await;
    assert_eq!(done["status"]["state"], "TASK_STATE_COMPLETED", "{done}");
    assert!(
        artifact_text(&done).contains("Denied, so I will not deploy"),
        "{done}"
    );
    let said = decision_seen(&seen);
    assert!(
        said.contains("\"decision\":\"denied\"") && said.contains(&id),
        "{said}"
    );

    // The model calls the gated `query`: held; approved with its id, it runs once and the
    // model sees its result in the decision.
    let asked_before = seen.lock().unwrap().len();
    let task = send(&ws, "Who leads the team?", None).await;
    let id = pending_id(&task);
    assert_eq!(
        seen.lock().unwrap().len(),
        asked_before + 1,
        "one model turn, then held"
    );
    let done = send(&ws, &format!("approve {id}"), Some(&task)).await;
    assert_eq!(done["status"]["state"], "TASK_STATE_COMPLETED", "{done}");
    assert!(
        artifact_text(&done).contains("the team lead is Ada"),
        "{done}"
    );
    let said = decision_seen(&seen);
    assert!(
        said.contains("\"decision\":\"approved\"") && said.contains("\"result\":\"\\\"Ada\\\"\""),
        "{said}"
    );
    ws.shutdown().await.unwrap();
}
