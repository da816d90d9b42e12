//! Conversions between the A2A wire types (`molecule_a2a::types`) and the WIT types guests
//! see (`bindings`). Lossless for text, data and file parts; unknown JSON metadata is carried
//! as JSON text.

use std::collections::HashMap;

use molecule_a2a::types as a2a;
use serde_json::Value;

use crate::bindings::imports::molecule::runtime::types as wit;

/// A2A message → WIT message.
pub fn message_to_wit(m: &a2a::Message) -> wit::Message {
    wit::Message {
        message_id: m.message_id.clone(),
        role: match m.role {
            a2a::Role::Agent => wit::Role::Agent,
            _ => wit::Role::User,
        },
        parts: m.parts.iter().map(part_to_wit).collect(),
        context_id: m.context_id.clone(),
        task_id: m.task_id.clone(),
        metadata: m.metadata.as_ref().map(json_text),
    }
}

/// WIT message → A2A message, filling in the task and context ids when the guest left them
/// out.
pub fn message_from_wit(m: wit::Message, task_id: &str, context_id: &str) -> a2a::Message {
    a2a::Message {
        message_id: if m.message_id.is_empty() {
            molecule_a2a::types::new_id()
        } else {
            m.message_id
        },
        context_id: Some(m.context_id.unwrap_or_else(|| context_id.to_owned())),
        task_id: Some(m.task_id.unwrap_or_else(|| task_id.to_owned())),
        role: match m.role {
            wit::Role::Agent => a2a::Role::Agent,
            wit::Role::User => a2a::Role::User,
        },
        parts: m.parts.into_iter().map(part_from_wit).collect(),
        metadata: m.metadata.as_deref().and_then(json_map),
        extensions: None,
        reference_task_ids: None,
    }
}

/// A2A part → WIT part.
pub fn part_to_wit(p: &a2a::Part) -> wit::Part {
    match &p.content {
        a2a::PartContent::Text(t) => wit::Part::Text(t.clone()),
        a2a::PartContent::Data(v) => wit::Part::Data(v.to_string()),
        a2a::PartContent::Raw(bytes) => wit::Part::File(wit::FilePart {
            name: p.filename.clone(),
            media_type: p.media_type.clone(),
            uri: None,
            bytes: Some(bytes.clone()),
        }),
        a2a::PartContent::Url(url) => wit::Part::File(wit::FilePart {
            name: p.filename.clone(),
            media_type: p.media_type.clone(),
            uri: Some(url.clone()),
            bytes: None,
        }),
    }
}

/// WIT part → A2A part. Data that is not valid JSON is carried as text.
pub fn part_from_wit(p: wit::Part) -> a2a::Part {
    let (content, filename, media_type) = match p {
        wit::Part::Text(t) => (a2a::PartContent::Text(t), None, None),
        wit::Part::Data(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => (a2a::PartContent::Data(v), None, None),
            Err(_) => (a2a::PartContent::Text(text), None, None),
        },
        wit::Part::File(f) => {
            let content = match (f.bytes, f.uri) {
                (Some(bytes), _) => a2a::PartContent::Raw(bytes),
                (None, Some(uri)) => a2a::PartContent::Url(uri),
                (None, None) => a2a::PartContent::Raw(Vec::new()),
            };
            (content, f.name, f.media_type)
        }
    };
    a2a::Part {
        content,
        filename,
        media_type,
        metadata: None,
    }
}

/// WIT artifact → A2A artifact plus its `append` and `last_chunk` flags.
pub fn artifact_from_wit(a: wit::Artifact) -> (a2a::Artifact, bool, bool) {
    let artifact = a2a::Artifact {
        artifact_id: if a.artifact_id.is_empty() {
            molecule_a2a::types::new_id()
        } else {
            a.artifact_id
        },
        name: a.name,
        description: None,
        parts: a.parts.into_iter().map(part_from_wit).collect(),
        metadata: None,
        extensions: None,
    };
    (artifact, a.append, a.last_chunk)
}

/// WIT task state → A2A task state.
pub fn state_from_wit(s: wit::TaskState) -> a2a::TaskState {
    match s {
        wit::TaskState::Submitted => a2a::TaskState::Submitted,
        wit::TaskState::Working => a2a::TaskState::Working,
        wit::TaskState::InputRequired => a2a::TaskState::InputRequired,
        wit::TaskState::AuthRequired => a2a::TaskState::AuthRequired,
        wit::TaskState::Completed => a2a::TaskState::Completed,
        wit::TaskState::Canceled => a2a::TaskState::Canceled,
        wit::TaskState::Failed => a2a::TaskState::Failed,
        wit::TaskState::Rejected => a2a::TaskState::Rejected,
    }
}

/// The text of an artifact's text parts, joined.
pub fn artifact_text(a: &a2a::Artifact) -> String {
    a.parts
        .iter()
        .filter_map(|p| match &p.content {
            a2a::PartContent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("")
}

fn json_text(map: &HashMap<String, Value>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

fn json_map(text: &str) -> Option<HashMap<String, Value>> {
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let parts = vec![
            a2a::Part::text("hi"),
            a2a::Part {
                content: a2a::PartContent::Data(serde_json::json!({"k": [1, 2]})),
                filename: None,
                media_type: None,
                metadata: None,
            },
            a2a::Part {
                content: a2a::PartContent::Url("https://x.test/f.pdf".into()),
                filename: Some("f.pdf".into()),
                media_type: Some("application/pdf".into()),
                metadata: None,
            },
        ];
        for p in parts {
            assert_eq!(part_from_wit(part_to_wit(&p)), p);
        }
    }
}
