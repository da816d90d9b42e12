//! The A2A 0.3 wire form of push-notification configs, on JSON values (the rest of the 0.3
//! mapping is `compat_v03.rs`).
//!
//! - 0.3 `PushNotificationConfig` (`{id, url, token, authentication: {schemes: [..],
//!   credentials}}`) → the 1.0 flat config (`authentication: {scheme, credentials}`):
//!   [`authentication_to_v1`] is the one place `schemes` becomes `scheme` (a message's push
//!   config and `tasks/pushNotificationConfig/set` both use it).
//! - 1.0 results → 0.3 results: `set`/`get` answer a `TaskPushNotificationConfig` (`{taskId,
//!   pushNotificationConfig: {…}}`), `list` an array of them (every config of the task: 0.3
//!   has no paging), `delete` `null` (a2a 0.3 schema; the a2a-python 1.3.0 compat
//!   conversions `to_compat_task_push_notification_config`/`to_compat_authentication_info`).

use serde_json::{Map, Value};

use crate::compat_v03_auth::authentication_to_v1;
use crate::error::{A2aError, A2aResult};
use crate::ops::{self, Op, Reply};
use crate::push_ops::PushOp;
use crate::state::AppState;

/// Rewrites a 0.3 `PushNotificationConfig` (a message's
/// `configuration.pushNotificationConfig`) into a 1.0 `TaskPushNotificationConfig`.
///
/// Errors: -32602 when it is not an object or its `authentication` is malformed.
pub(crate) fn push_config_to_v1(config: &Value, field: &str) -> A2aResult<Value> {
    let mut c = config
        .as_object()
        .ok_or_else(|| A2aError::InvalidParams(format!("`{field}` must be an object")))?
        .clone();
    match c.get("authentication") {
        Some(Value::Object(a)) => {
            let a = authentication_to_v1(a, &format!("{field}.authentication"))?;
            c.insert("authentication".into(), Value::Object(a));
        }
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(A2aError::InvalidParams(format!(
                "`{field}.authentication` must be an object"
            )))
        }
    }
    Ok(Value::Object(c))
}

/// A 1.0 `TaskPushNotificationConfig` as the 0.3 `TaskPushNotificationConfig`.
pub(crate) fn config_to_v03(v: &Value) -> Value {
    let Some(c) = v.as_object() else {
        return v.clone();
    };
    let mut inner = Map::new();
    for key in ["id", "url", "token"] {
        if let Some(x) = c.get(key).filter(|x| !x.is_null()) {
            inner.insert(key.into(), x.clone());
        }
    }
    if let Some(a) = c.get("authentication").and_then(Value::as_object) {
        let mut auth = Map::new();
        let schemes = match a.get("scheme").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => vec![Value::String(s.to_string())],
            _ => Vec::new(),
        };
        auth.insert("schemes".into(), Value::Array(schemes));
        if let Some(cred) = a.get("credentials").filter(|x| !x.is_null()) {
            auth.insert("credentials".into(), cred.clone());
        }
        inner.insert("authentication".into(), Value::Object(auth));
    }
    let mut out = Map::new();
    out.insert(
        "taskId".into(),
        c.get("taskId")
            .cloned()
            .unwrap_or(Value::String(String::new())),
    );
    out.insert("pushNotificationConfig".into(), Value::Object(inner));
    Value::Object(out)
}

/// The 0.3 result of a push-config method from its 1.0 result.
pub(crate) fn result_to_v03(op: PushOp, v: &Value) -> Value {
    match op {
        PushOp::Create | PushOp::Get => config_to_v03(v),
        PushOp::List => Value::Array(
            v.get("configs")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().map(config_to_v03).collect())
                .unwrap_or_default(),
        ),
        PushOp::Delete => Value::Null,
    }
}

/// 0.3 `tasks/pushNotificationConfig/list`: every config of the task (0.3 has no paging), read
/// page by page through the 1.0 operation; answers the 1.0 shape (`{"configs": [...]}`) for
/// [`result_to_v03`].
///
/// Errors: those of `ListTaskPushNotificationConfigs`.
pub(crate) async fn list_all(state: &AppState, params: Value) -> A2aResult<Value> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let mut p = match &params {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        p.remove("pageSize");
        p.insert("pageToken".into(), Value::String(token.clone()));
        let page =
            match ops::run(state, Op::PushConfig(PushOp::List), Value::Object(p), None).await? {
                Reply::Json(v) => v,
                _ => return Err(A2aError::Internal("list answered no JSON".into())),
            };
        if let Some(Value::Array(cs)) = page.get("configs") {
            all.extend(cs.iter().cloned());
        }
        match page.get("nextPageToken").and_then(Value::as_str) {
            Some(t) if !t.is_empty() && t != token => token = t.to_string(),
            _ => break,
        }
    }
    Ok(serde_json::json!({ "configs": all }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_round_trips_to_03_shape() {
        let v1 = json!({"taskId": "t", "id": "c", "url": "http://h/", "token": "tk",
                        "authentication": {"scheme": "Bearer", "credentials": "s"}});
        assert_eq!(
            config_to_v03(&v1),
            json!({"taskId": "t", "pushNotificationConfig": {"id": "c", "url": "http://h/",
                   "token": "tk", "authentication": {"schemes": ["Bearer"], "credentials": "s"}}})
        );
        let list = result_to_v03(PushOp::List, &json!({"configs": [v1], "nextPageToken": ""}));
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        assert_eq!(result_to_v03(PushOp::Delete, &json!({})), Value::Null);
    }
}
