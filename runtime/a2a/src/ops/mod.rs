//! The A2A operations shared by both bindings: each takes 1.0 JSON params, validates them
//! (errors name the field) and answers 1.0 JSON or an event stream. The bindings only do
//! framing and the 0.3 rewrite.

mod fields;

use serde_json::{json, Value};

use crate::error::{clip, A2aError, A2aResult};
use crate::manager::{self, EventReceiver, SendOutcome};
use crate::state::{agent, AppState};
use crate::store::{parse_page_token, ListQuery};
use crate::types::{parse_state_name, trim_history, SendMessageRequest, Task};
pub(crate) use fields::parse_params;
use fields::{params, Fields};

/// One A2A operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    SendMessage,
    SendStreamingMessage,
    GetTask,
    ListTasks,
    CancelTask,
    SubscribeToTask,
    /// One of the four push-config operations.
    PushConfig(crate::push_ops::PushOp),
    GetExtendedAgentCard,
}

impl Op {
    /// The operation for a 1.0 JSON-RPC method name.
    pub(crate) fn from_method(method: &str) -> Option<Op> {
        Some(match method {
            "SendMessage" => Op::SendMessage,
            "SendStreamingMessage" => Op::SendStreamingMessage,
            "GetTask" => Op::GetTask,
            "ListTasks" => Op::ListTasks,
            "CancelTask" => Op::CancelTask,
            "SubscribeToTask" => Op::SubscribeToTask,
            "CreateTaskPushNotificationConfig"
            | "GetTaskPushNotificationConfig"
            | "ListTaskPushNotificationConfigs"
            | "DeleteTaskPushNotificationConfig" => {
                Op::PushConfig(crate::push_ops::PushOp::from_method(method)?)
            }
            "GetExtendedAgentCard" => Op::GetExtendedAgentCard,
            _ => return None,
        })
    }

    /// True for the streaming operations.
    pub(crate) fn is_streaming(self) -> bool {
        matches!(self, Op::SendStreamingMessage | Op::SubscribeToTask)
    }
}

/// What an operation answers.
pub(crate) enum Reply {
    /// A single 1.0 JSON result.
    Json(Value),
    /// A single 1.0 JSON result, already encoded (tasks: written straight from the typed task,
    /// with no JSON tree in between).
    Encoded(String),
    /// An event stream (already started).
    Stream(EventReceiver),
}

/// The largest `historyLength`: the field is an `int32` in the A2A proto.
const MAX_HISTORY_LENGTH: i64 = i32::MAX as i64;
/// `ListTasks.pageSize` bounds and default (A2A 1.0: "The minimum value is 1. The maximum
/// value is 100." and at most 50 when unset).
const PAGE_SIZE_MIN: i64 = 1;
const PAGE_SIZE_MAX: i64 = 100;
const PAGE_SIZE_DEFAULT: usize = 50;

/// A validated `historyLength` (0 = no history, N = at most N messages) as the `i32` the
/// proto declares.
fn history_length(f: &Fields<'_>) -> A2aResult<Option<i32>> {
    Ok(f.int("historyLength", 0, MAX_HISTORY_LENGTH)?
        .and_then(|n| i32::try_from(n).ok()))
}

/// Validates `configuration.historyLength` of SendMessage params before the typed parse (so
/// the error names the field) and writes it back as a plain integer.
fn check_send_configuration(p: &mut Value, raw: Option<&str>) -> A2aResult<Option<i32>> {
    let Some(cfg) = p.get_mut("configuration").filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let raw_cfg = Fields::of(&Value::Null, "", "params", raw)?.written("configuration");
    let hl = history_length(&Fields::of(
        cfg,
        "configuration.",
        "configuration",
        raw_cfg.as_deref(),
    )?)?;
    if let (Some(n), Some(obj)) = (hl, cfg.as_object_mut()) {
        obj.insert("historyLength".into(), Value::from(n));
    }
    Ok(hl)
}

