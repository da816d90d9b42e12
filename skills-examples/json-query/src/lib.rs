// json-query: an example molecule-runtime skill with one pure tool, `query`, that returns the
// value an RFC 6901 JSON Pointer selects inside a JSON document. It uses no host capability,
// so it runs with no grants at all.

//! The `json-query` skill: tool `query` returns the value at an RFC 6901 JSON Pointer.

use molecule_guest_sdk::{export_skill, json, Skill, ToolError, Value};
use serde::Deserialize;

/// Input of `query`.
#[derive(Deserialize)]
struct QueryInput {
    /// The document to look into (any JSON value).
    json: Value,
    /// RFC 6901 pointer: empty for the whole document, otherwise `/`-separated tokens with
    /// `~1` for `/` and `~0` for `~`.
    pointer: String,
}

/// Returns the value at `input.pointer` inside `input.json`.
fn query(input: QueryInput) -> Result<Value, ToolError> {
    let QueryInput { json, pointer } = input;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(ToolError::InvalidInput(format!(
            "field `pointer`: `{pointer}` is not an RFC 6901 JSON Pointer: it must be empty \
             (the whole document) or start with `/` (did you mean `/{pointer}`?)"
        )));
    }
    match json.pointer(&pointer) {
        Some(value) => Ok(value.clone()),
        None => Err(ToolError::Failed(no_match(&json, &pointer))),
    }
}

/// Explains why `pointer` matches nothing: the deepest prefix that exists and what is there.
fn no_match(json: &Value, pointer: &str) -> String {
    let tokens: Vec<&str> = pointer[1..].split('/').collect();
    // The empty prefix (the whole document) always exists, so this finds something.
    let (depth, found) = (0..tokens.len())
        .rev()
        .find_map(|n| json.pointer(&prefix_of(&tokens, n)).map(|v| (n, v)))
        .unwrap_or((0, json));
    let prefix = prefix_of(&tokens, depth);
    let shown = if prefix.is_empty() {
        "`` (the whole document)".to_string()
    } else {
        format!("`{prefix}`")
    };
    let next = unescape(tokens[depth]);
    let why = match found {
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
