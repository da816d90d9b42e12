//! The nested sections of config.yaml (`runtime_config`, `a2a`, `delegation`, `sandbox`,
//! `observability`) with their defaults and lenient parsers.

use std::time::Duration;

use serde_yaml::Value;

use crate::lenient::{field, Reader};

/// One entry of `runtime_config.models`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelOption {
    /// The model id matched (case-insensitively) against the picked model.
    pub id: String,
    /// A display name.
    pub name: Option<String>,
    /// Env vars this model needs; replaces `runtime_config.required_env` when picked.
    pub required_env: Vec<String>,
}

/// `runtime_config`: adapter-specific settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConfig {
    /// A command for CLI-style adapters.
    pub command: Option<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Env vars the adapter needs (before any `models[]` replacement).
    pub required_env: Vec<String>,
    /// Adapter call timeout.
    pub timeout: Option<Duration>,
    /// A model, used when the top-level `model` is absent.
    pub model: Option<String>,
    /// A provider, used when the top-level `provider` is absent.
    pub provider: Option<String>,
    /// Models the adapter offers.
    pub models: Vec<ModelOption>,
}

impl RuntimeConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> RuntimeConfig {
        let Some(v) = r.mapping(v, "runtime_config") else {
            return RuntimeConfig::default();
        };
        let mut models = Vec::new();
        for (i, item) in r
            .items(field(v, "models"), "runtime_config.models")
            .iter()
            .enumerate()
        {
            let key = format!("runtime_config.models[{i}]");
            let Some(item) = r.mapping(Some(item), &key) else {
                continue;
            };
            let Some(id) = r.opt_string(field(item, "id"), &format!("{key}.id")) else {
                r.warn(&key, "a model needs an `id`; skipping it");
                continue;
            };
            models.push(ModelOption {
                id,
                name: r.opt_string(field(item, "name"), &format!("{key}.name")),
                required_env: r
                    .string_list(field(item, "required_env"), &format!("{key}.required_env"))
                    .unwrap_or_default(),
            });
        }
        RuntimeConfig {
            command: r.opt_string(field(v, "command"), "runtime_config.command"),
            args: r
                .string_list(field(v, "args"), "runtime_config.args")
                .unwrap_or_default(),
            required_env: r
                .string_list(field(v, "required_env"), "runtime_config.required_env")
                .unwrap_or_default(),
            timeout: r.opt_duration(field(v, "timeout"), "runtime_config.timeout", "no timeout"),
            model: r.opt_string(field(v, "model"), "runtime_config.model"),
            provider: r.opt_string(field(v, "provider"), "runtime_config.provider"),
            models,
        }
    }
}

/// `a2a`: the A2A server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A2aConfig {
    /// The port as written; preflight FAILs when it is outside 1–65535 (see [`A2aConfig::valid_port`]).
    pub port: i64,
    /// Whether streaming (SSE) is advertised.
    pub streaming: bool,
    /// Whether push notifications are advertised.
    pub push_notifications: bool,
}

impl Default for A2aConfig {
    fn default() -> Self {
        A2aConfig {
            port: 8000,
            streaming: true,
            push_notifications: true,
        }
    }
}

impl A2aConfig {
    /// The port when it is within 1–65535.
    pub fn valid_port(&self) -> Option<u16> {
        u16::try_from(self.port).ok().filter(|p| *p > 0)
    }

    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> A2aConfig {
        let d = A2aConfig::default();
        let Some(v) = r.mapping(v, "a2a") else {
            return d;
        };
        A2aConfig {
            // Any integer is kept so preflight can fail on it; only a non-integer falls back.
            port: r.int(field(v, "port"), "a2a.port", (i64::MIN, i64::MAX), d.port),
            streaming: r.bool(field(v, "streaming"), "a2a.streaming", d.streaming),
            push_notifications: r.bool(
                field(v, "push_notifications"),
                "a2a.push_notifications",
                d.push_notifications,
            ),
        }
    }
}

/// `delegation`: how this workspace delegates to peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationConfig {
    /// Attempts per delegation (0–100).
    pub retry_attempts: u32,
    /// Delay between attempts.
    pub retry_delay: Duration,
    /// Overall timeout of one delegation.
    pub timeout: Duration,
    /// Whether failures escalate to the parent.
    pub escalate: bool,
}

