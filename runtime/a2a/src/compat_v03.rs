//! The A2A 0.3 wire mapping, done on JSON values: 0.3 requests (kind-tagged parts, lowercase
//! roles, `blocking`) are rewritten into 1.0 JSON before parsing, and 1.0 results (tasks,
//! messages, stream events) are rewritten into 0.3 JSON (`kind` tags, lowercase states,
//! `final` on status updates) before sending.

use serde_json::{json, Map, Value};

use crate::error::{A2aError, A2aResult};

/// 0.3 JSON-RPC method names and the 1.0 method each one maps to.
pub(crate) const METHODS: &[(&str, &str)] = &[
    ("message/send", "SendMessage"),
    ("message/stream", "SendStreamingMessage"),
    ("tasks/get", "GetTask"),
    ("tasks/list", "ListTasks"),
    ("tasks/cancel", "CancelTask"),
    ("tasks/resubscribe", "SubscribeToTask"),
    (
        "tasks/pushNotificationConfig/set",
        "CreateTaskPushNotificationConfig",
    ),
    (
        "tasks/pushNotificationConfig/get",
        "GetTaskPushNotificationConfig",
    ),
    (
        "tasks/pushNotificationConfig/list",
        "ListTaskPushNotificationConfigs",
    ),
    (
        "tasks/pushNotificationConfig/delete",
        "DeleteTaskPushNotificationConfig",
    ),
    ("agent/getAuthenticatedExtendedCard", "GetExtendedAgentCard"),
];

/// The 1.0 method name for a 0.3 method name.
pub(crate) fn method_to_v1(method: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|(old, _)| *old == method)
        .map(|(_, new)| *new)
}

fn obj<'a>(v: &'a Value, field: &str) -> A2aResult<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| A2aError::InvalidParams(format!("`{field}` must be an object")))
}

/// Rewrites 0.3 `MessageSendParams` into a 1.0 `SendMessageRequest` JSON value.
pub(crate) fn send_params_to_v1(params: &Value) -> A2aResult<Value> {
    let p = obj(params, "params")?;
    let mut out = Map::new();
    let message = p
        .get("message")
        .ok_or_else(|| A2aError::InvalidParams("missing field `params.message`".into()))?;
    out.insert("message".into(), message_to_v1(message)?);
    if let Some(cfg) = p.get("configuration").filter(|c| !c.is_null()) {
        let c = obj(cfg, "params.configuration")?;
        let mut nc = Map::new();
        if let Some(m) = c.get("acceptedOutputModes") {
            nc.insert("acceptedOutputModes".into(), m.clone());
        }
        if let Some(h) = c.get("historyLength") {
            nc.insert("historyLength".into(), h.clone());
        }
        if let Some(b) = c.get("blocking").and_then(Value::as_bool) {
            nc.insert("returnImmediately".into(), Value::Bool(!b));
        }
        if let Some(pn) = c.get("pushNotificationConfig").filter(|p| !p.is_null()) {
            let pn = crate::compat_v03_push::push_config_to_v1(
                pn,
                "params.configuration.pushNotificationConfig",
            )?;
            nc.insert("taskPushNotificationConfig".into(), pn);
        }
        out.insert("configuration".into(), Value::Object(nc));
    }
    if let Some(m) = p.get("metadata") {
        out.insert("metadata".into(), m.clone());
    }
    Ok(Value::Object(out))
}

/// Rewrites a 0.3 `Message` into 1.0 JSON.
pub(crate) fn message_to_v1(message: &Value) -> A2aResult<Value> {
    let mut m = obj(message, "message")?.clone();
    m.remove("kind");
    if let Some(role) = m.get("role").and_then(Value::as_str) {
        let mapped = match role {
            "user" => "ROLE_USER",
            "agent" => "ROLE_AGENT",
            other => other,
        };
        m.insert("role".into(), Value::String(mapped.to_string()));
    }
    if let Some(parts) = m.get("parts") {
        let parts = parts
            .as_array()
            .ok_or_else(|| A2aError::InvalidParams("`message.parts` must be an array".into()))?;
        let converted = parts
            .iter()
            .enumerate()
            .map(|(i, p)| part_to_v1(p, i))
            .collect::<A2aResult<Vec<_>>>()?;
        m.insert("parts".into(), Value::Array(converted));
    }
    Ok(Value::Object(m))
}

