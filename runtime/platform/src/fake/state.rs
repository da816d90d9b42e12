//! In-memory state of the fake platform and the record of calls.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

/// One HTTP call the fake platform received.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// `GET`, `POST`, ….
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (`Value::String` when not JSON, `Null` when empty).
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

impl RecordedCall {
    /// A header by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    /// The bearer token, when `Authorization: Bearer …` was sent.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

#[derive(Debug, Clone)]
pub(crate) enum PeerMode {
    Queue,
    Echo,
}

#[derive(Debug, Clone)]
pub(crate) struct WsRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub parent_id: Option<String>,
    pub url: String,
    pub agent_card: Value,
    pub token: Option<String>,
    pub inbound_secret: String,
    pub registered: bool,
    pub last_heartbeat: Option<Value>,
}

impl WsRecord {
    pub fn new(id: &str) -> WsRecord {
        WsRecord {
            id: id.to_string(),
            name: id.to_string(),
            role: String::new(),
            parent_id: None,
            url: String::new(),
            agent_card: Value::Null,
            token: None,
            inbound_secret: mint(),
            registered: false,
            last_heartbeat: None,
        }
    }

    pub fn status(&self) -> &'static str {
        if self.registered {
            "online"
        } else {
            "offline"
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "role": self.role, "parent_id": self.parent_id,
            "url": self.url, "agent_card": self.agent_card, "registered": self.registered,
            "status": self.status(), "last_heartbeat": self.last_heartbeat,
        })
    }

    pub fn peer_row(&self) -> Value {
        let active = self
            .last_heartbeat
            .as_ref()
            .and_then(|h| h.get("active_tasks"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        json!({
            "id": self.id, "name": self.name, "role": self.role, "tier": 1,
            "status": self.status(), "agent_card": self.agent_card, "url": self.url,
            "parent_id": self.parent_id, "active_tasks": active,
        })
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub workspaces: BTreeMap<String, WsRecord>,
    pub forgotten: HashSet<String>,
    pub calls: Vec<RecordedCall>,
    pub fail_next: Option<(usize, u16)>,
    pub memories: Vec<Value>,
    pub secrets: HashMap<String, BTreeMap<String, String>>,
    pub activities: Vec<(String, Value)>,
    pub notifications: Vec<(String, Value)>,
    pub a2a_mode: HashMap<String, PeerMode>,
    pub a2a_busy: HashMap<String, (usize, Option<std::time::Duration>)>,
    pub counter: u64,
}

impl State {
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}", self.counter)
    }

    /// Takes one injected failure, if any are left: its status and why.
    pub fn take_failure(&mut self) -> Option<(u16, &'static str)> {
        let (n, status) = self.fail_next?;
        if n <= 1 {
            self.fail_next = None;
        } else {
            self.fail_next = Some((n - 1, status));
        }
        (n > 0).then_some((status, "injected failure (FakePlatform::fail_next)"))
    }
}

/// A fresh 256-bit token, hex-encoded.
pub(crate) fn mint() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("OS randomness");
    hex::encode(bytes)
}

/// Now as RFC 3339 (UTC, seconds).
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A request body as recorded: JSON if it parses, else its text (lossy UTF-8); `null` if empty.
pub(super) fn parse(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