impl Default for DelegationConfig {
    fn default() -> Self {
        DelegationConfig {
            retry_attempts: 3,
            retry_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(120),
            escalate: true,
        }
    }
}

impl DelegationConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> DelegationConfig {
        let d = DelegationConfig::default();
        let Some(v) = r.mapping(v, "delegation") else {
            return d;
        };
        let attempts = r.int(
            field(v, "retry_attempts"),
            "delegation.retry_attempts",
            (0, 100),
            3,
        );
        let delay = r.non_negative(field(v, "retry_delay"), "delegation.retry_delay", 5.0);
        DelegationConfig {
            retry_attempts: u32::try_from(attempts).unwrap_or(3),
            retry_delay: Duration::from_secs_f64(delay.min(1e9)),
            timeout: r.duration(field(v, "timeout"), "delegation.timeout", d.timeout),
            escalate: r.bool(field(v, "escalate"), "delegation.escalate", d.escalate),
        }
    }
}

/// Default `sandbox.memory_limit`: 256 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;
/// Default `sandbox.timeout`: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `sandbox`: for us, the default wasm limits of every component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The Python runtime's sandbox backend name; kept for compatibility, unused by wasm.
    pub backend: Option<String>,
    /// Linear-memory limit in bytes (`memory_limit: 256m`).
    pub memory_limit: u64,
    /// Per-call time limit (`timeout: 30`, seconds or `30s`).
    pub timeout: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            backend: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl SandboxConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> SandboxConfig {
        let d = SandboxConfig::default();
        let Some(v) = r.mapping(v, "sandbox") else {
            return d;
        };
        SandboxConfig {
            backend: r.opt_string(field(v, "backend"), "sandbox.backend"),
            memory_limit: r.bytes(
                field(v, "memory_limit"),
                "sandbox.memory_limit",
                d.memory_limit,
            ),
            timeout: r.duration(field(v, "timeout"), "sandbox.timeout", d.timeout),
        }
    }
}

/// Lower bound of `observability.heartbeat_interval_seconds`.
pub const MIN_HEARTBEAT_SECS: u64 = 5;
/// Upper bound of `observability.heartbeat_interval_seconds`.
pub const MAX_HEARTBEAT_SECS: u64 = 300;
const LOG_LEVELS: [&str; 7] = [
    "TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL",
];

/// `observability`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservabilityConfig {
    /// Heartbeat interval, clamped to 5–300 s.
    pub heartbeat_interval: Duration,
    /// Log level, upper case (`INFO`); the `LOG_LEVEL` env var wins over it.
    pub log_level: String,
}

impl Default for ObservabilityConfig {
    fn default() -> Self {
        ObservabilityConfig {
            heartbeat_interval: Duration::from_secs(30),
            log_level: "INFO".into(),
        }
    }
}

impl ObservabilityConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> ObservabilityConfig {
        let d = ObservabilityConfig::default();
        let Some(v) = r.mapping(v, "observability") else {
            return d;
        };
        let key = "observability.heartbeat_interval_seconds";
        let raw = r.int(
            field(v, "heartbeat_interval_seconds"),
            key,
            (i64::MIN, i64::MAX),
            30,
        );
        let secs = raw.clamp(MIN_HEARTBEAT_SECS as i64, MAX_HEARTBEAT_SECS as i64);
        if secs != raw {
            r.warn(
                key,
                format!(
                    "{raw} is outside {MIN_HEARTBEAT_SECS}–{MAX_HEARTBEAT_SECS}; clamped to {secs}"
                ),
            );
        }
        let level = r.string(field(v, "log_level"), "observability.log_level", "INFO");
        let log_level = if LOG_LEVELS.contains(&level.to_ascii_uppercase().as_str()) {
            level.to_ascii_uppercase()
        } else {
            r.warn(
                "observability.log_level",
                format!(
                    "unknown level `{level}`; use one of {}; using INFO",
                    LOG_LEVELS.join(", ")
                ),
            );
            d.log_level
        };
        ObservabilityConfig {
            heartbeat_interval: Duration::from_secs(secs.unsigned_abs()),
            log_level,
        }
    }
}
