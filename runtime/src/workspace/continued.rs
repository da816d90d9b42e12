//! A continued task's artifacts. A task that rested INPUT_REQUIRED (a human's approval, or an
//! adapter that asked for input) runs its adapter again when the follow-up message arrives,
//! and the adapter — a fresh instance that does not know the artifact ids of the execution
//! before — streams its answer into a new artifact of the same name (the agent SDK's
//! `response`). One answer split over two artifacts both named `response` reads as a
//! duplicate, so the host continues the earlier artifact instead, as A2A artifact updates
//! describe it (A2A 1.0 `TaskArtifactUpdateEvent`: an update with `append` adds its parts to
//! the artifact with the same `artifactId`; `lastChunk` marks its end):
//!
//! - a chunk of this execution whose artifact id the task does not have yet, and whose name is
//!   the name of an artifact the task already had when this execution started, goes to that
//!   earlier artifact (its id) with `append = true`, and its first non-empty text starts with
//!   a blank line (`"\n\n"`, as the SDK separates model turns in one artifact);
//! - later chunks of the same id go there too, their `append` and `lastChunk` as sent;
//! - artifacts with a new name, without a name, or that name an earlier id themselves pass
//!   unchanged.
//!
//! The map grows by one entry per artifact id the execution sends, which the task's event
//! budget (`sandbox.task.max_events`) bounds.

use std::collections::HashMap;
use std::sync::Mutex;

use molecule_a2a::types::{Artifact, PartContent, Task};

/// Where this execution's artifacts continue the task's earlier ones (see the module docs).
#[derive(Debug, Default)]
pub struct Continued {
    /// Name → id of the task's artifacts when this execution started (the last one of a
    /// name), and whether that artifact ends with text (a separator is needed).
    earlier: HashMap<String, (String, bool)>,
    /// This execution's artifact id → (the earlier id it continues, separator still due).
    mapped: Mutex<HashMap<String, (String, bool)>>,
}

impl Continued {
    /// The continuation of `task`'s artifacts as stored when this execution starts (a new
    /// task has none: every artifact then passes unchanged).
    pub fn of(task: &Task) -> Continued {
        let mut earlier = HashMap::new();
        for artifact in task.artifacts.iter().flatten() {
            if let Some(name) = &artifact.name {
                let ends_with_text = matches!(
                    artifact.parts.last().map(|p| &p.content),
                    Some(PartContent::Text(t)) if !t.is_empty()
                );
                earlier.insert(name.clone(), (artifact.artifact_id.clone(), ends_with_text));
            }
        }
        Continued {
            earlier,
            mapped: Mutex::default(),
        }
    }

    /// Rewrites one artifact update of this execution (`artifact` and its `append` flag)
    /// onto the earlier artifact it continues, if any.
    pub fn apply(&self, artifact: &mut Artifact, append: &mut bool) {
        if self.earlier.is_empty() {
            return;
        }
        let mut mapped = self.mapped.lock().unwrap_or_else(|p| p.into_inner());
        if !mapped.contains_key(&artifact.artifact_id) {
            let earlier_id = self
                .earlier
                .values()
                .any(|(id, _)| *id == artifact.artifact_id);
            let Some((id, text)) = artifact.name.as_ref().and_then(|n| self.earlier.get(n)) else {
                return;
            };
            if earlier_id {
                return;
            }
            mapped.insert(artifact.artifact_id.clone(), (id.clone(), *text));
            *append = true;
        }
        let Some((id, separate)) = mapped.get_mut(&artifact.artifact_id) else {
            return;
        };
        artifact.artifact_id = id.clone();
        if *separate {
            let first_text = artifact
                .parts
                .iter_mut()
                .find_map(|p| match &mut p.content {
                    PartContent::Text(t) if !t.is_empty() => Some(t),
                    _ => None,
                });
            if let Some(text) = first_text {
                text.insert_str(0, "\n\n");
                *separate = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_a2a::types::Part;

    fn artifact(id: &str, name: Option<&str>, text: &str) -> Artifact {
        Artifact {
            artifact_id: id.into(),
            name: name.map(str::to_owned),
            description: None,
            parts: vec![Part::text(text)],
            metadata: None,
            extensions: None,
        }
    }

    fn task_with(artifacts: Vec<Artifact>) -> Task {
        let mut task: Task = serde_json::from_value(serde_json::json!({
            "id": "t", "contextId": "c", "status": {"state": "TASK_STATE_INPUT_REQUIRED"}
        }))
        .unwrap();
        task.artifacts = Some(artifacts);
        task
    }

    fn text(a: &Artifact) -> &str {
        a.parts[0].as_text().unwrap_or_default()
    }

    #[test]
    fn a_same_named_artifact_continues_the_earlier_one() {
        let task = task_with(vec![artifact("old", Some("response"), "I need a human.")]);
        let continued = Continued::of(&task);
        let (mut first, mut append) = (artifact("new", Some("response"), "Approved"), false);
        continued.apply(&mut first, &mut append);
        assert_eq!((first.artifact_id.as_str(), append), ("old", true));
        assert_eq!(text(&first), "\n\nApproved");
        let (mut next, mut append) = (artifact("new", Some("response"), ", done."), true);
        continued.apply(&mut next, &mut append);
        assert_eq!((next.artifact_id.as_str(), append), ("old", true));
        assert_eq!(text(&next), ", done.", "one separator only");
    }

    #[test]
    fn other_artifacts_pass_unchanged() {
        let task = task_with(vec![artifact("old", Some("response"), "x")]);
        let continued = Continued::of(&task);
        for (id, name) in [
            ("n1", Some("files")),
            ("n2", None),
            ("old", Some("response")),
        ] {
            let (mut a, mut append) = (artifact(id, name, "y"), false);
            continued.apply(&mut a, &mut append);
            assert_eq!((a.artifact_id.as_str(), append, text(&a)), (id, false, "y"));
        }
        let fresh = Continued::of(&task_with(Vec::new()));
        let (mut a, mut append) = (artifact("n", Some("response"), "y"), false);
        fresh.apply(&mut a, &mut append);
        assert_eq!((a.artifact_id.as_str(), append), ("n", false));
    }
}