/// Checks the raw message JSON: at least one part, and each part holds exactly one of
/// `text`, `raw`, `url`, `data` (the typed parser would silently pick one).
fn check_message_parts(p: &Value) -> A2aResult<()> {
    let Some(parts) = p.get("message").and_then(|m| m.get("parts")) else {
        return Ok(()); // the typed parser reports the missing field
    };
    let parts = parts
        .as_array()
        .ok_or_else(|| A2aError::InvalidParams("`message.parts` must be an array".into()))?;
    if parts.is_empty() {
        return Err(A2aError::InvalidParams(
            "`message.parts` must not be empty".into(),
        ));
    }
    for (i, part) in parts.iter().enumerate() {
        let n = ["text", "raw", "url", "data"]
            .iter()
            .filter(|k| part.get(**k).is_some())
            .count();
        if n != 1 {
            return Err(A2aError::InvalidParams(format!(
                "`message.parts[{i}]` must have exactly one of text, raw, url, data (has {n})"
            )));
        }
    }
    Ok(())
}

fn task_json(task: &Task) -> A2aResult<Value> {
    serde_json::to_value(task).map_err(|e| A2aError::Internal(format!("encode task: {e}")))
}

fn encoded<T: serde::Serialize>(value: &T) -> A2aResult<Reply> {
    serde_json::to_string(value)
        .map(Reply::Encoded)
        .map_err(|e| A2aError::Internal(format!("encode task: {e}")))
}

/// SendMessage's `{"task": ...}` result.
#[derive(serde::Serialize)]
struct TaskResult<'a> {
    task: &'a Task,
}

/// Runs `op` with 1.0 JSON `p`, whose JSON text as the client sent it is `raw` when known
/// (errors then repeat bad numbers as written). The params are validated first; only a valid
/// request reaches the agent, and a server that is not configured answers
/// [`A2aError::NotConfigured`] at that point.
pub(crate) async fn run(state: &AppState, op: Op, p: Value, raw: Option<&str>) -> A2aResult<Reply> {
    // ProtoJSON: `history_length` is read as `historyLength` (protojson.rs).
    let p = crate::protojson::json_names(p)?;
    if op.is_streaming() && !state.card.streaming() {
        return Err(A2aError::UnsupportedOperation(
            "streaming is not declared in the agent card".into(),
        ));
    }
    match op {
        Op::SendMessage => {
            let mut p = p;
            check_message_parts(&p)?;
            let hl = check_send_configuration(&mut p, raw)?;
            let req: SendMessageRequest = params(p, "params")?;
            let cfg = req.configuration.clone();
            check_push_config(state, &req).await?;
            let immediate = cfg.and_then(|c| c.return_immediately).unwrap_or(false);
            match manager::send_message(agent(state)?, req, immediate).await? {
                SendOutcome::Message(m) => Ok(Reply::Json(json!({ "message": m }))),
                SendOutcome::Task(mut t) => {
                    trim_history(&mut t, hl);
                    encoded(&TaskResult { task: &t })
                }
            }
        }
        Op::SendStreamingMessage => {
            let mut p = p;
            check_message_parts(&p)?;
            check_send_configuration(&mut p, raw)?;
            let req: SendMessageRequest = params(p, "params")?;
            check_push_config(state, &req).await?;
            let rx = manager::start(agent(state)?, req, manager::Follow::Stream)
                .await?
                .events;
            Ok(Reply::Stream(rx))
        }
        Op::GetTask => {
            let f = Fields::of(&p, "", "params", raw)?;
            let id = f.required_string("id")?;
            let hl = history_length(&f)?;
            let mut t = agent(state)?.get_task(&id).await?;
            trim_history(&mut t, hl);
            encoded(&t)
        }
        Op::CancelTask => {
            let id = Fields::of(&p, "", "params", raw)?.required_string("id")?;
            Ok(Reply::Json(task_json(
                &manager::cancel(agent(state)?, &id).await?,
            )?))
        }
        Op::SubscribeToTask => {
            let id = Fields::of(&p, "", "params", raw)?.required_string("id")?;
            Ok(Reply::Stream(manager::subscribe(agent(state)?, &id).await?))
        }
        Op::ListTasks => list(state, &Fields::of(&p, "", "params", raw)?).await,
        Op::PushConfig(push) => Ok(Reply::Json(crate::push_ops::run(state, push, p).await?)),
        Op::GetExtendedAgentCard => state
            .card
            .extended_json()
            .map(Reply::Json)
            .ok_or(A2aError::ExtendedAgentCardNotConfigured),
    }
}

