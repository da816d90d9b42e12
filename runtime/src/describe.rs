//! The checks on a skill's `describe` answer before anything uses it: the budgets on its size
//! (`sandbox.describe.*`: tool count, total bytes, a name's length, one schema's size), tool
//! names (`[a-z0-9_-]`, as `wit/types.wit` and every SDK require), no name twice, and schemas
//! that are JSON.
//!
//! The budgets are checked first, cheapest first — the count, then the total from the lengths
//! alone, then each name and schema length — so an oversized answer is refused before any
//! per-tool work (character checks, JSON parsing, indexing). The canonical ABI has already
//! lifted the whole list by then; that copy is bounded by the guest's memory limit.

use std::collections::HashSet;
use std::fmt;

use crate::bindings::ToolSpec;
use crate::budgets::{Budget, BudgetHit, Budgets};

/// Longest piece of a guest-supplied tool name quoted in an error.
const QUOTED_NAME_CHARS: usize = 64;

/// Why a skill's `describe` answer was refused: the skill, what was wrong and, for a spent
/// budget, the [`BudgetHit`] (also the error's source, so callers can downcast to it).
#[derive(Debug)]
pub struct DescribeError {
    /// The skill's label, e.g. `skill json-query`.
    pub label: String,
    /// What was wrong, without the budget text (e.g. "it describes 100000 tools").
    pub what: String,
    /// The budget spent, when a budget refused it.
    pub hit: Option<BudgetHit>,
}

impl fmt::Display for DescribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: describe refused: {}", self.label, self.what)?;
        if let Some(hit) = &self.hit {
            write!(f, "; {hit}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DescribeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.hit.as_ref().map(|h| h as _)
    }
}

/// Checks the tool specs skill `label` described against `budgets`, then their names,
/// uniqueness and schemas. A spent budget is counted in `/metrics`.
///
/// # Errors
///
/// A [`DescribeError`] naming the skill, the tool (escaped) and, for a budget, the limit and
/// the config key that raises it.
pub fn check_specs(
    label: &str,
    specs: &[ToolSpec],
    budgets: &Budgets,
) -> Result<(), DescribeError> {
    check_budgets(label, specs, budgets)?;
    let refuse = |what: String| DescribeError {
        label: label.to_owned(),
        what,
        hit: None,
    };
    for spec in specs {
        if !valid_name_chars(&spec.name) {
            return Err(refuse(format!(
                "tool name `{}` may use only a-z, 0-9, `_` and `-`",
                quote_name(&spec.name)
            )));
        }
    }
    let mut seen = HashSet::with_capacity(specs.len());
    for spec in specs {
        if !seen.insert(spec.name.as_str()) {
            return Err(refuse(format!("tool `{}` is described twice", spec.name)));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&spec.input_schema).map_err(|e| {
            refuse(format!(
                "tool `{}` has an input schema that is not JSON: {e}",
                spec.name
            ))
        })?;
    }
    Ok(())
}

/// The budgets alone: count, total bytes, then each name's and schema's length.
fn check_budgets(label: &str, specs: &[ToolSpec], budgets: &Budgets) -> Result<(), DescribeError> {
    let spent = |budget: Budget, limit: u64, what: String| DescribeError {
        label: label.to_owned(),
        what,
        hit: Some(BudgetHit::record(budget, limit)),
    };
    let count = specs.len() as u64;
    if count > budgets.describe_tools {
        let what = format!("it describes {count} tools");
        return Err(spent(Budget::DescribeTools, budgets.describe_tools, what));
    }
    let total = specs.iter().fold(0u64, |sum, s| {
        sum.saturating_add((s.name.len() + s.description.len() + s.input_schema.len()) as u64)
    });
    if total > budgets.describe_bytes {
        let what = format!("its answer is {total} bytes (names, descriptions and schemas)");
        return Err(spent(Budget::DescribeBytes, budgets.describe_bytes, what));
    }
    for spec in specs {
        let name = spec.name.len() as u64;
        if name == 0 {
            let what = "a tool has an empty name".to_owned();
            return Err(DescribeError {
                label: label.to_owned(),
                what,
                hit: None,
            });
        }
        if name > budgets.tool_name_bytes {
            let what = format!("tool name `{}` is {name} bytes", quote_name(&spec.name));
            return Err(spent(Budget::ToolNameBytes, budgets.tool_name_bytes, what));
        }
        let schema = spec.input_schema.len() as u64;
        if schema > budgets.schema_bytes {
            let what = format!(
                "tool `{}` has a {schema}-byte input schema",
                quote_name(&spec.name)
            );
            return Err(spent(Budget::SchemaBytes, budgets.schema_bytes, what));
        }
    }
    Ok(())
}

