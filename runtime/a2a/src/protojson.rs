//! ProtoJSON field names: A2A request params may name a field by its lowerCamel JSON name
//! (`historyLength`) or by its original proto field name (`history_length`), as every
//! protobuf JSON parser accepts both (protobuf "JSON Mapping": "Parsers accept both the
//! lowerCamelCase name … and the original proto field name"). The request types come from
//! the `a2a-lf` crate (camelCase serde, no aliases), so the operations rewrite the params
//! tree to JSON names once, before anything reads it ([`json_names`]).
//!
//! Free-form values (`google.protobuf.Struct`/`Value` fields: every `metadata`, a part's
//! `data`, an extension's `params`) are the client's own data and are left as written.

use serde_json::{Map, Value};

use crate::error::{clip, A2aError, A2aResult};

/// Members whose value is a `google.protobuf.Struct`/`Value` in the A2A proto: their keys are
/// data, never field names.
const FREE_FORM: &[&str] = &["metadata", "data", "params", "header"];

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
            if !map.keys().any(|k| k.contains('_')) && !has_nested(&map) {
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
