//! `ArtifactStreamer`: emits streamed model text as chunks of one artifact. The first chunk has
//! `append = false`, later ones `append = true`; the final chunk carries `last-chunk = true`.
//! One delta is held back so that the final chunk carries real text (no empty trailing chunk)
//! unless nothing was streamed at all. A model turn that ends in tool calls flushes the held
//! delta ([`ArtifactStreamer::flush`]): a tool call may pause the task for a human, and the
//! text before it must reach the client whole.

use super::{best_effort, AgentError, AgentHost};
use crate::types::{Artifact, Part};

/// Streams text into one artifact, chunk by chunk.
#[derive(Debug, Clone)]
pub struct ArtifactStreamer {
    artifact_id: String,
    name: Option<String>,
    sent_any: bool,
    pending: Option<String>,
    text: String,
    finished: bool,
}

impl ArtifactStreamer {
    /// A streamer for a new artifact with a fresh id and the given name.
    pub fn new(name: Option<&str>) -> Self {
        Self::with_id(crate::new_id(), name)
    }

    /// A streamer for artifact `artifact_id`.
    pub fn with_id(artifact_id: impl Into<String>, name: Option<&str>) -> Self {
        ArtifactStreamer {
            artifact_id: artifact_id.into(),
            name: name.map(str::to_string),
            sent_any: false,
            pending: None,
            text: String::new(),
            finished: false,
        }
    }

    /// The artifact id.
    pub fn artifact_id(&self) -> &str {
        &self.artifact_id
    }

    /// All text pushed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True once any text was pushed.
    pub fn has_text(&self) -> bool {
        !self.text.is_empty()
    }

    /// True once [`finish`](Self::finish) ran.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Adds `delta`; the previously held-back delta is emitted as a chunk.
    pub fn push(&mut self, host: &dyn AgentHost, delta: &str) -> Result<(), AgentError> {
        if delta.is_empty() || self.finished {
            return Ok(());
        }
        self.text.push_str(delta);
        match self.pending.replace(delta.to_string()) {
            Some(previous) => self.emit(host, previous, false),
            None => Ok(()),
        }
    }

    /// Emits the held-back text as a chunk that is not the last: the text so far is
    /// complete for now (a model turn ended in tool calls, and the task may pause at one of
    /// them, ending this call before [`finish`](Self::finish)). A later [`finish`] with
    /// nothing held back sends an empty last chunk.
    pub fn flush(&mut self, host: &dyn AgentHost) -> Result<(), AgentError> {
        match self.pending.take() {
            Some(text) if !self.finished => self.emit(host, text, false),
            _ => Ok(()),
        }
    }

    /// Emits the held-back text as the last chunk (an empty last chunk if nothing was held
    /// back but earlier chunks were sent; nothing at all if no text was ever pushed).
    pub fn finish(&mut self, host: &dyn AgentHost) -> Result<(), AgentError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        match self.pending.take() {
            Some(last) => self.emit(host, last, true),
            None if self.sent_any => self.emit(host, String::new(), true),
            None => Ok(()),
        }
    }

    fn emit(&mut self, host: &dyn AgentHost, text: String, last: bool) -> Result<(), AgentError> {
        let artifact = Artifact {
            artifact_id: self.artifact_id.clone(),
            name: self.name.clone(),
            parts: vec![Part::Text(text)],
            append: self.sent_any,
            last_chunk: last,
        };
        self.sent_any = true;
        best_effort(host, "events.add-artifact", host.add_artifact(&artifact))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::FakeHost;

    #[test]
    fn chunks_append_and_last() {
        let host = FakeHost::new();
        let mut s = ArtifactStreamer::with_id("a1", Some("response"));
        for d in ["Hel", "lo ", "world"] {
            s.push(&host, d).unwrap();
        }
        s.finish(&host).unwrap();
        s.finish(&host).unwrap();
        let chunks = host.artifacts();
        let flags: Vec<_> = chunks.iter().map(|a| (a.append, a.last_chunk)).collect();
        assert_eq!(flags, vec![(false, false), (true, false), (true, true)]);
        assert_eq!(host.artifact_text("a1"), "Hello world");
        assert_eq!(s.text(), "Hello world");
    }

    #[test]
    fn flush_sends_the_held_back_text_at_once() {
        let host = FakeHost::new();
        let mut s = ArtifactStreamer::with_id("a", Some("response"));
        for d in ["I need a hum", "an for this."] {
            s.push(&host, d).unwrap();
        }
        s.flush(&host).unwrap();
        // Ended here (a pause): the client already has every word.
        assert_eq!(host.artifact_text("a"), "I need a human for this.");
        s.finish(&host).unwrap();
        let flags: Vec<_> = host
            .artifacts()
            .iter()
            .map(|a| (a.append, a.last_chunk))
            .collect();
        assert_eq!(flags, vec![(false, false), (true, false), (true, true)]);
        assert_eq!(host.artifact_text("a"), "I need a human for this.");
    }

    #[test]
    fn single_delta_and_nothing() {
        let host = FakeHost::new();
        let mut s = ArtifactStreamer::with_id("a", None);
        s.push(&host, "x").unwrap();
        s.finish(&host).unwrap();
        let flags: Vec<_> = host
            .artifacts()
            .iter()
            .map(|a| (a.append, a.last_chunk))
            .collect();
        assert_eq!(flags, vec![(false, true)]);

        let host = FakeHost::new();
        ArtifactStreamer::new(None).finish(&host).unwrap();
        assert!(host.artifacts().is_empty());
    }
}
