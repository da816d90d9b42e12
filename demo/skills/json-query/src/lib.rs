//! json-query: an example molecule-runtime skill with one pure tool, `query`, that returns the
//! value an RFC 6901 JSON Pointer selects inside a JSON document. It uses no host capability,
//! so it runs with no grants at all.

//! The `json-query` skill: tool `query` returns the value at an RFC 6901 JSON Pointer.

use std::collections::BTreeMap;

use molecule_guest_sdk::{export_skill, json, Skill, ToolError, Value};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Input of `query`.
#[derive(Deserialize)]
struct QueryInput {
    /// The document to look into (any JSON value), kept as the exact text sent: the answer is
    /// cut out of it, so nothing in the selected part is re-encoded.
    json: Box<RawValue>,
    /// RFC 6901 pointer: empty for the whole document, otherwise `/`-separated tokens with
    /// `~1` for `/` and `~0` for `~`.
    pointer: String,
}

/// Returns the value at `input.pointer` inside `input.json`, as written in the input (only
/// the whitespace between tokens is dropped): numbers keep every digit, whatever their size or
/// precision, and objects keep their member order.
fn query(input: QueryInput) -> Result<Box<RawValue>, ToolError> {
    let QueryInput { json, pointer } = input;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(ToolError::InvalidInput(format!(
            "field `pointer`: `{pointer}` is not an RFC 6901 JSON Pointer: it must be empty \
             (the whole document) or start with `/` (did you mean `/{pointer}`?)"
        )));
    }
    let tokens: Vec<&str> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer[1..].split('/').collect()
    };
    match select(&json, &tokens) {
        Ok(found) => RawValue::from_string(compact(found.get()))
            .map_err(|e| ToolError::Failed(format!("could not re-emit the selected value: {e}"))),
        Err((depth, found)) => Err(ToolError::Failed(no_match(found, &pointer, &tokens, depth))),
    }
}

/// Follows `tokens` (still escaped) from `doc`. On a miss, answers the depth of the deepest
/// prefix that exists and the value there.
fn select<'a>(doc: &'a RawValue, tokens: &[&str]) -> Result<&'a RawValue, (usize, &'a RawValue)> {
    let mut here = doc;
    for (depth, token) in tokens.iter().enumerate() {
        match child(here, &unescape(token)) {
            Some(next) => here = next,
            None => return Err((depth, here)),
        }
    }
    Ok(here)
}

/// The member `key` of an object, or the element at index `key` of an array (RFC 6901: a
/// decimal index without leading zeros; `-` is past the end). Scalars have no children.
fn child<'a>(value: &'a RawValue, key: &str) -> Option<&'a RawValue> {
    let text = value.get();
    match text.as_bytes().first()? {
        // The last of duplicate names wins, as in `serde_json::Value`.
        b'{' => serde_json::from_str::<BTreeMap<String, &'a RawValue>>(text)
            .ok()?
            .remove(key),
        b'[' => {
            if key.starts_with('+') || (key.starts_with('0') && key.len() != 1) {
                return None;
            }
            let index: usize = key.parse().ok()?;
            serde_json::from_str::<Vec<&'a RawValue>>(text)
                .ok()?
                .get(index)
                .copied()
        }
        _ => None,
    }
}

/// `text` (valid JSON) without the whitespace between tokens; strings, numbers and member order
/// stay exactly as written.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Explains why `pointer` matches nothing: the deepest prefix that exists (`depth` tokens
/// long, holding `found`) and what is there.
fn no_match(found: &RawValue, pointer: &str, tokens: &[&str], depth: usize) -> String {
    let found: Value = serde_json::from_str(found.get()).unwrap_or(Value::Null);
    let prefix = prefix_of(tokens, depth);
    let shown = if prefix.is_empty() {
        "`` (the whole document)".to_string()
    } else {
        format!("`{prefix}`")
    };
    let next = unescape(tokens[depth]);
    let why = match &found {
        Value::Object(map) => {
            let mut keys: Vec<&str> = map.keys().map(String::as_str).take(20).collect();
            keys.sort_unstable();
            let more = if map.len() > keys.len() { ", ..." } else { "" };
            format!(
                "it is an object without key `{next}` (keys: {}{more})",
                keys.join(", ")
            )
        }
        Value::Array(items) => format!(
            "it is an array of length {} and `{next}` is not an index in it",
            items.len()
        ),
        other => format!(
            "it is {} and has no children, so `{next}` cannot be looked up",
            kind(other)
        ),
    };
    format!("pointer `{pointer}` matches nothing; the deepest prefix that exists is {shown}: {why}")
}

/// The pointer made of the first `n` tokens (`""` for 0).
fn prefix_of(tokens: &[&str], n: usize) -> String {
    tokens[..n].iter().map(|t| format!("/{t}")).collect()
}

/// Decodes one reference token (`~1` → `/`, then `~0` → `~`).
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// "a string", "a number", ... for error texts.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The skill: one tool.
fn skill() -> Skill {
    Skill::new().tool(
        "query",
        "Returns the part of a JSON document selected by an RFC 6901 JSON Pointer, e.g. \
         `/items/0/name`. Use an empty pointer for the whole document; escape `/` in a key as \
         `~1` and `~` as `~0`.",
        json!({
            "type": "object",
            "properties": {
                "json": {
                    "description": "The JSON document to look into; any JSON value."
                },
                "pointer": {
                    "type": "string",
                    "description": "RFC 6901 JSON Pointer: empty, or tokens each preceded by `/`.",
                    "examples": ["", "/items/0/name", "/a~1b"]
                }
            },
            "required": ["json", "pointer"],
            "additionalProperties": false
        }),
        query,
    )
}

