//! The push-notification config operations (A2A 1.0 `CreateTaskPushNotificationConfig`,
//! `GetTaskPushNotificationConfig`, `ListTaskPushNotificationConfigs`,
//! `DeleteTaskPushNotificationConfig`) as plain async functions every binding calls, and
//! their JSON form (JSON-RPC params / REST body and path). A server without push delivery
//! (`a2a.push_notifications: false`) answers -32003 `PushNotificationNotSupported`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::error::{clip, A2aError, A2aResult};
use crate::push::{policy, PushService};
use crate::state::{agent, AppState};
use crate::types::{AuthenticationInfo, TaskPushNotificationConfig};

/// One of the four config operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushOp {
    /// `CreateTaskPushNotificationConfig`, REST `POST /tasks/{id}/pushNotificationConfigs`.
    Create,
    /// `GetTaskPushNotificationConfig`, REST `GET /tasks/{id}/pushNotificationConfigs/{cid}`.
    Get,
    /// `ListTaskPushNotificationConfigs`, REST `GET /tasks/{id}/pushNotificationConfigs`.
    List,
    /// `DeleteTaskPushNotificationConfig`, REST `DELETE /tasks/{id}/pushNotificationConfigs/{cid}`.
    Delete,
}

impl PushOp {
    /// The operation of a 1.0 JSON-RPC method name.
    pub(crate) fn from_method(method: &str) -> Option<PushOp> {
        Some(match method {
            "CreateTaskPushNotificationConfig" => PushOp::Create,
            "GetTaskPushNotificationConfig" => PushOp::Get,
            "ListTaskPushNotificationConfigs" => PushOp::List,
            "DeleteTaskPushNotificationConfig" => PushOp::Delete,
            _ => return None,
        })
    }
}

/// The push service of a ready server with push enabled.
///
/// Errors: [`A2aError::NotConfigured`] (agent setup failed), else
/// [`A2aError::PushNotificationNotSupported`] when push is off.
fn service(state: &AppState) -> A2aResult<&Arc<PushService>> {
    agent(state)?
        .push
        .get()
        .ok_or(A2aError::PushNotificationNotSupported)
}

/// Checks a webhook config against the egress policy (resolving its host once).
///
/// Errors: [`A2aError::InvalidParams`] naming `field` and the rule broken (not http(s), a
/// private address not in `a2a.push.allow_hosts`, DNS failure, ...).
pub(crate) async fn check_config(
    state: &AppState,
    config: &TaskPushNotificationConfig,
    field: &str,
) -> A2aResult<()> {
    let service = service(state)?;
    if config.url.is_empty() {
        return Err(A2aError::InvalidParams(format!(
            "missing field `{field}url`"
        )));
    }
    crate::push::limits::check_fields(config, field).map_err(A2aError::InvalidParams)?;
    policy::check(&config.url, &service.options.allow_hosts)
        .await
        .map(|_| ())
        .map_err(|why| A2aError::InvalidParams(format!("`{field}url`: {why}")))
}

/// CreateTaskPushNotificationConfig: checks the webhook, then stores `config` for its task
/// (a new id when none is given; the same id replaces). Answers the config as stored.
///
/// Errors: -32602 (bad URL or address refused by the policy), -32001 (no such task), -32003
/// (push off), 503 (store).
pub(crate) async fn create(
    state: &AppState,
    mut config: TaskPushNotificationConfig,
) -> A2aResult<TaskPushNotificationConfig> {
    check_config(state, &config, "").await?;
    let service = service(state)?;
    agent(state)?.get_task(&config.task_id).await?;
    if config.id.as_deref().is_none_or(str::is_empty) {
        config.id = Some(crate::types::new_id());
    }
    let max = crate::push::limits::MAX_CONFIGS_PER_TASK;
    let stored = service
        .store()
        .put_push_config_within(config.clone(), max)
        .await
        .map_err(|e| A2aError::store(&e))?;
    let too_many = || A2aError::InvalidParams(crate::push::limits::too_many(&config.task_id));
    if !stored {
        return Err(too_many());
    }
    if !service.remember(config.clone()) {
        // A message's config was attached meanwhile: the limit holds in the store too.
        let id = config.id.as_deref().unwrap_or_default();
        let _ = service
            .store()
            .delete_push_config(&config.task_id, id)
            .await;
        return Err(too_many());
    }
    Ok(config)
}

