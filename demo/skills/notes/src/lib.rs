//! notes: an example molecule-runtime skill that keeps notes in the host's long-term memory.
//! Tools `add_note` and `find_notes` call the `memory` import (commit / search); a memory
//! capability the operator did not grant comes back as tool-error `denied`, an unreachable
//! backend as `failed`, each with the host's text (the SDK's `From<HostError> for ToolError`).

//! The `notes` skill: `add_note` stores a note in memory, `find_notes` searches them.

use molecule_guest_sdk::memory::{self, MemoryEntry, Scope};
use molecule_guest_sdk::{export_skill, json, Skill, ToolError, Value};
use serde::Deserialize;

/// Most notes `find_notes` returns at once.
const MAX_LIMIT: u32 = 50;
/// Notes `find_notes` returns when no limit is given.
const DEFAULT_LIMIT: u32 = 5;

/// Input of `add_note`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddNote {
    /// The note.
    text: String,
    /// Who can read it; `local` by default.
    #[serde(default)]
    scope: Option<Scope>,
}

/// Input of `find_notes`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FindNotes {
    /// What to look for.
    query: String,
    /// How many notes at most.
    #[serde(default)]
    limit: Option<u32>,
    /// Restrict the search to one scope; all readable scopes by default.
    #[serde(default)]
    scope: Option<Scope>,
}

/// Stores a note and returns its id and scope.
fn add_note(input: AddNote) -> Result<Value, ToolError> {
    let text = input.text.trim();
    if text.is_empty() {
        return Err(ToolError::InvalidInput(
            "field `text`: the note is empty".to_string(),
        ));
    }
    let scope = input.scope.unwrap_or(Scope::Local);
    let id = memory::commit(text, scope)?;
    Ok(json!({ "id": id, "scope": scope }))
}

/// Searches notes, best first.
fn find_notes(input: FindNotes) -> Result<Value, ToolError> {
    let limit = input.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ToolError::InvalidInput(format!(
            "field `limit`: {limit} is out of range, use 1 to {MAX_LIMIT}"
        )));
    }
    let notes: Vec<MemoryEntry> = memory::search(&input.query, input.scope, limit)?;
    Ok(json!({ "count": notes.len(), "notes": notes }))
}

/// The skill: two tools over the memory capability.
fn skill() -> Skill {
    Skill::new()
        .tool(
            "add_note",
            "Saves a note to long-term memory so it can be found later with find_notes. \
             Returns the note's id.",
            json!({
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 1, "description": "The note."},
                    "scope": {
                        "type": "string",
                        "enum": ["local", "team", "global"],
                        "default": "local",
                        "description": "Who can read it: this workspace, its team, or the whole organisation."
                    }
                },
                "required": ["text"],
                "additionalProperties": false
            }),
            add_note,
        )
        .tool(
            "find_notes",
            "Searches saved notes by relevance to a query and returns the best matches \
             (id, content, scope, created_at, score).",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look for."},
                    "limit": {
                        "type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                        "description": "How many notes at most."
                    },
                    "scope": {
                        "type": "string",
                        "enum": ["local", "team", "global"],
                        "description": "Only this scope; every readable scope when omitted."
                    }
                },
                "required": ["query"],
                "additionalProperties": false
            }),
            find_notes,
        )
}

export_skill!(skill);

#[cfg(test)]
mod tests {
    // Only input validation is testable natively: the memory import exists only in a host.
    use super::*;

    fn invalid(name: &str, input: Value) -> String {
        match skill().call_value(name, &input) {
            Err(ToolError::InvalidInput(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validates_input() {
        assert!(invalid("add_note", json!({})).contains("missing field `text`"));
        assert!(invalid("add_note", json!({"text": "  "})).contains("empty"));
        let t = invalid("add_note", json!({"text": "x", "scope": "world"}));
        assert!(
            t.starts_with("field `scope`") && t.contains("unknown scope"),
            "{t}"
        );
        assert!(invalid("find_notes", json!({})).contains("missing field `query`"));
        let t = invalid("find_notes", json!({"query": "x", "limit": 0}));
        assert!(t.starts_with("field `limit`"), "{t}");
        let t = invalid("find_notes", json!({"query": "x", "limit": -1}));
        assert!(t.starts_with("field `limit`"), "{t}");
    }

    #[test]
    fn describes_two_tools() {
        let names: Vec<String> = skill().describe().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["add_note", "find_notes"]);
    }
}
