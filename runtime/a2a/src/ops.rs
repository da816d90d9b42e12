//! The A2A operations shared by both bindings: each takes 1.0 JSON params, validates them
//! (errors name the field) and answers 1.0 JSON or an event stream. The bindings only do
//! framing and the 0.3 rewrite.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::error::{clip, A2aError, A2aResult};
use crate::manager::{self, EventReceiver, SendOutcome};
use crate::state::{agent, AppState};
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

fn params<T: for<'de> Deserialize<'de>>(p: Value, what: &str) -> A2aResult<T> {
    let p = if p.is_null() { json!({}) } else { p };
    serde_json::from_value(p)
        .map_err(|e| A2aError::InvalidParams(format!("{what}: {}", clip(&e.to_string()))))
}

/// Parses a params object (JSON-RPC `params`, a REST body). Valid JSON holding a number no
/// `f64` can hold (`1e400`) is -32602 naming the member and repeating the number as written;
/// anything else that does not parse is -32700.
pub(crate) fn parse_params(text: &str) -> A2aResult<Value> {
    serde_json::from_str(text).map_err(|e| match unfit_number(text, "") {
        Some((path, number)) => A2aError::InvalidParams(format!(
            "`{path}`: the number {} is out of range",
            clip(&number)
        )),
        None => A2aError::Parse(e.to_string()),
    })
}

/// The path and text of the first number in the JSON `text` that does not fit a JSON value
/// here (out of `f64` range), or `None` (also when `text` is not valid JSON).
fn unfit_number(text: &str, path: &str) -> Option<(String, String)> {
    match text.trim_start().as_bytes().first()? {
        b'{' => {
            let members: std::collections::BTreeMap<String, &RawValue> =
                serde_json::from_str(text).ok()?;
            members.iter().find_map(|(k, v)| {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                unfit_number(v.get(), &path)
            })
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| unfit_number(v.get(), &format!("{path}[{i}]")))
        }
        b'-' | b'0'..=b'9' => serde_json::from_str::<Value>(text)
            .is_err()
            .then(|| (path.to_string(), text.trim().to_string())),
        _ => None,
    }
}

/// The largest `historyLength`: the field is an `int32` in the A2A proto.
const MAX_HISTORY_LENGTH: i64 = i32::MAX as i64;
/// `ListTasks.pageSize` bounds and default (A2A 1.0: "The minimum value is 1. The maximum
/// value is 100." and at most 50 when unset).
const PAGE_SIZE_MIN: i64 = 1;
const PAGE_SIZE_MAX: i64 = 100;
const PAGE_SIZE_DEFAULT: usize = 50;

/// Reads the members of a params object with errors that name the member. An out-of-range
/// or mistyped value is refused (-32602 naming the field), never clamped or ignored. A
/// member that is `null` counts as absent; unknown members are ignored (A2A: "Unknown fields
/// are ignored").
struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Prepended to member names in errors, e.g. `configuration.`.
    prefix: &'a str,
    /// The object's JSON text as the client wrote it, when known: errors repeat a bad number
    /// as written (`-0`, not `-0.0`).
    raw: Option<&'a str>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Fields<'a> {
    /// The members of `p` (`null` = no members); anything but an object is an error naming
    /// `what`.
    fn of(p: &'a Value, prefix: &'a str, what: &str, raw: Option<&'a str>) -> A2aResult<Self> {
        let map = match p {
            Value::Object(map) => map,
            Value::Null => &EMPTY,
            other => {
                return Err(A2aError::InvalidParams(format!(
                    "`{what}` must be an object, got {}",
                    kind(other)
                )))
            }
        };
        Ok(Fields { map, prefix, raw })
    }

    /// The JSON text of member `key` as the client wrote it, when known.
    fn written(&self, key: &str) -> Option<String> {
        let members: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(self.raw?).ok()?;
        members.get(key).map(|v| v.get().trim().to_string())
    }

    /// A member's value for an error text: a number as written, else [`shown`].
    fn shown(&self, key: &str, v: &Value) -> String {
        match v {
            Value::Number(_) => self
                .written(key)
                .map_or_else(|| shown(v), |text| clip(&text)),
            _ => shown(v),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string member.
    fn string(&self, key: &str) -> A2aResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(A2aError::InvalidParams(format!(
                "`{}` must be a string, got {}",
                self.name(key),
                kind(other)
            ))),
        }
    }

    /// A required string member.
    fn required_string(&self, key: &str) -> A2aResult<String> {
        self.string(key)?
            .ok_or_else(|| A2aError::InvalidParams(format!("missing field `{}`", self.name(key))))
    }

    /// An optional boolean member.
    fn bool(&self, key: &str) -> A2aResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(A2aError::InvalidParams(format!(
                "`{}` must be true or false, got {}",
                self.name(key),
                self.shown(key, other)
            ))),
        }
    }

    /// An optional integer member in `min..=max`. As in the protobuf JSON mapping, a whole
    /// number may also be written as a string of digits (`"10"`, as a REST query gives it;
    /// surrounding whitespace is refused, as protojson does) or with a zero fraction (`10.0`,
    /// `1e1`).
    fn int(&self, key: &str, min: i64, max: i64) -> A2aResult<Option<i64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let name = self.name(key);
        let got = self.shown(key, v);
        let range = || {
            A2aError::InvalidParams(format!(
                "`{name}` must be between {min} and {max}, got {got}"
            ))
        };
        let not_int = || {
            A2aError::InvalidParams(format!(
                "`{name}` must be a whole number between {min} and {max}, got {got}"
            ))
        };
        let n: i64 = match v {
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i,
                (None, Some(_), _) => return Err(range()),
                (None, None, Some(f)) if f.is_finite() && f.fract() == 0.0 => {
                    // Beyond i64 is out of range whatever the bounds are.
                    if f.abs() >= 9.2e18 {
                        return Err(range());
                    }
                    f as i64
                }
                _ => return Err(not_int()),
            },
            Value::String(s) if s.trim() != s => return Err(not_int()),
            Value::String(s) => match s.parse::<i64>() {
                Ok(i) => i,
                Err(e) => {
                    return Err(match e.kind() {
                        std::num::IntErrorKind::PosOverflow
                        | std::num::IntErrorKind::NegOverflow => range(),
                        _ => not_int(),
                    })
                }
            },
            _ => return Err(not_int()),
        };
        if (min..=max).contains(&n) {
            Ok(Some(n))
        } else {
            Err(range())
        }
    }
}

/// "a string", "an object", ... for error texts.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a scalar value for error texts (its kind for containers).
fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind(v).to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}…", s.chars().take(40).collect::<String>())
        }
        other => other.to_string(),
    }
}

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