fn part_to_v1(part: &Value, index: usize) -> A2aResult<Value> {
    let field = format!("message.parts[{index}]");
    let p = obj(part, &field)?;
    let kind = p.get("kind").and_then(Value::as_str).unwrap_or_else(|| {
        if p.contains_key("file") {
            "file"
        } else if p.contains_key("data") {
            "data"
        } else {
            "text"
        }
    });
    let mut out = Map::new();
    let mut metadata = p.get("metadata").and_then(Value::as_object).cloned();
    match kind {
        "text" => {
            let text = p.get("text").and_then(Value::as_str).ok_or_else(|| {
                A2aError::InvalidParams(format!("missing string field `{field}.text`"))
            })?;
            out.insert("text".into(), Value::String(text.to_string()));
        }
        "data" => {
            let data = p
                .get("data")
                .ok_or_else(|| A2aError::InvalidParams(format!("missing field `{field}.data`")))?;
            let compat = metadata
                .as_mut()
                .and_then(|m| m.remove("data_part_compat"))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let value = if compat {
                data.get("value").cloned().unwrap_or(Value::Null)
            } else {
                data.clone()
            };
            out.insert("data".into(), value);
        }
        "file" => {
            let file = p
                .get("file")
                .and_then(Value::as_object)
                .ok_or_else(|| A2aError::InvalidParams(format!("missing object `{field}.file`")))?;
            if let Some(b) = file.get("bytes").and_then(Value::as_str) {
                out.insert("raw".into(), Value::String(b.to_string()));
            } else if let Some(u) = file.get("uri").and_then(Value::as_str) {
                out.insert("url".into(), Value::String(u.to_string()));
            } else {
                return Err(A2aError::InvalidParams(format!(
                    "`{field}.file` needs `bytes` or `uri`"
                )));
            }
            if let Some(mt) = file.get("mimeType") {
                out.insert("mediaType".into(), mt.clone());
            }
            if let Some(n) = file.get("name") {
                out.insert("filename".into(), n.clone());
            }
        }
        other => {
            return Err(A2aError::InvalidParams(format!(
                "unknown part kind `{other}` in `{field}.kind`"
            )))
        }
    }
    if let Some(m) = metadata.filter(|m| !m.is_empty()) {
        out.insert("metadata".into(), Value::Object(m));
    }
    Ok(Value::Object(out))
}

/// The 0.3 name of a 1.0 task state name (`TASK_STATE_INPUT_REQUIRED` → `input-required`).
pub(crate) fn state_to_v03(state: &str) -> String {
    match state.strip_prefix("TASK_STATE_") {
        Some("UNSPECIFIED") | None => "unknown".to_string(),
        Some(rest) => rest.to_ascii_lowercase().replace('_', "-"),
    }
}

/// Rewrites a 1.0 `Part` into a 0.3 kind-tagged part.
pub(crate) fn part_to_v03(part: &Value) -> Value {
    let Some(p) = part.as_object() else {
        return part.clone();
    };
    let mut metadata = p.get("metadata").and_then(Value::as_object).cloned();
    let mut out = Map::new();
    if let Some(t) = p.get("text") {
        out.insert("kind".into(), json!("text"));
        out.insert("text".into(), t.clone());
    } else if p.contains_key("raw") || p.contains_key("url") {
        let mut file = Map::new();
        if let Some(r) = p.get("raw") {
            file.insert("bytes".into(), r.clone());
        } else if let Some(u) = p.get("url") {
            file.insert("uri".into(), u.clone());
        }
        if let Some(mt) = p.get("mediaType") {
            file.insert("mimeType".into(), mt.clone());
        }
        if let Some(n) = p.get("filename") {
            file.insert("name".into(), n.clone());
        }
        out.insert("kind".into(), json!("file"));
        out.insert("file".into(), Value::Object(file));
    } else {
        let data = p.get("data").cloned().unwrap_or(Value::Null);
        out.insert("kind".into(), json!("data"));
        if data.is_object() {
            out.insert("data".into(), data);
        } else {
            out.insert("data".into(), json!({ "value": data }));
            metadata
                .get_or_insert_with(Map::new)
                .insert("data_part_compat".into(), Value::Bool(true));
        }
    }
    if let Some(m) = metadata.filter(|m| !m.is_empty()) {
        out.insert("metadata".into(), Value::Object(m));
    }
    Value::Object(out)
}

fn parts_to_v03(v: &mut Map<String, Value>) {
    if let Some(Value::Array(parts)) = v.get_mut("parts") {
        for p in parts.iter_mut() {
            *p = part_to_v03(p);
        }
    }
}

/// Rewrites a 1.0 `Message` into 0.3 JSON.
pub(crate) fn message_to_v03(message: &Value) -> Value {
    let Some(m) = message.as_object() else {
        return message.clone();
    };
    let mut m = m.clone();
    m.insert("kind".into(), json!("message"));
    if let Some(role) = m.get("role").and_then(Value::as_str) {
        let mapped = match role {
            "ROLE_USER" => "user",
            "ROLE_AGENT" => "agent",
            other => other,
        }
        .to_string();
        m.insert("role".into(), Value::String(mapped));
    }
    parts_to_v03(&mut m);
    Value::Object(m)
}

fn status_to_v03(status: &Value) -> Value {
    let Some(s) = status.as_object() else {
        return status.clone();
    };
    let mut s = s.clone();
    if let Some(state) = s.get("state").and_then(Value::as_str) {
        s.insert("state".into(), Value::String(state_to_v03(state)));
    }
    if let Some(msg) = s.get("message").map(message_to_v03) {
        s.insert("message".into(), msg);
    }
    Value::Object(s)
}

