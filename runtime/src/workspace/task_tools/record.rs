//! The tool calls of one task, kept for its transcript: each call's tool name, input and
//! output (or error kind and text), secrets masked (`crate::redact`), in call order. Stored
//! with the task as A2A metadata [`METADATA_KEY`] when the task ends, so `GET /transcript`
//! reads them back from the task store. Bounded: the first [`MAX_CALLS`] calls of a task,
//! at most [`MAX_TOTAL_BYTES`] of them in all, each tool name and message id cut to
//! [`MAX_NAME_BYTES`], input to [`MAX_INPUT_CHARS`] and output to [`MAX_OUTPUT_CHARS`]
//! characters; what was left out is counted (`dropped`, `truncated`).

use std::sync::Mutex;

use serde_json::{json, Value};

use crate::bindings::ToolError;

/// The task metadata key holding `{"calls": [ToolCall…], "dropped": n}`, where each call is
/// `{"tool", "input", "messageId", "output"}` or `{…, "error": {"kind", "message"}}`, plus
/// `"truncated": true` when its input or output was cut; `messageId` is the user message
/// whose run made the call.
pub const METADATA_KEY: &str = "molecule.toolCalls";
/// The most calls of one task kept.
pub const MAX_CALLS: usize = 64;
/// The most characters of one call's input kept.
pub const MAX_INPUT_CHARS: usize = 2048;
/// The most characters of one call's output or error text kept.
pub const MAX_OUTPUT_CHARS: usize = 4096;

/// The most bytes of a tool name or message id kept (a guest or client chooses them).
pub const MAX_NAME_BYTES: usize = 256;
/// The most bytes of all kept calls of one task (their JSON text); a call past it is dropped.
pub const MAX_TOTAL_BYTES: usize = 512 * 1024;

/// The calls of one task so far.
#[derive(Default)]
pub struct ToolCallLog {
    inner: Mutex<Log>,
    /// The id of the user message whose run makes these calls.
    message_id: String,
}

#[derive(Default)]
struct Log {
    calls: Vec<Value>,
    dropped: usize,
    /// The JSON size of `calls`, in bytes.
    bytes: usize,
}

impl ToolCallLog {
    /// The log of one run of a task, started by the user message `message_id`, after the
    /// calls of its earlier runs (`previous`: the task's [`METADATA_KEY`] value, if any), so
    /// a task continued after INPUT_REQUIRED keeps every run's calls within one budget.
    pub fn for_run(previous: Option<&Value>, message_id: &str) -> Self {
        let calls: Vec<Value> = previous
            .and_then(|v| v.get("calls"))
            .and_then(Value::as_array)
            .map(|a| a.iter().take(MAX_CALLS).cloned().collect())
            .unwrap_or_default();
        let dropped = previous
            .and_then(|v| v.get("dropped"))
            .and_then(Value::as_u64)
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let bytes = calls.iter().map(|c| c.to_string().len()).sum();
        ToolCallLog {
            inner: Mutex::new(Log {
                calls,
                dropped,
                bytes,
            }),
            message_id: cut_bytes(message_id, MAX_NAME_BYTES).to_owned(),
        }
    }

    /// Records one call of `tool` with `input` and its `result`.
    pub fn record(&self, tool: &str, input: &str, result: &Result<String, ToolError>) {
        let mut log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if log.calls.len() >= MAX_CALLS {
            log.dropped += 1;
            return;
        }
        let (input, cut_in) = clip(input, MAX_INPUT_CHARS);
        let shown = cut_bytes(tool, MAX_NAME_BYTES);
        let mut call = json!({"tool": shown, "input": input, "messageId": self.message_id});
        let cut_out = match result {
            Ok(output) => {
                let (output, cut) = clip(output, MAX_OUTPUT_CHARS);
                call["output"] = Value::String(output);
                cut
            }
            Err(err) => {
                let (kind, text) = error_parts(err);
                let (text, cut) = clip(text, MAX_OUTPUT_CHARS);
                call["error"] = json!({"kind": kind, "message": text});
                cut
            }
        };
        if cut_in || cut_out || shown.len() < tool.len() {
            call["truncated"] = Value::Bool(true);
        }
        let size = call.to_string().len();
        if log.bytes + size > MAX_TOTAL_BYTES {
            log.dropped += 1;
            return;
        }
        log.bytes += size;
        log.calls.push(call);
    }