/// GetTaskPushNotificationConfig.
///
/// Errors: -32001 when the task or the config does not exist, -32003 (push off).
pub(crate) async fn get(
    state: &AppState,
    task_id: &str,
    id: &str,
) -> A2aResult<TaskPushNotificationConfig> {
    let service = service(state)?;
    agent(state)?.get_task(task_id).await?;
    service
        .store()
        .get_push_config(task_id, id)
        .await
        .map_err(|e| A2aError::store(&e))?
        .ok_or_else(|| {
            A2aError::TaskNotFound(format!(
                "{} has no push notification config `{}`",
                clip(task_id),
                clip(id)
            ))
        })
}

/// Page size of ListTaskPushNotificationConfigs when `pageSize` is absent or 0 (proto3's
/// default), and the largest one accepted.
pub(crate) const PUSH_PAGE_SIZE_MAX: usize = 100;

/// ListTaskPushNotificationConfigs: one page of the task's configs, oldest first — at most
/// `page_size` (1–100; `None`: 100) after the `page_token` of the previous page — and the
/// token of the next page ("" on the last one). The token is the store's sequence number of
/// the last config returned, as decimal text.
///
/// Errors: -32001 (no such task), -32003 (push off), -32602 (a token that is not one).
pub(crate) async fn list(
    state: &AppState,
    task_id: &str,
    page_size: Option<usize>,
    page_token: &str,
) -> A2aResult<(Vec<TaskPushNotificationConfig>, String)> {
    let service = service(state)?;
    agent(state)?.get_task(task_id).await?;
    let after = match page_token {
        "" => 0,
        t => t.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            A2aError::InvalidParams(format!("`pageToken` `{}` is invalid", clip(t)))
        })?,
    };
    let (configs, next) = service
        .store()
        .list_push_configs_page(task_id, after, page_size.unwrap_or(PUSH_PAGE_SIZE_MAX))
        .await
        .map_err(|e| A2aError::store(&e))?;
    Ok((configs, next.map(|n| n.to_string()).unwrap_or_default()))
}

/// `pageSize` of a list request: absent or 0 → `None`; 1–100 (a number or numeric text, as
/// query strings carry it); anything else is -32602.
fn page_size(map: &Map<String, Value>) -> A2aResult<Option<usize>> {
    let n = match map.get("pageSize") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(0) => Ok(None),
        Some(n) if (1..=PUSH_PAGE_SIZE_MAX as i64).contains(&n) => Ok(usize::try_from(n).ok()),
        _ => Err(A2aError::InvalidParams(format!(
            "`pageSize` must be an integer 1–{PUSH_PAGE_SIZE_MAX}"
        ))),
    }
}

/// DeleteTaskPushNotificationConfig: no more deliveries to that webhook. Deleting a config
/// that does not exist is not an error (the outcome is the same).
///
/// Errors: -32001 (no such task), -32003 (push off).
pub(crate) async fn delete(state: &AppState, task_id: &str, id: &str) -> A2aResult<()> {
    let service = service(state)?;
    agent(state)?.get_task(task_id).await?;
    service.forget(task_id, id);
    service
        .store()
        .delete_push_config(task_id, id)
        .await
        .map_err(|e| A2aError::store(&e))?;
    Ok(())
}

fn string(map: &Map<String, Value>, key: &str) -> A2aResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(A2aError::InvalidParams(format!("`{key}` must be a string"))),
    }
}

fn required(map: &Map<String, Value>, key: &str) -> A2aResult<String> {
    string(map, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| A2aError::InvalidParams(format!("missing field `{key}`")))
}