export_skill!(skill);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: Value) -> Result<Value, ToolError> {
        skill().call_value("query", &input)
    }

    #[test]
    fn finds_values() {
        let doc = json!({"items": [{"name": "a"}, {"name": "b"}], "a/b": {"~": 1}});
        assert_eq!(run(json!({"json": doc, "pointer": ""})).unwrap(), doc);
        assert_eq!(
            run(json!({"json": doc, "pointer": "/items/1/name"})).unwrap(),
            json!("b")
        );
        assert_eq!(
            run(json!({"json": doc, "pointer": "/a~1b/~0"})).unwrap(),
            json!(1)
        );
        assert_eq!(
            run(json!({"json": null, "pointer": ""})).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn rejects_relative_pointers() {
        match run(json!({"json": {}, "pointer": "items"})) {
            Err(ToolError::InvalidInput(t)) => assert!(t.contains("start with `/`"), "{t}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn explains_misses() {
        let doc = json!({"items": [{"name": "a"}]});
        match run(json!({"json": doc, "pointer": "/items/3/name"})) {
            Err(ToolError::Failed(t)) => {
                assert!(t.contains("`/items/3/name`"), "{t}");
                assert!(t.contains("deepest prefix that exists is `/items`"), "{t}");
                assert!(t.contains("array of length 1"), "{t}");
            }
            other => panic!("{other:?}"),
        }
        match run(json!({"json": doc, "pointer": "/nope"})) {
            Err(ToolError::Failed(t)) => assert!(t.contains("whole document"), "{t}"),
            other => panic!("{other:?}"),
        }
        match run(json!({"json": doc, "pointer": "/items/0/name/x"})) {
            Err(ToolError::Failed(t)) => {
                assert!(t.contains("`/items/0/name`: it is a string"), "{t}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Calls `query` on raw JSON text and returns the raw JSON text of its output.
    fn run_text(input: &str) -> String {
        skill().call("query", input).expect("query succeeds")
    }

    #[test]
    fn numbers_come_back_exactly_as_written() {
        for number in [
            "123456789012345678901234567890",
            "-98765432109876543210987654321098765432",
            "18446744073709551616",
            "0.1000000000000000055511151231257827",
            "3.14159265358979323846264338327950288419716939937510",
            "6.02214076e-23",
            "-2.5E-7",
            "1e-400",
            "1.5e400",
            "1.0",
            "2.50",
            "-0",
        ] {
            let input = format!(r#"{{"json":{{"n":{number}}},"pointer":"/n"}}"#);
            assert_eq!(run_text(&input), number, "input {input}");
        }
        // Inside a selected container too.
        let out = run_text(
            r#"{"json":{"a":[123456789012345678901234567890,0.1000000000000000055511151231257827,1e-7]},"pointer":"/a"}"#,
        );
        assert_eq!(
            out,
            "[123456789012345678901234567890,0.1000000000000000055511151231257827,1e-7]"
        );
    }

    #[test]
    fn selected_text_is_kept_but_compacted() {
        // Member order, string escapes and spaces inside strings as written; only the
        // whitespace between tokens goes.
        let input = r#"{"json": {"z": 1, "a": {"s": "a \" b\u00e9 \\", "e": 1E5, "x": [ 1.0 , 2 ]}}, "pointer": "/a"}"#;
        assert_eq!(
            run_text(input),
            r#"{"s":"a \" b\u00e9 \\","e":1E5,"x":[1.0,2]}"#
        );
        assert_eq!(
            run_text(r#"{"json": {"b": 1, "a": 2}, "pointer": ""}"#),
            r#"{"b":1,"a":2}"#
        );
    }

    #[test]
    fn pointer_rules_follow_rfc_6901() {
        let doc = json!({"a": [10, 20], "": {"~/": 3}});
        for (pointer, expected) in [
            ("/a/0", json!(10)),
            ("/a/1", json!(20)),
            ("//~0~1", json!(3)),
        ] {
            assert_eq!(
                run(json!({"json": doc, "pointer": pointer})).unwrap(),
                expected
            );
        }
        for pointer in ["/a/01", "/a/+1", "/a/-", "/a/2", "/a/x"] {
            assert!(
                matches!(
                    run(json!({"json": doc, "pointer": pointer})),
                    Err(ToolError::Failed(_))
                ),
                "{pointer}"
            );
        }
        // The last of duplicate names wins, as everywhere in serde_json.
        assert_eq!(
            run_text(r#"{"json": {"k": 1, "k": 2}, "pointer": "/k"}"#),
            "2"
        );
    }

    #[test]
    fn names_missing_fields() {
        for (input, field) in [
            (json!({"pointer": ""}), "json"),
            (json!({"json": 1}), "pointer"),
        ] {
            match run(input) {
                Err(ToolError::InvalidInput(t)) => {
                    assert!(t.contains(&format!("missing field `{field}`")), "{t}")
                }
                other => panic!("{other:?}"),
            }
        }
        match run(json!({"json": 1, "pointer": 5})) {
            Err(ToolError::InvalidInput(t)) => assert!(t.starts_with("field `pointer`"), "{t}"),
            other => panic!("{other:?}"),
        }
    }
}
