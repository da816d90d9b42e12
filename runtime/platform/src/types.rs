//! Wire types of the platform API, shaped as the contract's "Platform API used by the runtime"
//! table. Answers are decoded leniently (missing fields default) so a newer platform that adds
//! or omits optional fields does not break the runtime.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A skill as advertised in the registration card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CardSkill {
    /// Skill id (the folder name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Card capabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CardCapabilities {
    /// Streaming supported.
    #[serde(default)]
    pub streaming: bool,
    /// Push notifications supported.
    #[serde(default, rename = "pushNotifications")]
    pub push_notifications: bool,
}

/// Whether the adapter was set up (`ready`) or the workspace serves "not configured".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConfigurationStatus {
    /// Adapter set up, executor ready.
    #[default]
    Ready,
    /// Setup failed; the card is served, `POST /` answers 503.
    NotConfigured,
}

/// The agent card sent in `register` and `update-card`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AgentCard {
    /// Workspace name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Advertised A2A URL.
    #[serde(default)]
    pub url: String,
    /// Skills.
    #[serde(default)]
    pub skills: Vec<CardSkill>,
    /// Capabilities.
    #[serde(default)]
    pub capabilities: CardCapabilities,
    /// `ready` / `not_configured`.
    #[serde(default)]
    pub configuration_status: ConfigurationStatus,
    /// Why setup failed (secrets already redacted by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_error: Option<String>,
    /// Any further card fields (e.g. the full A2A card), sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /registry/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Workspace id.
    pub id: String,
    /// Advertised A2A URL.
    pub url: String,
    /// The card.
    pub agent_card: AgentCard,
    /// The parent workspace, sent only when the runtime has one to report (`PARENT_ID`, when
    /// the platform does not name a parent itself); left out of the body when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

/// Answer of `POST /registry/register`.
#[derive(Clone, PartialEq, Deserialize, Default)]
pub struct RegisterResponse {
    /// `registered`.
    #[serde(default)]
    pub status: String,
    /// The workspace token, present on the first registration only.
    #[serde(default)]
    pub auth_token: Option<String>,
    /// Secret the platform will present on calls it makes to this workspace.
    #[serde(default)]
    pub platform_inbound_secret: Option<String>,
}

impl fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("status", &self.status)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "platform_inbound_secret",
                &self.platform_inbound_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Body of `POST /registry/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Heartbeat {
    /// Workspace id.
    pub workspace_id: String,
    /// Share of recent tasks that failed, 0.0–1.0.
    pub error_rate: f64,
    /// One recent error message (empty when none).
    pub sample_error: String,
    /// Tasks running now.
    pub active_tasks: u32,
    /// What the current task is about (empty when idle).
    pub current_task: String,
    /// Seconds since the runtime started.
    pub uptime_seconds: u64,
    /// `"wedged"` when the runtime reported itself stuck; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_state: Option<String>,
    /// `{capabilities, idle_timeout_seconds?}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_metadata: Option<Value>,
}

/// Answer of `POST /registry/heartbeat`.
#[derive(Clone, PartialEq, Deserialize, Default)]
pub struct HeartbeatResponse {
    /// `ok`.
    #[serde(default)]
    pub status: String,
    /// Current inbound secret, when the platform sends one.
    #[serde(default)]
    pub platform_inbound_secret: Option<String>,
}

impl fmt::Debug for HeartbeatResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeartbeatResponse")
            .field("status", &self.status)
            .field(
                "platform_inbound_secret",
                &self.platform_inbound_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Answer of `GET /registry/discover/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Discovered {
    /// Workspace id.
    pub id: String,
    /// Its A2A URL.
    #[serde(default)]
    pub url: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// One row of `GET /registry/{id}/peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Peer {
    /// Workspace id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Role.
    #[serde(default)]
    pub role: String,
    /// Tier.
    #[serde(default)]
    pub tier: i64,
    /// `online`, `offline`, ….
    #[serde(default)]
    pub status: String,
    /// Its agent card, as registered.
    #[serde(default)]
    pub agent_card: Value,
    /// Its A2A URL.
    #[serde(default)]
    pub url: String,
    /// Its parent, `None` at the top.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Tasks it runs now.
    #[serde(default)]
    pub active_tasks: u32,
}

/// Answer of `GET /workspaces/{id}` (the fields the runtime uses; the rest kept in `extra`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WorkspaceInfo {
    /// Workspace id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Parent workspace.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Memory scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum MemoryScope {
    /// This workspace only.
    #[default]
    Local,
    /// The team (same parent).
    Team,
    /// Everyone.
    Global,
}

impl MemoryScope {
    /// `LOCAL` / `TEAM` / `GLOBAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryScope::Local => "LOCAL",
            MemoryScope::Team => "TEAM",
            MemoryScope::Global => "GLOBAL",
        }
    }
}

/// Body of `POST /workspaces/{id}/memories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMemory {
    /// The text (secrets already redacted by the caller).
    pub content: String,
    /// Scope.
    pub scope: MemoryScope,
    /// Optional namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Answer of `POST /workspaces/{id}/memories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MemoryCreated {
    /// Memory id.
    pub id: String,
    /// Scope.
    #[serde(default)]
    pub scope: MemoryScope,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// One row of `GET /workspaces/{id}/memories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MemoryEntry {
    /// Memory id.
    pub id: String,
    /// Who wrote it.
    #[serde(default)]
    pub workspace_id: String,
    /// The text.
    pub content: String,
    /// Scope.
    #[serde(default)]
    pub scope: MemoryScope,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// RFC 3339 time.
    #[serde(default)]
    pub created_at: String,
    /// Relevance, when the platform ranks.
    #[serde(default)]
    pub similarity_score: Option<f64>,
}

/// Secrets pulled from `GET /workspaces/{id}/secrets`. Kept in memory only; `Debug` shows names,
/// never values.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secrets(pub BTreeMap<String, String>);

impl Secrets {
    /// The value of one secret.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    /// The names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
    /// Number of secrets.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// No secrets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({:?})", self.names())
    }
}
