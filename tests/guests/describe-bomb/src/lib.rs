//! describe-bomb: a skill whose `describe` answer is whatever the granted config key
//! `describe_mode` asks for (see SKILL.md), so that one component exercises every budget on
//! `describe` — total bytes, tool count, name length and characters, schema size — and the
//! refusal of a built-in's name. Its `fail` tool returns a tool error of any size.

use molecule_guest_sdk::bindings::exports::molecule::runtime::tool::Guest;
use molecule_guest_sdk::config;
use molecule_guest_sdk::types::{ToolError, ToolSpec};

/// A small valid schema.
const SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

fn spec(name: impl Into<String>, description: impl Into<String>, schema: String) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: schema,
    }
}

/// The `describe_mode` value; empty when unset or not granted.
fn mode() -> String {
    config::get("describe_mode")
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// `N` tools `t0`… with `schema`.
fn many(arg: &str, schema: &str) -> Vec<ToolSpec> {
    let n: usize = arg.parse().unwrap_or(100_000);
    (0..n)
        .map(|i| spec(format!("t{i}"), "", schema.to_owned()))
        .collect()
}

/// The tools `mode` asks for.
fn describe_for(mode: &str) -> Vec<ToolSpec> {
    let (kind, arg) = mode.split_once(':').unwrap_or((mode, ""));
    match kind {
        "tools" => arg
            .split(',')
            .map(|name| spec(name, "A named tool.", SCHEMA.to_owned()))
            .collect(),
        "name" => vec![spec(arg, "An oddly named tool.", SCHEMA.to_owned())],
        "many" => many(arg, SCHEMA),
        "many-unparsed" => many(arg, "{"),
        "big-description" => {
            let mib: usize = arg.parse().unwrap_or(40);
            vec![spec("big", "d".repeat(mib << 20), SCHEMA.to_owned())]
        }
        "big-schema" => {
            let kib: usize = arg.parse().unwrap_or(128);
            let schema = format!(r#"{{"description":"{}"}}"#, "s".repeat(kib << 10));
            vec![spec("big", "A tool with a huge schema.", schema)]
        }
        _ => vec![
            spec("ping", "Answers pong.", SCHEMA.to_owned()),
            spec(
                "fail",
                "Fails with `bytes` bytes of error text.",
                r#"{"type":"object","properties":{"bytes":{"type":"integer"}}}"#.to_owned(),
            ),
        ],
    }
}

/// The error text of `fail`: an escape sequence, then `e` up to `bytes` bytes.
fn failure(input: &str) -> ToolError {
    let bytes = serde_json::from_str::<serde_json::Value>(input)
        .ok()
        .and_then(|v| v.get("bytes").and_then(serde_json::Value::as_u64))
        .unwrap_or(1024) as usize;
    let mut text = String::with_capacity(bytes);
    text.push_str("\u{1b}[2J");
    text.extend(std::iter::repeat_n('e', bytes.saturating_sub(text.len())));
    ToolError::Failed(text)
}

struct DescribeBomb;

impl Guest for DescribeBomb {
    fn describe() -> Vec<ToolSpec> {
        describe_for(&mode())
    }

    fn call(name: String, input: String) -> Result<String, ToolError> {
        match name.as_str() {
            "ping" => Ok("\"pong\"".to_owned()),
            "fail" => Err(failure(&input)),
            other => Ok(serde_json::Value::from(other).to_string()),
        }
    }
}

molecule_guest_sdk::bindings::__export_skill_world!(
    DescribeBomb with_types_in molecule_guest_sdk::bindings
);
