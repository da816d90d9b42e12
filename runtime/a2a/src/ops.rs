//! The A2A operations shared by both bindings: each takes 1.0 JSON params, validates them
//! (errors name the field) and answers 1.0 JSON or an event stream. The bindings only do
//! framing and the 0.3 rewrite.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{A2aError, A2aResult};
use crate::manager::{self, EventReceiver, SendOutcome, Shared};
use crate::server::AppState;
use crate::store::{parse_page_token, ListQuery};
use crate::types::{parse_state_name, trim_history, SendMessageRequest, Task};

/// One A2A operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    SendMessage,
    SendStreamingMessage,
    GetTask,
    ListTasks,
    CancelTask,
    SubscribeToTask,
    PushConfig,
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
            | "DeleteTaskPushNotificationConfig" => Op::PushConfig,
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

fn params<T: for<'de> Deserialize<'de>>(p: Value, what: &str) -> A2aResult<T> {
    let p = if p.is_null() { json!({}) } else { p };
    serde_json::from_value(p).map_err(|e| A2aError::InvalidParams(format!("{what}: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdParams {
    id: String,
    #[serde(default)]
    history_length: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    context_id: Option<String>,
    status: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
    history_length: Option<i64>,
    status_timestamp_after: Option<String>,
    include_artifacts: Option<bool>,
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

fn history_length(v: Option<i64>, field: &str) -> A2aResult<Option<i32>> {
    match v {
        None => Ok(None),
        Some(n) if n < 0 => Err(A2aError::InvalidParams(format!(
            "`{field}` must be >= 0, got {n}"
        ))),
        Some(n) => Ok(Some(i32::try_from(n).unwrap_or(i32::MAX))),
    }
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

/// Runs `op` with 1.0 JSON `p`.
pub(crate) async fn run(
    state: &AppState,
    shared: &Arc<Shared>,
    op: Op,
    p: Value,
) -> A2aResult<Reply> {
    if op.is_streaming() && !state.card.streaming() {
        return Err(A2aError::UnsupportedOperation(
            "streaming is not declared in the agent card".into(),
        ));
    }
    match op {
        Op::SendMessage => {
            check_message_parts(&p)?;
            let req: SendMessageRequest = params(p, "params")?;
            let cfg = req.configuration.clone();
            if cfg
                .as_ref()
                .is_some_and(|c| c.task_push_notification_config.is_some())
            {
                return Err(A2aError::PushNotificationNotSupported);
            }
            let hl = history_length(
                cfg.as_ref().and_then(|c| c.history_length).map(i64::from),
                "configuration.historyLength",
            )?;
            let immediate = cfg.and_then(|c| c.return_immediately).unwrap_or(false);
            match manager::send_message(shared, req, immediate).await? {
                SendOutcome::Message(m) => Ok(Reply::Json(json!({ "message": m }))),
                SendOutcome::Task(mut t) => {
                    trim_history(&mut t, hl);
                    encoded(&TaskResult { task: &t })
                }
            }
        }
        Op::SendStreamingMessage => {
            check_message_parts(&p)?;
            let req: SendMessageRequest = params(p, "params")?;
            if req
                .configuration
                .as_ref()
                .is_some_and(|c| c.task_push_notification_config.is_some())
            {
                return Err(A2aError::PushNotificationNotSupported);
            }
            let rx = manager::start(shared, req, manager::Follow::Stream)
                .await?
                .events;
            Ok(Reply::Stream(rx))
        }
        Op::GetTask => {
            let q: IdParams = params(p, "params")?;
            let hl = history_length(q.history_length, "historyLength")?;
            let mut t = shared.get_task(&q.id).await?;
            trim_history(&mut t, hl);
            encoded(&t)
        }
        Op::CancelTask => {
            let q: IdParams = params(p, "params")?;
            Ok(Reply::Json(task_json(
                &manager::cancel(shared, &q.id).await?,
            )?))
        }
        Op::SubscribeToTask => {
            let q: IdParams = params(p, "params")?;
            Ok(Reply::Stream(manager::subscribe(shared, &q.id).await?))
        }
        Op::ListTasks => list(shared, params(p, "params")?).await,
        Op::PushConfig => Err(A2aError::PushNotificationNotSupported),
        Op::GetExtendedAgentCard => Err(A2aError::ExtendedAgentCardNotConfigured),
    }
}

async fn list(shared: &Arc<Shared>, q: ListParams) -> A2aResult<Reply> {
    let page_size = match q.page_size {
        None => 50,
        Some(n) if n < 1 => {
            return Err(A2aError::InvalidParams(format!(
                "`pageSize` must be between 1 and 100, got {n}"
            )))
        }
        Some(n) => usize::try_from(n.min(100)).unwrap_or(100),
    };
    let state = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None | Some("TASK_STATE_UNSPECIFIED") => None,
        Some(s) => Some(
            parse_state_name(s)
                .ok_or_else(|| A2aError::InvalidParams(format!("`status`: unknown state `{s}`")))?,
        ),
    };
    let after = match q.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            parse_page_token(t)
                .ok_or_else(|| A2aError::InvalidParams(format!("`pageToken` `{t}` is invalid")))?,
        ),
    };
    let updated_after_ms = match q.status_timestamp_after.as_deref() {
        None | Some("") => None,
        Some(ts) => Some(
            chrono::DateTime::parse_from_rfc3339(ts)
                .map_err(|e| {
                    A2aError::InvalidParams(format!("`statusTimestampAfter` `{ts}`: {e}"))
                })?
                .timestamp_millis(),
        ),
    };
    let hl = history_length(q.history_length, "historyLength")?;
    let include_artifacts = q.include_artifacts.unwrap_or(false);
    let page = shared
        .store
        .list(ListQuery {
            context_id: q.context_id.filter(|c| !c.is_empty()),
            state,
            updated_after_ms,
            page_size,
            after,
        })
        .await
        .map_err(|e| A2aError::Internal(e.to_string()))?;
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
