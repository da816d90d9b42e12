//! `approval`: which tool calls need a human's approval before the host runs them
//! (`approval: {tools: [write_file, delegate_task]}`). A security setting: the section or a key
//! present but unusable, a null, a bad list item or a near-miss key name (`tool`, `Tools`) is an
//! error naming the file and the key, never a default (fail closed) — a dropped name would let
//! that tool run without a human. Whether each listed name is a tool the workspace has is
//! checked at boot, once the skills are loaded (the runtime's `workspace::approval`).

use serde_yaml::Value;

use crate::keys::check_keys;
use crate::lenient::{describe, Reader};

/// The `approval` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalConfig {
    /// `approval.tools`: tool names (built-in or skill tools, as listed to adapters) whose
    /// calls the host holds until a human approves them. Default none.
    pub tools: Vec<String>,
}

/// The keys of `approval`.
const KEYS: [&str; 1] = ["tools"];

/// Longest tool name accepted in `approval.tools` (tool names are at most this long).
const MAX_NAME: usize = 128;

impl ApprovalConfig {
    /// Whether calls to `tool` need approval.
    pub fn requires(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }

    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> ApprovalConfig {
        let mut out = ApprovalConfig::default();
        let holds = "the tools that need a human's approval";
        let Some(v) = r.secure_mapping(v, "approval", holds) else {
            return out;
        };
        check_keys(r, v, "approval", &KEYS, &KEYS, &[]);
        if let Some(node) = v.get("tools") {
            out.tools = names(r, node);
        }
        out
    }
}

/// The list of tool names; a non-list, a null or a bad item is an error (the list keeps its
/// good items, so every name that was readable stays gated).
fn names(r: &mut Reader<'_>, node: &Value) -> Vec<String> {
    let key = "approval.tools";
    let Value::Sequence(items) = node else {
        let found = describe(node);
        r.fail(
            key,
            node,
            format!("expected a list of tool names, found {found}; fix it or remove the key"),
        );
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{key}[{i}]");
        match item {
            Value::String(s) if valid_name(s.trim()) => {
                let name = s.trim().to_owned();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            Value::String(s) => r.fail(
                &at,
                item,
                format!(
                    "`{}` is not a tool name (letters, digits, `_`, `-`, `.`, up to {MAX_NAME} \
                     characters)",
                    crate::escape_text(s)
                ),
            ),
            other => {
                let found = describe(other);
                r.fail(&at, item, format!("expected a tool name, found {found}"));
            }
        }
    }
    out
}

/// A tool name as adapters see them: non-empty, at most [`MAX_NAME`] characters of ASCII
/// letters, digits, `_`, `-` and `.`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
