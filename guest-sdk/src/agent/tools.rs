//! Executing the tool calls of a model turn. Each call goes first to the adapter's own
//! `LocalTools` (pseudo-tools such as `write_todos` or a virtual filesystem), then to the host's
//! `tools.call`. Every outcome becomes a `tool` message answering the call's id: tool errors
//! (not found, invalid input, denied, failed) are fed back as text so the model can recover;
//! only `AgentError`s from local tools (e.g. a cancelled nested loop) abort the loop.

use super::{AgentError, AgentHost};
use crate::llm::{ChatMessage, ToolCall};
use crate::types::{ToolError, ToolSpec};

/// What a local tool answers: `Ok(output)` or `Err(error text)`, both fed back to the model.
pub type ToolOutput = Result<String, String>;

/// Longest tool output (in bytes) fed back to the model; longer output is cut with a note.
pub const MAX_TOOL_OUTPUT: usize = 100_000;

/// Tools implemented inside the adapter itself (pseudo-tools), offered next to the host's.
pub trait LocalTools {
    /// The specs of the local tools, offered to the model.
    fn specs(&self) -> Vec<ToolSpec>;

    /// Runs `name` if it is a local tool: `Ok(None)` when it is not (the host's tool of that
    /// name is called instead), `Ok(Some(output))` when handled, `Err` to abort the loop.
    fn call(
        &mut self,
        host: &dyn AgentHost,
        name: &str,
        arguments: &str,
    ) -> Result<Option<ToolOutput>, AgentError>;
}

/// No local tools: every call goes to the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLocalTools;

impl LocalTools for NoLocalTools {
    fn specs(&self) -> Vec<ToolSpec> {
        Vec::new()
    }

    fn call(
        &mut self,
        _host: &dyn AgentHost,
        _name: &str,
        _arguments: &str,
    ) -> Result<Option<ToolOutput>, AgentError> {
        Ok(None)
    }
}

/// The text fed back to the model for a failed tool call.
pub fn tool_error_text(err: &ToolError) -> String {
    let kind = match err {
        ToolError::InvalidInput(_) => "invalid input",
        ToolError::Failed(_) => "failed",
        ToolError::Denied(_) => "denied",
        ToolError::NotFound(_) => "not found",
    };
    format!("Error ({kind}): {}", err.text())
}

/// `specs` restricted to the names in `allow` (all when empty) minus those in `deny`.
pub fn filter_tools(specs: Vec<ToolSpec>, allow: &[String], deny: &[String]) -> Vec<ToolSpec> {
    specs
        .into_iter()
        .filter(|s| allow.is_empty() || allow.iter().any(|a| a == &s.name))
        .filter(|s| !deny.iter().any(|d| d == &s.name))
        .collect()
}

fn cap(mut text: String) -> String {
    if text.len() > MAX_TOOL_OUTPUT {
        let cut = (0..=MAX_TOOL_OUTPUT)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        let total = text.len();
        text.truncate(cut);
        text.push_str(&format!("\n[output truncated: {total} bytes in total]"));
    }
    text
}

/// Runs one call and returns the text to feed back.
fn run_call(
    host: &dyn AgentHost,
    call: &ToolCall,
    local: &mut dyn LocalTools,
) -> Result<String, AgentError> {
    let arguments = if call.arguments.trim().is_empty() {
        "{}"
    } else {
        call.arguments.as_str()
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(arguments) {
        return Ok(format!(
            "Error (invalid input): the arguments of `{}` are not valid JSON: {e}",
            call.name
        ));
    }
    host.set_current_task(&format!("running tool {}", call.name));
    if let Some(output) = local.call(host, &call.name, arguments)? {
        return Ok(match output {
            Ok(text) => cap(text),
            Err(text) => format!("Error: {text}"),
        });
    }
    Ok(match host.call_tool(&call.name, arguments) {
        Ok(text) => cap(text),
        Err(err) => tool_error_text(&err),
    })
}

/// Executes `calls` in order and returns one `tool` message per call, each answering the
/// call's id.
pub fn execute_tool_calls(
    host: &dyn AgentHost,
    calls: &[ToolCall],
    local: &mut dyn LocalTools,
) -> Result<Vec<ChatMessage>, AgentError> {
    calls
        .iter()
        .map(|call| {
            Ok(ChatMessage::tool_result(
                &call.id,
                run_call(host, call, local)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::FakeHost;

    struct Echo;

    impl LocalTools for Echo {
        fn specs(&self) -> Vec<ToolSpec> {
            Vec::new()
        }

        fn call(
            &mut self,
            _host: &dyn AgentHost,
            name: &str,
            arguments: &str,
        ) -> Result<Option<ToolOutput>, AgentError> {
            Ok(match name {
                "echo" => Some(Ok(arguments.to_string())),
                "broken" => Some(Err("always broken".into())),
                "abort" => return Err(AgentError::Cancelled),
                _ => None,
            })
        }
    }

    fn call(id: &str, name: &str, args: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
        }
    }

    #[test]
    fn local_then_host_errors_fed_back() {
        let host = FakeHost::new()
            .tool("add", |_| Ok("3".into()))
            .tool("fail", |_| Err(ToolError::Failed("boom".into())));
        let calls = [
            call("1", "echo", ""),
            call("2", "add", r#"{"a":1}"#),
            call("3", "fail", "{}"),
            call("4", "nope", "{}"),
            call("5", "broken", "{}"),
            call("6", "add", "{not json"),
        ];
        let out = execute_tool_calls(&host, &calls, &mut Echo).unwrap();
        let texts: Vec<_> = out.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts[0], "{}");
        assert_eq!(texts[1], "3");
        assert_eq!(texts[2], "Error (failed): boom");
        assert_eq!(texts[3], "Error (not found): no tool named `nope`");
        assert_eq!(texts[4], "Error: always broken");
        assert!(texts[5].starts_with("Error (invalid input): the arguments of `add`"));
        assert_eq!(out[1].tool_call_id.as_deref(), Some("2"));
        assert_eq!(host.tool_calls().len(), 3);
        let err = execute_tool_calls(&host, &[call("7", "abort", "{}")], &mut Echo);
        assert_eq!(err.unwrap_err(), AgentError::Cancelled);
    }

    #[test]
    fn filters_and_caps() {
        let host = FakeHost::new()
            .tool("a", |_| Ok(String::new()))
            .tool("b", |_| Ok(String::new()));
        let names = |v: Vec<ToolSpec>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(filter_tools(host.list_tools(), &[], &["a".into()])),
            ["b"]
        );
        assert_eq!(
            names(filter_tools(host.list_tools(), &["a".into()], &[])),
            ["a"]
        );
        let long = cap("é".repeat(MAX_TOOL_OUTPUT));
        assert!(long.ends_with("bytes in total]"));
    }
}
