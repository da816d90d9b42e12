//! A test adapter. The first word of the user's text picks what it does:
//!
//! * `tool NAME JSON` — calls tool NAME with JSON and returns its output as an artifact;
//! * `tools` — lists the tool names it sees;
//! * `wait` — reports WORKING every 20 ms until the host says the task was cancelled;
//! * `trap` — crashes;
//! * `fail` — returns an error;
//! * `history` — returns the texts of the history it was given;
//! * `instance` — how many tasks this instance has run, and how often `setup` ran in it
//!   (`tasks=1 setups=1` in a fresh instance);
//! * `ask` — asks the model and returns its answer;
//! * `config KEY` — returns that key of the setup config;
//! * `say TEXT` — answers with the message `TEXT` alone (`events.reply`: no task);
//! * `working` — reports WORKING twice, then answers with an artifact;
//! * `parts` — returns, as JSON, every part it was given (history, then the new message:
//!   `{"role", "marked", "parts": [{"text"} | {"data"} | {"file"}]}`, `marked` when the
//!   message metadata has the host's `molecule.approval`) and the decision it was given
//!   (`{"messages": […], "approval": …}`), even on a resumed task;
//! * anything else — returns `echo: <text>`.
//!
//! A task resumed with a human's approval decision (`RequestContext::approval`) answers
//! `approval: <Decision> kind=… id=… text=… result=… error=…` whatever the text (but `parts`).
//!
//! Setup fails when the config has `"fail_setup": true` (at the top level, or in
//! `runtime_config`, where a workspace's config.yaml puts it).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use molecule_guest_sdk::adapter::{Adapter, RequestContext};
use molecule_guest_sdk::types::{HostError, Message, Part, Role, TaskState};
use molecule_guest_sdk::{events, export_adapter, llm, tools};
use serde_json::{json, Value};

static CONFIG: OnceLock<Value> = OnceLock::new();
/// Tasks and setups this instance has seen (a fresh instance per task keeps both at 1).
static TASKS: AtomicU32 = AtomicU32::new(0);
static SETUPS: AtomicU32 = AtomicU32::new(0);

struct Echo;

fn reply(text: impl Into<String>) -> Result<(), String> {
    events::text_artifact(Some("answer"), text).map_err(|e| format!("{e:?}"))
}

impl Adapter for Echo {
    fn name() -> String {
        "echo".into()
    }

    fn setup(config: Value) -> Result<(), String> {
        let fail = Value::Bool(true);
        if config["fail_setup"] == fail || config["runtime_config"]["fail_setup"] == fail {
            return Err("setup refused: fail_setup is true (token sk-live-abcdef123456)".into());
        }
        let _ = CONFIG.set(config);
        SETUPS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn execute(context: RequestContext) -> Result<(), String> {
        TASKS.fetch_add(1, Ordering::Relaxed);
        if context.message.text().split_whitespace().next() == Some("parts") {
            return reply(parts_seen(&context).to_string());
        }
        if let Some(approval) = context.approval() {
            // Resumed after a human's answer: report what the adapter was given.
            return reply(format!(
                "approval: {:?} kind={} id={} text={} result={} error={}",
                approval.decision,
                approval.kind,
                approval.id,
                approval.text,
                approval.result.unwrap_or_default(),
                approval.error.unwrap_or_default()
            ));
        }
        let text = context.message.text();
        let (command, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        match command {
            "tool" => {
                let (name, input) = rest.split_once(' ').unwrap_or((rest, "{}"));
                match tools::call_raw(name, input) {
                    Ok(out) => reply(out),
                    Err(e) => reply(format!("tool error: {e:?}")),
                }
            }
            "tools" => {
                let names: Vec<String> = tools::list().into_iter().map(|t| t.name).collect();
                reply(names.join(","))
            }
            "wait" => loop {
                match events::status(TaskState::Working, None) {
                    Err(HostError::Cancelled) => return Err("cancelled".into()),
                    Err(e) => return Err(format!("{e:?}")),
                    Ok(()) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            },
            "trap" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[cfg(not(target_arch = "wasm32"))]
                unreachable!()
            }
            "fail" => Err(format!("asked to fail: {rest}")),
            "instance" => reply(format!(
                "tasks={} setups={}",
                TASKS.load(Ordering::Relaxed),
                SETUPS.load(Ordering::Relaxed)
            )),
            "history" => {
                let texts: Vec<String> = context.history.iter().map(|m| m.text()).collect();
                reply(texts.join(" | "))
            }
            "ask" => match llm::ask(rest) {
                Ok(answer) => reply(answer),
                Err(e) => Err(format!("model error: {e:?}")),
            },
            "config" => {
                let value = CONFIG.get().map(|c| c[rest].clone()).unwrap_or(Value::Null);
                reply(value.to_string())
            }
            "say" => events::reply_text(rest).map_err(|e| format!("{e:?}")),
            "working" => {
                for _ in 0..2 {
                    events::status(TaskState::Working, None).map_err(|e| format!("{e:?}"))?;
                }
                reply("worked")
            }
            _ => reply(format!("echo: {text}")),
        }
    }
}

/// Every part the adapter was given, and its decision (the `parts` command).
fn parts_seen(context: &RequestContext) -> Value {
    let message = |m: &Message| {
        let parts: Vec<Value> = m
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => json!({"text": t}),
                Part::Data(d) => json!({"data": d}),
                Part::File(f) => json!({"file": f.name}),
            })
            .collect();
        let role = if matches!(m.role, Role::Agent) { "agent" } else { "user" };
        let marked = molecule_guest_sdk::approval::host_marked(m.metadata.as_deref());
        json!({"role": role, "marked": marked, "parts": parts})
    };
    let messages: Vec<Value> = context
        .history
        .iter()
        .chain(std::iter::once(&context.message))
        .map(message)
        .collect();
    let approval = context.approval().map(|a| json!({"decision": format!("{:?}", a.decision),
        "id": a.id, "result": a.result}));
    json!({"messages": messages, "approval": approval})
}

export_adapter!(Echo);
