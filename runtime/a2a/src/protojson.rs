//! ProtoJSON field names: A2A request params may name a field by its lowerCamel JSON name
//! (`historyLength`) or by its original proto field name (`history_length`), as every
//! protobuf JSON parser accepts both (protobuf "JSON Mapping": "Parsers accept both the
//! lowerCamelCase name … and the original proto field name"). The request types come from
//! the `a2a-lf` crate (camelCase serde, no aliases), so the operations rewrite the params
//! tree to JSON names once, before anything reads it ([`json_names`]).
//!
//! Free-form values (`google.protobuf.Struct`/`Value` fields: every `metadata`, a part's
//! `data`, an extension's `params`) are the client's own data and are left as written.
//!
//! Enum fields (`TaskState`: `status` of ListTasks, a status's `state`; `Role`: a message's
//! `role`) may be given by number as well as by name, as protobuf JSON parsers accept both
//! ("Parsers accept both enum names and integer values"): `5` (or `"5"`, as a REST query
//! value arrives) becomes `TASK_STATE_CANCELED`; an unknown number is -32602 naming the field.

use serde_json::{Map, Value};

use crate::error::{clip, A2aError, A2aResult};

/// Members whose value is a `google.protobuf.Struct`/`Value` in the A2A proto: their keys are
/// data, never field names.
const FREE_FORM: &[&str] = &["metadata", "data", "params", "header"];

/// Names of `lf.a2a.v1.TaskState`, indexed by number.
const TASK_STATES: [&str; 9] = [
    "TASK_STATE_UNSPECIFIED",
    "TASK_STATE_SUBMITTED",
    "TASK_STATE_WORKING",
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_INPUT_REQUIRED",
    "TASK_STATE_REJECTED",
    "TASK_STATE_AUTH_REQUIRED",
];
/// Names of `lf.a2a.v1.Role`, indexed by number.
const ROLES: [&str; 3] = ["ROLE_UNSPECIFIED", "ROLE_USER", "ROLE_AGENT"];

/// The enum of a field that holds one (by JSON name): its proto name and its names by number.
fn enum_of(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    match name {
        "status" | "state" => Some(("TaskState", &TASK_STATES)),
        "role" => Some(("Role", &ROLES)),
        _ => None,
    }
}

/// True when `v` is an enum number as ProtoJSON writes it: a JSON number or a string of
/// ASCII digits (a REST query value).
fn is_enum_number(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// The enum name for the number `v` of field `path` (enum `which`, names `names`).
/// Errors: a number that is not one of the enum's values is -32602 naming the field.
fn enum_name(v: &Value, path: &str, which: &str, names: &[&str]) -> A2aResult<Value> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok())
        .and_then(|i| names.get(i))
        .map(|name| Value::String((*name).to_string()))
        .ok_or_else(|| {
            let shown = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            A2aError::InvalidParams(format!(
                "`{}`: {} is not a {which} number (0–{})",
                clip(path),
                clip(&shown),
                names.len() - 1
            ))
        })
}

