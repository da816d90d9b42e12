//! The conversation a CLI agent's program gets: the text of the messages before the current
//! one in the task's A2A context, written as JSON lines into the task's working folder
//! ([`HISTORY_FILE`], its path in `MOLECULE_HISTORY_FILE`), oldest first. Each line is
//! `{"taskId": "…", "messageId": "…", "role": "user" | "agent", "text": "…"}` (the text parts
//! of the message joined by `\n`), plus `"files": [{"path", "name", "filename", "mediaType",
//! "bytes"}]` when the message brought files (`files.rs`); a message with neither text nor
//! stored files is left out. A finished earlier task
//! whose history holds no agent message contributes its artifacts' text as one agent line
//! (that is where a CLI agent's own answers are). At most `runtime_config.history_max_bytes`
//! bytes are written: the newest lines that fit; older ones are left out.

use std::path::{Path, PathBuf};

use molecule_a2a::store::ListQuery;
use molecule_a2a::types::{Message, PartContent, Role, Task};
use molecule_a2a::{RequestContext, TaskStore};
use serde_json::{json, Value};

use super::files::ContextFiles;

/// The file's name in the task's working folder.
pub const HISTORY_FILE: &str = "history.jsonl";
/// Most earlier tasks of a context read (the newest).
const HISTORY_TASKS: usize = 50;

/// Writes the history of `ctx` into `folder` within `max_bytes`, each message with the
/// `files` it brought; returns the file's path. `Err` names the file.
pub async fn write_history(
    store: Option<&TaskStore>,
    ctx: &RequestContext,
    folder: &Path,
    max_bytes: u64,
    files: &ContextFiles,
) -> Result<PathBuf, String> {
    let mut lines = Vec::new();
    if let (Some(store), false) = (store, ctx.new_context) {
        let query = ListQuery {
            context_id: Some(ctx.context_id.clone()),
            page_size: HISTORY_TASKS,
            ..ListQuery::default()
        };
        if let Ok(page) = store.list(query).await {
            for task in page.tasks.iter().rev().filter(|t| t.id != ctx.task_id) {
                task_lines(task, &mut lines, files);
            }
        }
    }
    for m in ctx.task.history.iter().flatten() {
        if m.message_id != ctx.message.message_id {
            lines.extend(line(&ctx.task_id, m, files));
        }
    }
    let text = newest_within(&lines, max_bytes);
    let path = folder.join(HISTORY_FILE);
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The lines of one earlier task.
fn task_lines(task: &Task, lines: &mut Vec<String>, files: &ContextFiles) {
    let mut replied = false;
    for m in task.history.iter().flatten() {
        replied |= m.role == Role::Agent;
        lines.extend(line(&task.id, m, files));
    }
    let text: String = task
        .artifacts
        .iter()
        .flatten()
        .flat_map(|a| &a.parts)
        .filter_map(|p| match &p.content {
            PartContent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if !replied && !text.is_empty() {
        let id = format!("{}-result", task.id);
        lines.push(json_line(&task.id, &id, "agent", &text, Vec::new()));
    }
}

/// One message's line (`None`: it has no text and brought no files).
fn line(task_id: &str, m: &Message, files: &ContextFiles) -> Option<String> {
    let texts: Vec<&str> = m.parts.iter().filter_map(|p| p.as_text()).collect();
    let files = files.of(task_id, &m.message_id);
    if texts.is_empty() && files.is_empty() {
        return None;
    }
    let role = if m.role == Role::Agent {
        "agent"
    } else {
        "user"
    };
    let text = texts.join("\n");
    Some(json_line(task_id, &m.message_id, role, &text, files))
}

fn json_line(task_id: &str, message_id: &str, role: &str, text: &str, files: Vec<Value>) -> String {
    let mut value = json!({"taskId": task_id, "messageId": message_id, "role": role, "text": text});
    if !files.is_empty() {
        value["files"] = Value::Array(files);
    }
    format!("{value}\n")
}

/// The newest of `lines` (kept in order) whose bytes add up to at most `max`.
fn newest_within(lines: &[String], max: u64) -> String {
    let mut total = 0u64;
    let mut from = lines.len();
    for (i, l) in lines.iter().enumerate().rev() {
        total += l.len() as u64;
        if total > max {
            break;
        }
        from = i;
    }
    lines[from..].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_lines_that_fit_are_kept() {
        let lines: Vec<String> = ["aaaa\n", "bb\n", "c\n"].map(String::from).to_vec();
        assert_eq!(newest_within(&lines, 5), "bb\nc\n");
        assert_eq!(newest_within(&lines, 100), "aaaa\nbb\nc\n");
        assert_eq!(newest_within(&lines, 1), "");
    }
}