    /// The metadata value to store with the task, `None` when no tool was called.
    pub fn to_json(&self) -> Option<Value> {
        let log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if log.calls.is_empty() && log.dropped == 0 {
            return None;
        }
        Some(json!({"calls": log.calls, "dropped": log.dropped}))
    }
}

/// The WIT kind of `err` (`invalid-input`, `failed`, `denied`, `not-found`) and its text.
fn error_parts(err: &ToolError) -> (&'static str, &str) {
    match err {
        ToolError::InvalidInput(t) => ("invalid-input", t),
        ToolError::Failed(t) => ("failed", t),
        ToolError::Denied(t) => ("denied", t),
        ToolError::NotFound(t) => ("not-found", t),
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[..at]
}

/// `text` with secrets masked, cut to `max` characters; whether it was cut.
fn clip(text: &str, max: usize) -> (String, bool) {
    let masked = crate::redact::redact(text);
    match masked.char_indices().nth(max) {
        Some((at, _)) => (masked[..at].to_owned(), true),
        None => (masked, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_the_whole_log_are_capped() {
        let log = ToolCallLog::for_run(None, &"m".repeat(10_000));
        log.record(&"t".repeat(100_000), "{}", &Ok(String::new()));
        let v = log.to_json().unwrap();
        assert_eq!(
            v["calls"][0]["tool"].as_str().unwrap().len(),
            MAX_NAME_BYTES
        );
        assert_eq!(
            v["calls"][0]["messageId"].as_str().unwrap().len(),
            MAX_NAME_BYTES
        );
        let big = "\u{1f600}".repeat(MAX_OUTPUT_CHARS);
        for _ in 1..MAX_CALLS {
            log.record("t", &big, &Ok(big.clone()));
        }
        let v = log.to_json().unwrap();
        assert!(
            v["dropped"].as_u64().unwrap() > 0,
            "the byte budget drops calls"
        );
        assert!(
            v.to_string().len() <= MAX_TOTAL_BYTES + 64,
            "{}",
            v.to_string().len()
        );
    }

    #[test]
    fn calls_are_kept_in_order_and_bounded() {
        let log = ToolCallLog::for_run(None, "m1");
        assert!(log.to_json().is_none());
        log.record("echo", "{\"a\":1}", &Ok("out".into()));
        log.record("deny", "{}", &Err(ToolError::Denied("no".into())));
        let long = "x".repeat(MAX_OUTPUT_CHARS + 10);
        log.record("big", &long, &Ok(long.clone()));
        for _ in 0..MAX_CALLS {
            log.record("more", "{}", &Ok(String::new()));
        }
        let v = log.to_json().unwrap();
        let calls = v["calls"].as_array().unwrap();
        assert_eq!(calls.len(), MAX_CALLS);
        assert_eq!(v["dropped"], 3);
        assert_eq!(calls[0]["tool"], "echo");
        assert_eq!(calls[0]["output"], "out");
        assert_eq!(calls[1]["error"]["kind"], "denied");
        assert_eq!(calls[2]["truncated"], true);
        assert_eq!(calls[0]["messageId"], "m1");
        let next = ToolCallLog::for_run(Some(&v), "m2");
        next.record("late", "{}", &Ok(String::new()));
        assert_eq!(
            next.to_json().unwrap()["dropped"],
            4,
            "the budget spans runs"
        );
        assert_eq!(
            calls[2]["input"].as_str().unwrap().chars().count(),
            MAX_INPUT_CHARS
        );
        assert_eq!(
            calls[2]["output"].as_str().unwrap().chars().count(),
            MAX_OUTPUT_CHARS
        );
    }
}