/// The lowerCamel JSON name of a proto field name: `history_length` → `historyLength`
/// (protobuf's rule: drop each `_` and upper-case the letter after it). A name without `_`
/// is returned unchanged.
pub(crate) fn json_name(proto_name: &str) -> String {
    let mut out = String::with_capacity(proto_name.len());
    let mut upper = false;
    for c in proto_name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewrites every member name of the params tree `p` to its JSON name (`context_id` →
/// `contextId`), recursively through objects and arrays, except inside free-form members
/// ([`FREE_FORM`]). Errors: the same field given under both names (`{"contextId": "a",
/// "context_id": "b"}`) is [`A2aError::InvalidParams`] naming both, as protobuf JSON parsers
/// refuse a field set twice.
pub(crate) fn json_names(p: Value) -> A2aResult<Value> {
    rename(p, "")
}

fn rename(v: Value, path: &str) -> A2aResult<Value> {
    match v {
        Value::Object(map) => {
            if !map.keys().any(|k| k.contains('_')) && !has_nested(&map) && !has_enum_number(&map) {
                return Ok(Value::Object(map));
            }
            let mut out = Map::with_capacity(map.len());
            let mut seen: Vec<(String, String)> = Vec::new();
            for (key, value) in map {
                let name = json_name(&key);
                let inner_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                    return Err(A2aError::InvalidParams(format!(
                        "`{}` is given twice (as `{}` and `{}`)",
                        clip(&inner_path),
                        clip(first),
                        clip(&key)
                    )));
                }
                let value = if FREE_FORM.contains(&name.as_str()) {
                    value
                } else if let Some((which, names)) =
                    enum_of(&name).filter(|_| is_enum_number(&value))
                {
                    enum_name(&value, &inner_path, which, names)?
                } else {
                    rename(value, &inner_path)?
                };
                seen.push((name.clone(), key));
                out.insert(name, value);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| rename(item, &format!("{path}[{i}]")))
            .collect::<A2aResult<Vec<_>>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// True when an enum field holds a number (to be rewritten to its name).
fn has_enum_number(map: &Map<String, Value>) -> bool {
    map.iter()
        .any(|(k, v)| enum_of(&json_name(k)).is_some() && is_enum_number(v))
}

/// True when some member that is not free-form holds an object or array (which may hold
/// proto names further down).
fn has_nested(map: &Map<String, Value>) -> bool {
    map.iter().any(|(k, v)| {
        matches!(v, Value::Object(_) | Value::Array(_)) && !FREE_FORM.contains(&k.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_name_follows_protobuf_rule() {
        assert_eq!(json_name("history_length"), "historyLength");
        assert_eq!(
            json_name("task_push_notification_config"),
            "taskPushNotificationConfig"
        );
        assert_eq!(json_name("contextId"), "contextId");
        assert_eq!(json_name("id"), "id");
    }

    #[test]
    fn proto_names_become_json_names_except_in_free_form_values() {
        let p = json!({
            "message": {
                "message_id": "m1", "role": "ROLE_USER", "context_id": "c",
                "parts": [{"text": "hi", "media_type": "text/plain",
                           "data": null, "metadata": {"keep_me": 1}}],
                "metadata": {"snake_key": {"inner_key": 2}}
            },
            "configuration": {"history_length": 2, "return_immediately": true,
                              "accepted_output_modes": ["text/plain"]}
        });
        let out = json_names(p).expect("renamed");
        assert_eq!(out["message"]["messageId"], "m1");
        assert_eq!(out["message"]["contextId"], "c");
        assert_eq!(out["message"]["parts"][0]["mediaType"], "text/plain");
        assert_eq!(out["message"]["parts"][0]["metadata"]["keep_me"], 1);
        assert_eq!(out["message"]["metadata"]["snake_key"]["inner_key"], 2);
        assert_eq!(out["configuration"]["historyLength"], 2);
        assert_eq!(out["configuration"]["returnImmediately"], true);
        assert_eq!(out["configuration"]["acceptedOutputModes"][0], "text/plain");
        assert!(out["configuration"].get("history_length").is_none());
    }

    #[test]
    fn enum_numbers_become_names() {
        let out = json_names(json!({"status": 5})).expect("number");
        assert_eq!(out["status"], "TASK_STATE_CANCELED");
        let out = json_names(json!({"status": "6"})).expect("digits");
        assert_eq!(out["status"], "TASK_STATE_INPUT_REQUIRED");
        let out = json_names(json!({"message": {"role": 1, "parts": []}})).expect("role");
        assert_eq!(out["message"]["role"], "ROLE_USER");
        let out = json_names(json!({"status": "TASK_STATE_WORKING"})).expect("name");
        assert_eq!(out["status"], "TASK_STATE_WORKING");
        let out = json_names(json!({"metadata": {"status": 5}})).expect("free-form");
        assert_eq!(out["metadata"]["status"], 5);
        let err = json_names(json!({"status": 42})).expect_err("unknown");
        assert!(
            err.to_string().contains("`status`: 42 is not a TaskState"),
            "{err}"
        );
        let err = json_names(json!({"message": {"role": 3}})).expect_err("unknown role");
        assert!(err.to_string().contains("`message.role`"), "{err}");
        let err = json_names(json!({"status": 1.5})).expect_err("fraction");
        assert!(err.to_string().contains("1.5"), "{err}");
    }

    #[test]
    fn both_names_for_one_field_is_an_error() {
        let err = json_names(json!({"id": "t", "historyLength": 1, "history_length": 2}))
            .expect_err("duplicate");
        let text = err.to_string();
        assert!(text.contains("`historyLength` is given twice"), "{text}");
        let err = json_names(json!({"configuration": {"historyLength": 1, "history_length": 2}}))
            .expect_err("nested duplicate");
        assert!(
            err.to_string().contains("`configuration.historyLength`"),
            "{err}"
        );
    }
}
