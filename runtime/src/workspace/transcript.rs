//! A context's conversation as the transcript shows it, built from the task store: for each
//! task (oldest first), its history messages in order, each user message followed by the
//! tool calls its run made (task metadata `molecule.toolCalls`, kept by
//! `task_tools/record.rs`), then the task's artifacts and its final status message. File
//! parts show their name, media type, size and stored upload, never their bytes. Rendered as
//! JSON ([`Transcript::to_json`]) or Markdown ([`Transcript::to_markdown`]); the route is
//! `transcript_route.rs`.

use molecule_a2a::types::{Message, Part, PartContent, Role, Task};
use serde_json::{json, Value};

use super::task_tools::TOOL_CALLS_METADATA_KEY;
use crate::uploads::METADATA_KEY as UPLOAD_KEY;

/// One page of a context's transcript.
pub struct Transcript {
    /// The context id.
    pub context_id: String,
    /// The entries, oldest first.
    pub entries: Vec<Value>,
    /// Tasks on this page.
    pub tasks: usize,
    /// Tasks of the context, all pages.
    pub total_tasks: usize,
    /// Token for the page of earlier tasks; empty on the first page of the conversation.
    pub next_page_token: String,
}

impl Transcript {
    /// The transcript of `tasks` (newest first, as the store lists them) of `context_id`.
    pub fn of_tasks(context_id: &str, tasks: &[Task], total: usize, next: String) -> Self {
        let mut entries = Vec::new();
        for task in tasks.iter().rev() {
            task_entries(task, &mut entries);
        }
        Transcript {
            context_id: context_id.to_owned(),
            entries,
            tasks: tasks.len(),
            total_tasks: total,
            next_page_token: next,
        }
    }

    /// `{"contextId", "entries": [...], "tasks", "totalTasks", "nextPageToken"}`.
    pub fn to_json(&self) -> Value {
        json!({"contextId": self.context_id, "entries": self.entries, "tasks": self.tasks,
               "totalTasks": self.total_tasks, "nextPageToken": self.next_page_token})
    }

    /// The transcript as Markdown: a heading per entry, text as written, tool input and
    /// output in code fences that the content cannot close.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Transcript of context `{}`\n",
            super::transcript_markdown::inline(&self.context_id)
        );
        for e in &self.entries {
            out.push('\n');
            super::transcript_markdown::entry(e, &mut out);
        }
        if !self.next_page_token.is_empty() {
            out.push_str(&format!(
                "\n_Earlier tasks: `pageToken={}`._\n",
                self.next_page_token
            ));
        }
        out
    }
}

fn task_entries(task: &Task, out: &mut Vec<Value>) {
    let calls = tool_calls(task);
    let mut placed = vec![false; calls.len()];
    let history = task.history.as_deref().unwrap_or_default();
    for m in history {
        out.push(message_entry(&task.id, m));
        if m.role == Role::User {
            for (i, call) in calls.iter().enumerate() {
                if !placed[i] && call["messageId"] == m.message_id.as_str() {
                    placed[i] = true;
                    out.push(call_entry(&task.id, call));
                }
            }
        }
    }
    for (i, call) in calls.iter().enumerate() {
        if !placed[i] {
            out.push(call_entry(&task.id, call));
        }
    }
    for a in task.artifacts.iter().flatten() {
        out.push(
            json!({"kind": "artifact", "taskId": task.id, "artifactId": a.artifact_id,
                        "name": a.name, "parts": parts(&a.parts)}),
        );
    }
    let status = &task.status;
    if let Some(m) = &status.message {
        if !history.iter().any(|h| h.message_id == m.message_id) {
            out.push(message_entry(&task.id, m));
        }
    }
    out.push(json!({"kind": "status", "taskId": task.id,
                    "state": state_name(&status.state),
                    "timestamp": status.timestamp}));
}

fn tool_calls(task: &Task) -> Vec<Value> {
    task.metadata
        .as_ref()
        .and_then(|m| m.get(TOOL_CALLS_METADATA_KEY))
        .and_then(|v| v.get("calls"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn call_entry(task_id: &str, call: &Value) -> Value {
    let mut e = json!({"kind": "toolCall", "taskId": task_id, "tool": call["tool"],
                       "input": call["input"]});
    for key in ["output", "error", "truncated"] {
        if let Some(v) = call.get(key) {
            e[key] = v.clone();
        }
    }
    e
}

fn message_entry(task_id: &str, m: &Message) -> Value {
    let role = if m.role == Role::User {
        "user"
    } else {
        "agent"
    };
    json!({"kind": "message", "taskId": task_id, "messageId": m.message_id, "role": role,
           "parts": parts(&m.parts)})
}

fn parts(parts: &[Part]) -> Vec<Value> {
    parts.iter().map(part).collect()
}

fn part(p: &Part) -> Value {
    match &p.content {
        PartContent::Text(t) => json!({"kind": "text", "text": t}),
        PartContent::Data(d) => json!({"kind": "data", "data": d}),
        PartContent::Url(u) => json!({"kind": "file", "url": u, "filename": p.filename,
                                      "mediaType": p.media_type}),
        PartContent::Raw(bytes) => {
            let upload = p.metadata.as_ref().and_then(|m| m.get(UPLOAD_KEY)).cloned();
            json!({"kind": "file", "filename": p.filename, "mediaType": p.media_type,
                   "bytes": bytes.len(), "upload": upload})
        }
    }
}

/// The A2A 1.0 name of a task state, lower case without the prefix (`completed`).
fn state_name(state: &molecule_a2a::types::TaskState) -> String {
    let v = serde_json::to_value(state).unwrap_or_default();
    v.as_str()
        .unwrap_or("unknown")
        .trim_start_matches("TASK_STATE_")
        .to_ascii_lowercase()
}
