//! Activity reports (`POST /workspaces/{id}/activity`): the contract's [`ActivityType`]s and
//! one [`Activity`] with its wire body. They are sent through the non-blocking queue of
//! [`ActivityReporter`](crate::ActivityReporter) (`reporter.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The contract's activity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    /// We sent an A2A message.
    A2aSend,
    /// We received an A2A message.
    A2aReceive,
    /// A task changed state.
    TaskUpdate,
    /// A log line worth showing.
    AgentLog,
    /// A skill was promoted.
    SkillPromotion,
    /// A memory was written (summary `"[SCOPE] <first 80 chars>"`).
    MemoryWrite,
    /// Something failed.
    Error,
}

/// One activity report. Build with [`Activity::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Type.
    pub activity_type: ActivityType,
    /// Source workspace (defaults to ours).
    pub source_id: Option<String>,
    /// Target workspace, for A2A.
    pub target_id: Option<String>,
    /// JSON-RPC method or tool, when relevant.
    pub method: Option<String>,
    /// One line for humans.
    pub summary: String,
    /// `ok`, `error`, a task state, ….
    pub status: Option<String>,
    /// Error text (secrets redacted by the caller).
    pub error_detail: Option<String>,
    /// Duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// Anything else.
    pub metadata: Option<Value>,
}

impl Activity {
    /// A report of `kind` with `summary`.
    pub fn new(kind: ActivityType, summary: impl Into<String>) -> Activity {
        Activity {
            activity_type: kind,
            source_id: None,
            target_id: None,
            method: None,
            summary: summary.into(),
            status: None,
            error_detail: None,
            duration_ms: None,
            metadata: None,
        }
    }
    /// Sets the target workspace.
    pub fn target(mut self, id: impl Into<String>) -> Self {
        self.target_id = Some(id.into());
        self
    }
    /// Sets the source workspace (default: ours).
    pub fn source(mut self, id: impl Into<String>) -> Self {
        self.source_id = Some(id.into());
        self
    }
    /// Sets the method.
    pub fn method(mut self, m: impl Into<String>) -> Self {
        self.method = Some(m.into());
        self
    }
    /// Sets the status.
    pub fn status(mut self, s: impl Into<String>) -> Self {
        self.status = Some(s.into());
        self
    }
    /// Sets the error detail.
    pub fn error(mut self, e: impl Into<String>) -> Self {
        self.error_detail = Some(e.into());
        self
    }
    /// Sets the duration.
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration_ms = Some(d.as_millis() as u64);
        self
    }
    /// Sets the metadata.
    pub fn metadata(mut self, m: Value) -> Self {
        self.metadata = Some(m);
        self
    }

    /// The wire body: every contract field present (`null` when unset), `source_id` defaulted.
    pub fn to_wire(&self, own_id: &str) -> Value {
        json!({
            "activity_type": self.activity_type,
            "source_id": self.source_id.as_deref().unwrap_or(own_id),
            "target_id": self.target_id,
            "method": self.method,
            "summary": self.summary,
            "status": self.status,
            "error_detail": self.error_detail,
            "duration_ms": self.duration_ms,
            "metadata": self.metadata,
        })
    }
}