/// A push config sent with a message must pass the egress policy before the task starts
/// (-32003 when push is off, -32602 naming the field when the webhook is refused).
async fn check_push_config(state: &AppState, req: &SendMessageRequest) -> A2aResult<()> {
    match req
        .configuration
        .as_ref()
        .and_then(|c| c.task_push_notification_config.as_ref())
    {
        None => Ok(()),
        Some(c) => {
            crate::push_ops::check_config(state, c, "configuration.taskPushNotificationConfig.")
                .await?;
            // A continued task must have room for one more config (push/limits.rs).
            let push = agent(state)?.push.get();
            match (push, req.message.task_id.as_deref()) {
                (Some(p), Some(task)) if !p.has_room(task, c.id.as_deref()) => {
                    Err(A2aError::InvalidParams(crate::push::limits::too_many(task)))
                }
                _ => Ok(()),
            }
        }
    }
}

async fn list(app: &AppState, f: &Fields<'_>) -> A2aResult<Reply> {
    let page_size = match f.int("pageSize", PAGE_SIZE_MIN, PAGE_SIZE_MAX)? {
        None => PAGE_SIZE_DEFAULT,
        Some(n) => usize::try_from(n).unwrap_or(PAGE_SIZE_DEFAULT),
    };
    let status = f.string("status")?;
    let state = match status.as_deref().filter(|s| !s.is_empty()) {
        None | Some("TASK_STATE_UNSPECIFIED") => None,
        Some(s) => Some(parse_state_name(s).ok_or_else(|| {
            A2aError::InvalidParams(format!("`status`: unknown state `{}`", clip(s)))
        })?),
    };
    let page_token = f.string("pageToken")?;
    let after = match page_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(parse_page_token(t).ok_or_else(|| {
            A2aError::InvalidParams(format!("`pageToken` `{}` is invalid", clip(t)))
        })?),
    };
    let updated_after_ms = match f.string("statusTimestampAfter")?.as_deref() {
        None | Some("") => None,
        Some(ts) => Some(
            chrono::DateTime::parse_from_rfc3339(ts)
                .map_err(|e| {
                    A2aError::InvalidParams(format!("`statusTimestampAfter` `{}`: {e}", clip(ts)))
                })?
                .timestamp_millis(),
        ),
    };
    let hl = history_length(f)?;
    let context_id = f.string("contextId")?;
    let include_artifacts = f.bool("includeArtifacts")?.unwrap_or(false);
    let page = agent(app)?
        .store
        .list(ListQuery {
            context_id: context_id.filter(|c| !c.is_empty()),
            state,
            updated_after_ms,
            page_size,
            after,
        })
        .await
        .map_err(|e| A2aError::store(&e))?;
    let mut tasks = Vec::with_capacity(page.tasks.len());
    for mut t in page.tasks {
        trim_history(&mut t, hl);
        if !include_artifacts {
            t.artifacts = None;
        }
        tasks.push(task_json(&t)?);
    }
    Ok(Reply::Json(json!({
        "tasks": tasks,
        "nextPageToken": page.next_page_token,
        "pageSize": page_size,
        "totalSize": page.total_size,
    })))
}
