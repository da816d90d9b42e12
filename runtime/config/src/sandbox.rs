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
use crate::lenient::{describe, field, Reader, LIMIT_HINT};
use crate::units::format_bytes;

/// Default `sandbox.memory_limit`: 256 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;
/// Default `sandbox.timeout`: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The least `sandbox.admission.max_guest_memory` (16 MiB): below it no guest can start (a
/// Rust skill maps about 1.1 MiB, the Python and JavaScript engines several MiB).
pub const MIN_GUEST_MEMORY: u64 = 16 << 20;
/// Default `sandbox.admission.max_guest_memory`: 512 MiB.
pub const DEFAULT_MAX_GUEST_MEMORY: u64 = 512 << 20;
/// The most `sandbox.admission.max_concurrent_calls` may be (100,000). The engine's instance
/// pool is sized from it; past about 20,000 the pool no longer fits the address space and
/// the engine falls back to (slower) on-demand allocation.
pub const MAX_CONCURRENT_CALLS: u64 = 100_000;
/// The elements of one table the engine's table pool holds (100,000): the most
/// `sandbox.table_elements` can allow. A larger value warns once, when config.yaml is read,
/// and the limit in force is this.
pub const MAX_TABLE_ELEMENTS: u64 = 100_000;

/// How a limit's value is written, and its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A size (`64k`, `1m`, a number of bytes) of at least the given number of bytes.
    Bytes(u64),
    /// A whole number within the given minimum and maximum.
    Count(u64, u64),
    /// A duration above zero: `30s`, `500ms`, a number of seconds.
    Time,
}

/// A whole number ≥ `min`, with no maximum but 64 bits.
const fn at_least(min: u64) -> Kind {
    Kind::Count(min, u64::MAX)
}

/// Any size above zero.
const SIZE: Kind = Kind::Bytes(1);

/// The limit keys of each subsection of `sandbox` (`""` is `sandbox` itself).
const SECTIONS: &[(&str, &[(&str, Kind)])] = &[
    ("", &[("max_output", SIZE), ("table_elements", at_least(1))]),
    ("log", &[("max_bytes", SIZE), ("max_records", at_least(0))]),
    ("heartbeat", &[("max_wedged_reports", at_least(0))]),
    (
        "describe",
        &[
            ("max_bytes", SIZE),
            ("max_tools", at_least(1)),
            ("max_name_bytes", at_least(1)),
            ("max_schema_bytes", SIZE),
        ],
    ),
    (
        "memory_capability",
        &[
            ("max_entry_bytes", SIZE),
            ("quota", SIZE),
            ("max_writes_per_call", at_least(0)),
        ],
    ),
    (
        "http",
        &[
            ("max_requests_per_call", at_least(0)),
            ("max_bytes_per_call", SIZE),
        ],
    ),
    (
        "task",
        &[
            ("max_events", at_least(1)),
            ("max_artifact_bytes", SIZE),
            ("max_data_values", at_least(0)),
        ],
    ),
    (
        "llm",
        &[
            ("max_requests_per_call", at_least(0)),
            ("max_open_streams", at_least(0)),
        ],
    ),
    (
        "admission",
        &[
            ("max_concurrent_calls", Kind::Count(1, MAX_CONCURRENT_CALLS)),
            ("max_guest_memory", Kind::Bytes(MIN_GUEST_MEMORY)),
            ("max_waiting", at_least(0)),
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
            Kind::Bytes(min) => {
                let Some(n) = r.limit_bytes(Some(value), key) else {
                    return;
                };
                if n < min {
                    let (written, min) = (r.text(value).unwrap_or_default(), format_bytes(min));
                    let problem = format!("`{written}` is below the minimum {min}");
                    return r.fail(
                        key,
                        value,
                        out_of_range(&problem, &format!("at least {min}")),
                    );
                }
                self.limits.insert(key.to_string(), n);
            }
            Kind::Time => {
                if let Some(d) = r.limit_duration(Some(value), key) {
                    self.durations.insert(key.to_string(), d);
                }
            }
            Kind::Count(min, max) => match count_of(r, value, min, max) {
                Ok(n) => {
                    if key == "sandbox.table_elements" && n > MAX_TABLE_ELEMENTS {
                        r.warn_at(key, value, table_cap(n));
                    }
                    self.limits.insert(key.to_string(), n);
                }
                Err(e) => r.fail(key, value, e),
            },
        }
    }
}

/// The warning for a `sandbox.table_elements` above [`MAX_TABLE_ELEMENTS`].
fn table_cap(n: u64) -> String {
    format!(
        "{n} is above the engine's table pool of {MAX_TABLE_ELEMENTS} elements (the most \
         sandbox.table_elements can allow): the limit in force is {MAX_TABLE_ELEMENTS}; write \
         {MAX_TABLE_ELEMENTS} or less"
    )
}

/// The error for a limit outside its range: `problem`, then what to write (`want`).
fn out_of_range(problem: &str, want: &str) -> String {
    format!(
        "{problem}; a limit out of range is not clamped or replaced by a default (either could \
         change it silently): write {want}, or remove the key to use the default"
    )
}

fn full_key(section: &str, key: &str) -> String {
    if section.is_empty() {
        format!("sandbox.{key}")
    } else {
        format!("sandbox.{section}.{key}")
    }
}

/// A whole number within `min..=max` from a YAML number or numeric text (`1000`; `"1_000"`
/// and `1e3` are not one); the error is the whole message, echoing the value as written.
pub(crate) fn count_of(r: &Reader<'_>, value: &Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let want = if max == u64::MAX {
        format!("a whole number, at least {min}")
    } else {
        format!("a whole number from {min} to {max}")
    };
    let problem = match n {
        Some(n) if (min..=max).contains(&n) => return Ok(n),
        Some(n) if n < min => format!("`{n}` is below the minimum {min}"),
        Some(n) => format!("`{n}` is above the maximum {max}"),
        None if value.is_null() => return Err(format!("is empty (null); {LIMIT_HINT}")),
        None => {
            let written = r.text(value).unwrap_or_else(|| describe(value));
            return Err(format!(
                "expected a whole number, found {written}; {LIMIT_HINT}"
            ));
        }
    };
    Err(out_of_range(&problem, &want))
}