/// True when `name` is only `a-z`, `0-9`, `_` and `-` (the length is a budget, checked apart).
///
/// The rule of `wit/types.wit` (`tool-spec.name`), enforced by the Rust, Python and JavaScript
/// SDKs; model APIs accept these names unchanged (OpenAI and Anthropic allow
/// `[a-zA-Z0-9_-]`, MCP also `.`), so nothing a model sees needs renaming.
pub fn valid_name_chars(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A guest-supplied name for an error message: escaped, and cut to a few dozen characters.
pub fn quote_name(name: &str) -> String {
    let mut chars = name.chars();
    let head: String = chars.by_ref().take(QUOTED_NAME_CHARS).collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("{}{more}", crate::redact::escape(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, description: &str, schema: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            input_schema: schema.into(),
        }
    }

    fn budget_of(err: &DescribeError) -> Option<Budget> {
        err.hit.map(|h| h.budget)
    }

    #[test]
    fn each_budget_refuses_with_its_key() {
        let b = Budgets::default();
        let many: Vec<_> = (0..257).map(|i| spec(&format!("t{i}"), "", "{")).collect();
        let err = check_specs("skill x", &many, &b).unwrap_err();
        assert_eq!(budget_of(&err), Some(Budget::DescribeTools));
        assert!(
            err.to_string().contains("sandbox.describe.max_tools"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("skill x: describe refused"),
            "{err}"
        );

        let big = [spec("a", &"d".repeat(1 << 20), "{}")];
        let err = check_specs("skill x", &big, &b).unwrap_err();
        assert_eq!(budget_of(&err), Some(Budget::DescribeBytes));

        let long = [spec(&"n".repeat(65), "", "{}")];
        let err = check_specs("skill x", &long, &b).unwrap_err();
        assert_eq!(budget_of(&err), Some(Budget::ToolNameBytes));
        assert!(err.to_string().contains("…"), "quoted name is cut: {err}");

        let schema = format!("\"{}\"", "s".repeat(64 << 10));
        let err = check_specs("skill x", &[spec("a", "", &schema)], &b).unwrap_err();
        assert_eq!(budget_of(&err), Some(Budget::SchemaBytes));
        assert!(err
            .to_string()
            .contains("sandbox.describe.max_schema_bytes"));
    }

    #[test]
    fn names_duplicates_and_schemas_are_checked() {
        let b = Budgets::default();
        for bad in ["", "Upper", "a.b", "a b", "a/b", "x\u{1b}[2J", "é"] {
            let err = check_specs("s", &[spec(bad, "", "{}")], &b).unwrap_err();
            assert!(err.hit.is_none(), "{bad:?}: {err}");
            assert!(!err.to_string().contains('\u{1b}'), "escaped: {err}");
        }
        let twice = [spec("a", "", "{}"), spec("a", "", "{}")];
        assert!(check_specs("s", &twice, &b)
            .unwrap_err()
            .to_string()
            .contains("described twice"));
        let not_json = [spec("a", "", "{")];
        assert!(check_specs("s", &not_json, &b)
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
        let fine = [
            spec("query", "d", "{}"),
            spec("a-b_9", "", "{\"type\":\"object\"}"),
        ];
        assert!(check_specs("s", &fine, &b).is_ok());
    }
}
