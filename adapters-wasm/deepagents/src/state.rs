//! The deepagents state that outlives a task: the todo list and the virtual filesystem. The
//! adapter instance is fresh per task, so the state travels with the conversation: each task's
//! completion message carries a data part `{"kind": "molecule/deepagents-state", "files": {…},
//! "todos": […]}` (the conversation builder keeps `molecule/` data out of the model's context),
//! and the next task of the context seeds itself from the latest such part in its history.
//! Files a client attaches by value (UTF-8) to the new message are added too.

use crate::vfs::{normalize, Vfs};
use molecule_guest_sdk::types::{Artifact, Message, Part};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `kind` of the persisted state data part.
pub const STATE_KIND: &str = "molecule/deepagents-state";

/// `kind` of the todo-list artifact's data part.
pub const TODOS_KIND: &str = "molecule/deepagents-todos";

/// Progress of one todo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    /// Not started.
    #[default]
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Completed,
}

/// One item of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// What to do.
    pub content: String,
    /// Its progress.
    #[serde(default)]
    pub status: TodoStatus,
}

/// The persisted state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Always [`STATE_KIND`].
    pub kind: String,
    /// The virtual filesystem.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The todo list.
    #[serde(default)]
    pub todos: Vec<Todo>,
}

fn state_in(message: &Message) -> Option<State> {
    message.parts.iter().rev().find_map(|part| match part {
        Part::Data(data) => serde_json::from_str::<State>(data)
            .ok()
            .filter(|s| s.kind == STATE_KIND),
        _ => None,
    })
}

/// The starting state of a task: `initial_files` (from the config), replaced by the latest
/// snapshot found in `history` or `message`, plus UTF-8 files attached to `message`.
pub fn seed(
    initial_files: &BTreeMap<String, String>,
    history: &[Message],
    message: &Message,
) -> (Vfs, Vec<Todo>) {
    let mut files: BTreeMap<String, String> = initial_files
        .iter()
        .map(|(p, c)| (normalize(p), c.clone()))
        .collect();
    let mut todos = Vec::new();
    let latest = history
        .iter()
        .chain(std::iter::once(message))
        .filter_map(state_in)
        .next_back();
    if let Some(state) = latest {
        files = state.files;
        todos = state.todos;
    }
    for part in &message.parts {
        if let Part::File(file) = part {
            let text = file
                .bytes
                .as_ref()
                .and_then(|b| String::from_utf8(b.clone()).ok());
            if let (Some(name), Some(text)) = (&file.name, text) {
                files.insert(normalize(name), text);
            }
        }
    }
    let vfs = Vfs {
        files,
        changed: false,
    };
    (vfs, todos)
}

/// The data part persisting `vfs` and `todos` for the next task.
pub fn snapshot_part(vfs: &Vfs, todos: &[Todo]) -> Part {
    let state = State {
        kind: STATE_KIND.to_string(),
        files: vfs.files.clone(),
        todos: todos.to_vec(),
    };
    Part::Data(serde_json::to_string(&state).unwrap_or_else(|_| "{}".into()))
}

/// The todo list as a complete data artifact (same id each time, so it replaces the last).
pub fn todos_artifact(artifact_id: &str, todos: &[Todo]) -> Artifact {
    let data = serde_json::json!({"kind": TODOS_KIND, "todos": todos});
    Artifact {
        artifact_id: artifact_id.to_string(),
        name: Some("todos".to_string()),
        parts: vec![Part::Data(data.to_string())],
        append: false,
        last_chunk: true,
    }
}

/// The files as a complete data artifact `files` (`{"kind", "files": {path: content}}`).
pub fn files_artifact(vfs: &Vfs) -> Artifact {
    let data = serde_json::json!({"kind": STATE_KIND, "files": vfs.files});
    Artifact {
        artifact_id: molecule_guest_sdk::new_id(),
        name: Some("files".to_string()),
        parts: vec![Part::Data(data.to_string())],
        append: false,
        last_chunk: true,
    }
}

/// Parses `write_todos` arguments: `{"todos": [{"content", "status"}]}`.
pub fn parse_todos(arguments: &str) -> Result<Vec<Todo>, String> {
    #[derive(Deserialize)]
    struct Args {
        todos: Vec<Todo>,
    }
    serde_json::from_str::<Args>(arguments)
        .map(|a| a.todos)
        .map_err(|e| format!("invalid arguments for `write_todos`: {e}"))
}

/// The `runtime_config.files` map (path → content), validated.
pub fn initial_files(value: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_value(value.clone())
        .map_err(|e| format!("runtime_config.files: expected a map of path to text: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_guest_sdk::types::{FilePart, Role};

    #[test]
    fn seeds_from_latest_snapshot_and_attachments() {
        let mut vfs = Vfs::default();
        vfs.write("/a.md", "old".into()).unwrap();
        let todo = Todo {
            content: "x".into(),
            status: TodoStatus::InProgress,
        };
        let first = Message::with_parts(Role::Agent, vec![snapshot_part(&vfs, &[])]);
        vfs.edit("/a.md", "old", "new", false).unwrap();
        let second = Message::with_parts(
            Role::Agent,
            vec![
                Part::text("done"),
                snapshot_part(&vfs, std::slice::from_ref(&todo)),
            ],
        );
        let file = FilePart {
            name: Some("up.txt".into()),
            media_type: None,
            uri: None,
            bytes: Some(b"hello".to_vec()),
        };
        let msg = Message::with_parts(Role::User, vec![Part::File(file)]);
        let initial = BTreeMap::from([("seed.md".to_string(), "s".to_string())]);
        let (fs, todos) = seed(&initial, &[first, second], &msg);
        assert_eq!(fs.files["/a.md"], "new");
        assert_eq!(fs.files["/up.txt"], "hello");
        assert!(!fs.files.contains_key("/seed.md"));
        assert_eq!(todos, vec![todo]);
        let (fs, _) = seed(&initial, &[], &Message::user_text("hi"));
        assert_eq!(fs.files["/seed.md"], "s");
    }

    #[test]
    fn parses_todos() {
        let todos =
            parse_todos(r#"{"todos":[{"content":"a"},{"content":"b","status":"completed"}]}"#)
                .unwrap();
        assert_eq!(todos[0].status, TodoStatus::Pending);
        assert_eq!(todos[1].status, TodoStatus::Completed);
        assert!(parse_todos(r#"{"todos":[{"content":"a","status":"later"}]}"#).is_err());
        assert!(initial_files(Some(&serde_json::json!({"a": 1}))).is_err());
    }
}
