//! Skill tools as MCP tools: a `describe` spec as an MCP `Tool` (`tools/list`), and a call's
//! outcome as a `CallToolResult` (`tools/call`). Every failure of the tool — its own error, a
//! denied capability, a sandbox limit, a crash — is a result with `isError: true` whose text
//! says why (a limit names its config key or flag), as the MCP spec asks for errors the model
//! should see (MCP 2025-06-18 "Tools", "Error Handling"); only a malformed request is a
//! JSON-RPC error.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, MetaObject, Tool};
use serde_json::Value;

use crate::bindings::ToolSpec;
use crate::limits::LimitKeys;
use crate::receipt::Receipt;
use crate::sandbox::CallError;

/// The schema a tool gets when its spec's `input-schema` is not a JSON object: any object.
fn any_object() -> JsonObject {
    let mut schema = JsonObject::new();
    schema.insert("type".into(), Value::String("object".into()));
    schema
}

/// `spec` (from the skill's `describe`, already checked against the describe budgets) as an
/// MCP tool; an input schema that is not a JSON object becomes `{"type": "object"}`.
pub(crate) fn tool(spec: &ToolSpec) -> Tool {
    let schema = match serde_json::from_str::<Value>(&spec.input_schema) {
        Ok(Value::Object(map)) => map,
        _ => any_object(),
    };
    Tool::new(
        spec.name.clone(),
        spec.description.clone(),
        Arc::new(schema),
    )
}

/// The tool input as the JSON text the guest receives: the arguments object, `{}` when absent.
pub(crate) fn input_text(arguments: Option<&JsonObject>) -> String {
    match arguments {
        Some(args) => Value::Object(args.clone()).to_string(),
        None => "{}".to_owned(),
    }
}

/// The `_meta` key of a tool result holding the call's receipt (`Receipt::to_json`:
/// `{wall_ms, cpu_ms, peak_memory_bytes, host_calls, http_requests, http_bytes, log_bytes,
/// tool_calls}`), the figures an A2A task carries in its metadata.
pub const RECEIPT_META: &str = "io.molecule/receipt";

/// A call's outcome as an MCP tool result: the output text, or an error result with the
/// message (`keys` names where each limit is set); `_meta` carries the receipt.
pub(crate) fn result(
    outcome: Result<String, CallError>,
    receipt: &Receipt,
    keys: &LimitKeys,
) -> CallToolResult {
    let mut result = match outcome {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(err) => CallToolResult::error(vec![ContentBlock::text(err.message(keys))]),
    };
    let mut meta = JsonObject::new();
    meta.insert(RECEIPT_META.into(), receipt.to_json());
    result.meta = Some(MetaObject(meta));
    result
}

/// An error result with `message` and no receipt: a call refused before it ran.
pub(crate) fn refused(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.to_owned())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::ToolError;

    #[test]
    fn a_spec_becomes_a_tool_and_a_bad_schema_any_object() {
        let spec = ToolSpec {
            name: "query".into(),
            description: "d".into(),
            input_schema: r#"{"type":"object","required":["x"]}"#.into(),
        };
        let t = tool(&spec);
        assert_eq!(t.name, "query");
        assert_eq!(
            t.input_schema.get("required"),
            Some(&serde_json::json!(["x"]))
        );
        let bad = ToolSpec {
            input_schema: "[1]".into(),
            ..spec
        };
        assert_eq!(*tool(&bad).input_schema, any_object());
    }

    #[test]
    fn errors_are_error_results_with_their_text() {
        let receipt = Receipt {
            host_calls: 3,
            ..Receipt::default()
        };
        let r = result(
            Err(CallError::Tool(ToolError::Denied("no memory".into()))),
            &receipt,
            &LimitKeys::CONFIG,
        );
        let meta = r.meta.as_ref().expect("receipt in _meta");
        assert_eq!(meta.0[RECEIPT_META]["host_calls"], 3);
        assert_eq!(r.is_error, Some(true));
        let text = serde_json::to_string(&r.content).unwrap();
        assert!(text.contains("no memory"), "{text}");
        assert_eq!(
            result(Ok("{}".into()), &receipt, &LimitKeys::CONFIG).is_error,
            Some(false)
        );
        assert_eq!(input_text(None), "{}");
    }
}
