//! `sandbox`: the limits of untrusted code — the per-call memory and time limits, the output
//! cap, the budgets on what a guest makes the host store or send (`log`, `heartbeat`,
//! `describe`, `memory_capability`, `http`, `task`) and workspace-wide admission
//! (`admission`). Every key here is a security setting: a value present but unreadable, a null,
//! or a near-miss key name is an error, never a default (fail closed).
//!
//! Which key means what, and its default, is the runtime's `budgets.rs` (`Budget::key`) and
//! `admission` module; this module only reads and checks the values.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_yaml::Value;

use crate::keys::check_keys;
use crate::lenient::{describe, field, scalar_text, Reader};

/// Default `sandbox.memory_limit`: 256 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;
/// Default `sandbox.timeout`: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a limit's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A size: `64k`, `1m`, a number of bytes.
    Bytes,
    /// A whole number ≥ the given minimum.
    Count(u64),
    /// A duration: `30s`, `500ms`, a number of seconds.
    Time,
}

/// The limit keys of each subsection of `sandbox` (`""` is `sandbox` itself).
const SECTIONS: &[(&str, &[(&str, Kind)])] = &[
    (
        "",
        &[
            ("max_output", Kind::Bytes),
            ("table_elements", Kind::Count(1)),
        ],
    ),
    (
        "log",
        &[("max_bytes", Kind::Bytes), ("max_records", Kind::Count(0))],
    ),
    ("heartbeat", &[("max_wedged_reports", Kind::Count(0))]),
    (
        "describe",
        &[
            ("max_bytes", Kind::Bytes),
            ("max_tools", Kind::Count(1)),
            ("max_name_bytes", Kind::Count(1)),
            ("max_schema_bytes", Kind::Bytes),
        ],
    ),
    (
        "memory_capability",
        &[
            ("max_entry_bytes", Kind::Bytes),
            ("quota", Kind::Bytes),
            ("max_writes_per_call", Kind::Count(0)),
        ],
    ),
    (
        "http",
        &[
            ("max_requests_per_call", Kind::Count(0)),
            ("max_bytes_per_call", Kind::Bytes),
        ],
    ),
    (
        "task",
        &[
            ("max_events", Kind::Count(1)),
            ("max_artifact_bytes", Kind::Bytes),
        ],
    ),
    (
        "admission",
        &[
            ("max_concurrent_calls", Kind::Count(1)),
            ("max_guest_memory", Kind::Bytes),
            ("max_waiting", Kind::Count(0)),
            ("max_wait", Kind::Time),
        ],
    ),
];

/// `sandbox`: for us, the default wasm limits of every component and the workspace's budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The Python runtime's sandbox backend name; kept for compatibility, unused by wasm.
    pub backend: Option<String>,
    /// Linear-memory limit in bytes (`memory_limit: 256m`).
    pub memory_limit: u64,
    /// Per-call time limit (`timeout: 30`, seconds or `30s`).
    pub timeout: Duration,
    /// Every other limit that config.yaml sets, by full key (`sandbox.log.max_bytes`): sizes in
    /// bytes, counts as written. Absent keys are absent (the runtime's default applies).
    pub limits: BTreeMap<String, u64>,
    /// Durations among those limits (`sandbox.admission.max_wait`), by full key.
    pub durations: BTreeMap<String, Duration>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            backend: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            timeout: DEFAULT_TIMEOUT,
            limits: BTreeMap::new(),
            durations: BTreeMap::new(),
        }
    }
}

impl SandboxConfig {
    /// The value set for the limit `key` (a full key such as `sandbox.http.max_bytes_per_call`),
    /// if config.yaml sets it.
    pub fn limit(&self, key: &str) -> Option<u64> {
        self.limits.get(key).copied()
    }

    /// The duration set for `key` (`sandbox.admission.max_wait`), if config.yaml sets it.
    pub fn duration(&self, key: &str) -> Option<Duration> {
        self.durations.get(key).copied()
    }

    /// Every limit key this section knows, in full (`sandbox.describe.max_tools`), besides
    /// `sandbox.memory_limit` and `sandbox.timeout`.
    pub fn known_keys() -> Vec<String> {
        SECTIONS
            .iter()
            .flat_map(|(section, keys)| keys.iter().map(move |(k, _)| full_key(section, k)))
            .collect()
    }

    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> SandboxConfig {
        let mut out = SandboxConfig::default();
        let holds = "the limits of untrusted code (`memory_limit`, `timeout`, budgets)";
        let Some(v) = r.secure_mapping(v, "sandbox", holds) else {
            return out;
        };
        let mut known: Vec<&str> = vec!["backend", "memory_limit", "timeout"];
        known.extend(SECTIONS[0].1.iter().map(|(k, _)| *k));
        known.extend(SECTIONS[1..].iter().map(|(s, _)| *s));
        let secure: Vec<&str> = known.iter().copied().filter(|k| *k != "backend").collect();
        check_keys(r, v, "sandbox", &known, &secure, &["inbound_secret"]);
        out.backend = r.opt_string(field(v, "backend"), "sandbox.backend");
        // Limits of untrusted code: unreadable ones (null included) are errors, not defaults.
        if let Some(n) = r.limit_bytes(v.get("memory_limit"), "sandbox.memory_limit") {
            out.memory_limit = n;
        }
        if let Some(d) = r.limit_duration(v.get("timeout"), "sandbox.timeout") {
            out.timeout = d;
        }
        for (section, keys) in SECTIONS {
            let map = if section.is_empty() {
                Some(v)
            } else {
                let key = format!("sandbox.{section}");
                let holds = format!("budgets of untrusted code (`{key}.*`)");
                let map = r.secure_mapping(v.get(*section), &key, &holds);
                if let Some(map) = map {
                    let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                    check_keys(r, map, &key, &names, &names, &[]);
                }
                map
            };
            let Some(map) = map else { continue };
            for (name, kind) in *keys {
                out.read_one(r, map.get(*name), &full_key(section, name), *kind);
            }
        }
        out
    }

    fn read_one(&mut self, r: &mut Reader<'_>, value: Option<&Value>, key: &str, kind: Kind) {
        let Some(value) = value else { return };
        match kind {
            Kind::Bytes => {
                if let Some(n) = r.limit_bytes(Some(value), key) {
                    self.limits.insert(key.to_string(), n);
                }
            }
            Kind::Time => {
                if let Some(d) = r.limit_duration(Some(value), key) {
                    self.durations.insert(key.to_string(), d);
                }
            }
            Kind::Count(min) => match count_of(value, min) {
                Ok(n) => {
                    self.limits.insert(key.to_string(), n);
                }
                Err(e) => r.fail(
                    key,
                    value,
                    format!(
                        "{e}; a limit that cannot be read is not replaced by a default (which \
                         could raise it): fix the value or remove the key"
                    ),
                ),
            },
        }
    }
}

fn full_key(section: &str, key: &str) -> String {
    if section.is_empty() {
        format!("sandbox.{key}")
    } else {
        format!("sandbox.{section}.{key}")
    }
}

/// A whole number ≥ `min` from a YAML number or numeric text (`1000`, `"1_000"` is not one).
fn count_of(value: &Value, min: u64) -> Result<u64, String> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= min => Ok(n),
        Some(n) => Err(format!("`{n}` is below the smallest allowed value, {min}")),
        None if value.is_null() => Err("is empty (null)".into()),
        None => Err(format!(
            "expected a whole number, found {}",
            scalar_text(value).unwrap_or_else(|| describe(value))
        )),
    }
}