fn artifact_to_v03(artifact: &Value) -> Value {
    let mut a = artifact.as_object().cloned().unwrap_or_default();
    parts_to_v03(&mut a);
    Value::Object(a)
}

/// Rewrites a 1.0 `Task` into 0.3 JSON.
pub(crate) fn task_to_v03(task: &Value) -> Value {
    let Some(t) = task.as_object() else {
        return task.clone();
    };
    let mut t = t.clone();
    t.insert("kind".into(), json!("task"));
    if let Some(s) = t.get("status").map(status_to_v03) {
        t.insert("status".into(), s);
    }
    if let Some(Value::Array(h)) = t.get_mut("history") {
        for m in h.iter_mut() {
            *m = message_to_v03(m);
        }
    }
    if let Some(Value::Array(arts)) = t.get_mut("artifacts") {
        for a in arts.iter_mut() {
            *a = artifact_to_v03(a);
        }
    }
    Value::Object(t)
}

/// Rewrites a 1.0 `StreamResponse` (or `SendMessageResponse`) wrapper into the bare 0.3 event
/// (`Task`, `Message`, `TaskStatusUpdateEvent` with `final`, `TaskArtifactUpdateEvent`).
pub(crate) fn stream_response_to_v03(resp: &Value) -> Value {
    if let Some(t) = resp.get("task") {
        return task_to_v03(t);
    }
    if let Some(m) = resp.get("message") {
        return message_to_v03(m);
    }
    if let Some(su) = resp.get("statusUpdate").and_then(Value::as_object) {
        let mut su = su.clone();
        let state = su
            .get("status")
            .and_then(|s| s.get("state"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let fin = crate::types::parse_state_name(&state)
            .map(|s| crate::types::is_final(&s))
            .unwrap_or(false);
        if let Some(s) = su.get("status").map(status_to_v03) {
            su.insert("status".into(), s);
        }
        su.insert("kind".into(), json!("status-update"));
        su.insert("final".into(), Value::Bool(fin));
        return Value::Object(su);
    }
    if let Some(au) = resp.get("artifactUpdate").and_then(Value::as_object) {
        let mut au = au.clone();
        if let Some(a) = au.get("artifact").map(artifact_to_v03) {
            au.insert("artifact".into(), a);
        }
        au.insert("kind".into(), json!("artifact-update"));
        return Value::Object(au);
    }
    resp.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_message_maps_roles_and_parts() {
        let v = json!({"kind":"message","messageId":"m1","role":"user","parts":[
            {"kind":"text","text":"hi"},
            {"kind":"file","file":{"uri":"http://x/y","mimeType":"text/plain","name":"y"}},
            {"kind":"data","data":{"a":1}}]});
        let out = message_to_v1(&v).expect("convert");
        assert_eq!(out["role"], "ROLE_USER");
        assert!(out.get("kind").is_none());
        assert_eq!(out["parts"][0], json!({"text":"hi"}));
        assert_eq!(out["parts"][1]["url"], "http://x/y");
        assert_eq!(out["parts"][1]["mediaType"], "text/plain");
        assert_eq!(out["parts"][2], json!({"data":{"a":1}}));
        let m: crate::types::Message = serde_json::from_value(out).expect("parse 1.0");
        assert_eq!(m.parts.len(), 3);
    }

    #[test]
    fn bad_part_names_the_field() {
        let v = json!({"messageId":"m","role":"user","parts":[{"kind":"text"}]});
        let err = message_to_v1(&v).expect_err("must fail");
        assert!(err.to_string().contains("message.parts[0].text"), "{err}");
    }

    #[test]
    fn outbound_status_update_has_final() {
        let v = json!({"statusUpdate":{"taskId":"t","contextId":"c",
            "status":{"state":"TASK_STATE_INPUT_REQUIRED"}}});
        let out = stream_response_to_v03(&v);
        assert_eq!(out["kind"], "status-update");
        assert_eq!(out["final"], true);
        assert_eq!(out["status"]["state"], "input-required");
    }

    #[test]
    fn blocking_false_means_return_immediately() {
        let p = json!({"message":{"messageId":"m","role":"user","parts":[]},
            "configuration":{"blocking":false}});
        let out = send_params_to_v1(&p).expect("convert");
        assert_eq!(out["configuration"]["returnImmediately"], true);
    }

    #[test]
    fn message_push_config_authentication_schemes_become_scheme() {
        let p = json!({"message":{"messageId":"m","role":"user","parts":[]},
            "configuration":{"pushNotificationConfig":{"url":"http://h/","token":"t",
                "authentication":{"schemes":["Bearer"],"credentials":"c"}}}});
        let out = send_params_to_v1(&p).expect("convert");
        assert_eq!(
            out["configuration"]["taskPushNotificationConfig"],
            json!({"url":"http://h/","token":"t",
                   "authentication":{"scheme":"Bearer","credentials":"c"}})
        );
    }
}