/// Reads a config object: the 1.0 flat form (`taskId`, `id`, `url`, `token`,
/// `authentication{scheme,credentials}`), or the 0.3 form with the webhook under
/// `pushNotificationConfig` (`authentication.schemes[0]`).
pub(crate) fn parse_config(p: &Value) -> A2aResult<TaskPushNotificationConfig> {
    let top = p
        .as_object()
        .ok_or_else(|| A2aError::InvalidParams("params must be an object".into()))?;
    let inner = match top.get("pushNotificationConfig") {
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(A2aError::InvalidParams(
                "`pushNotificationConfig` must be an object".into(),
            ))
        }
        None => top,
    };
    let authentication = match inner.get("authentication") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            let a = &crate::compat_v03_auth::authentication_to_v1(a, "authentication")?;
            let prefixed = |e: A2aError| match e {
                A2aError::InvalidParams(m) => {
                    A2aError::InvalidParams(m.replacen('`', "`authentication.", 1))
                }
                e => e,
            };
            let scheme = string(a, "scheme").map_err(prefixed)?.unwrap_or_default();
            if scheme.is_empty() {
                return Err(A2aError::InvalidParams(
                    "missing field `authentication.scheme`".into(),
                ));
            }
            Some(AuthenticationInfo {
                scheme,
                credentials: string(a, "credentials").map_err(prefixed)?,
            })
        }
        Some(_) => {
            return Err(A2aError::InvalidParams(
                "`authentication` must be an object".into(),
            ))
        }
    };
    Ok(TaskPushNotificationConfig {
        url: required(inner, "url")?,
        id: string(inner, "id")?.filter(|s| !s.is_empty()),
        task_id: string(top, "taskId")?.unwrap_or_default(),
        token: string(inner, "token")?,
        authentication,
        tenant: string(top, "tenant")?,
    })
}

fn config_json(c: &TaskPushNotificationConfig) -> A2aResult<Value> {
    serde_json::to_value(c).map_err(|e| A2aError::Internal(format!("encode push config: {e}")))
}

/// Runs `op` on JSON params (1.0 names; the 0.3 forms `{id: <task>,
/// pushNotificationConfigId}` are read too) and answers its 1.0 JSON result.
pub(crate) async fn run(state: &AppState, op: PushOp, p: Value) -> A2aResult<Value> {
    // Capability gating comes first: with push off, every push call is -32003.
    if agent(state).is_ok_and(|s| s.push.get().is_none()) {
        return Err(A2aError::PushNotificationNotSupported);
    }
    let empty = Map::new();
    let map = match &p {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(A2aError::InvalidParams("params must be an object".into())),
    };
    // 1.0: `taskId` + `id` (the config); 0.3: `id` (the task) + `pushNotificationConfigId`.
    let ids = |need_config: bool| -> A2aResult<(String, String)> {
        if map.contains_key("taskId") {
            let task = required(map, "taskId")?;
            let id = if need_config {
                required(map, "id")?
            } else {
                String::new()
            };
            Ok((task, id))
        } else {
            let task = required(map, "id")?;
            let id = if need_config {
                required(map, "pushNotificationConfigId")?
            } else {
                String::new()
            };
            Ok((task, id))
        }
    };
    match op {
        PushOp::Create => {
            let config = parse_config(&p)?;
            if config.task_id.is_empty() {
                return Err(A2aError::InvalidParams("missing field `taskId`".into()));
            }
            config_json(&create(state, config).await?)
        }
        PushOp::Get => {
            let (task, id) = ids(true)?;
            config_json(&get(state, &task, &id).await?)
        }
        PushOp::List => {
            let (task, _) = ids(false)?;
            let size = page_size(map)?;
            let token = string(map, "pageToken")?.unwrap_or_default();
            let (configs, next) = list(state, &task, size, &token).await?;
            let configs = configs
                .iter()
                .map(config_json)
                .collect::<A2aResult<Vec<_>>>()?;
            Ok(json!({ "configs": configs, "nextPageToken": next }))
        }
        PushOp::Delete => {
            let (task, id) = ids(true)?;
            delete(state, &task, &id).await?;
            Ok(json!({}))
        }
    }
}
