//! The nested sections of config.yaml (`runtime_config`, `a2a`, `delegation`,
//! `observability`; `sandbox` is `sandbox.rs`) with their defaults and lenient parsers. The security settings among them
//! (`a2a.inbound_secret`, the `a2a` section itself, `sandbox.memory_limit`, `sandbox.timeout`)
//! fail closed: a value present but unusable is an error, never a default.

use std::fmt;
use std::time::Duration;

use serde_yaml::Value;

use crate::keys::check_keys;
use crate::lenient::{describe, field, Reader};
use crate::log_level::{DEFAULT_LOG_LEVEL, LOG_LEVELS};

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
    /// The whole `runtime_config` mapping as parsed (adapters read their own keys from it);
    /// `Null` when absent, not a mapping, or the file is unusable. Use this rather than
    /// parsing config.yaml again: it went through the same checks (size, file type, nesting
    /// depth, byte-order mark, duplicate and merge keys).
    pub raw: Value,
}

impl RuntimeConfig {
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> RuntimeConfig {
        let Some(v) = r.mapping(v, "runtime_config") else {
            return RuntimeConfig::default();
        };
        let raw = v.clone();
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
            raw,
        }
    }
}

/// `a2a`: the A2A server.
#[derive(Clone, PartialEq, Eq)]
pub struct A2aConfig {
    /// The port as written; preflight FAILs when it is outside 1–65535 (see [`A2aConfig::valid_port`]).
    pub port: i64,
    /// Whether streaming (SSE) is advertised.
    pub streaming: bool,
    /// Whether push notifications are advertised.
    pub push_notifications: bool,
    /// `a2a.inbound_secret`: the bearer secret A2A callers must present (`None`: not set).
    /// A security setting: a value that is present but not a non-empty string (a number, a
    /// list, null, `""`) is a config error (preflight FAILs), never read as "no secret".
    /// `Debug` prints it redacted.
    pub inbound_secret: Option<String>,
    /// `a2a.shutdown_grace`: on SIGTERM/SIGINT, how long running tasks may take to finish
    /// before they are marked FAILED ("the workspace shut down"). Default 20 s, inside the
    /// 30 s a container orchestrator usually waits before it kills; `0` fails them at once.
    pub shutdown_grace: Duration,
    /// `a2a.header_timeout`: time a client has to send a request's headers, from their first
    /// byte (`None`: the server's default, 10 s).
    pub header_timeout: Option<Duration>,
    /// `a2a.body_timeout`: time a client has to send a request's whole body, from the end of
    /// its headers; past it the answer is HTTP 408 (`None`: the server's default, 30 s).
    pub body_timeout: Option<Duration>,
    /// `a2a.idle_timeout`: how long a connection may stay open with no request in progress
    /// (`None`: the server's default, 75 s).
    pub idle_timeout: Option<Duration>,
    /// `a2a.max_connections`: connections served at once; more wait in the listen backlog
    /// (`None`: the server's default, 1024).
    pub max_connections: Option<u32>,
    /// `a2a.max_connections_per_client`: connections served at once from one client IP
    /// address; more from it are closed at once (`None`: the server's default, 64).
    pub max_connections_per_client: Option<u32>,
    /// `a2a.grpc_port`: the port of the gRPC binding (A2A 1.0 §10, HTTP/2 cleartext, same
    /// inbound bearer), on the A2A port's host; `0` picks a free port. `None` (absent, or a
    /// value outside 0–65535, which warns): gRPC is not served.
    pub grpc_port: Option<u16>,
    /// `a2a.push.allow_hosts`: webhook hosts (names or IP literals, lowercase) that push
    /// notifications may reach on loopback, private or link-local addresses; public addresses
    /// need no entry. Default: none.
    pub push_allow_hosts: Vec<String>,
    /// `a2a.extended_card`: what `GetExtendedAgentCard` adds to the public card for
    /// authenticated callers (`None`: no extended card, -32007).
    pub extended_card: Option<crate::extended_card::ExtendedCardConfig>,
    /// `a2a.card_signing`: the key that signs the served agent card (`None`: unsigned).
    pub card_signing: Option<crate::card_keys::CardSigningConfig>,
    /// `a2a.trusted_card_keys`: keys peers' signed cards are verified with; when non-empty a
    /// peer whose card does not verify is refused. Default: none (cards not checked).
    pub trusted_card_keys: Vec<crate::card_keys::TrustedCardKey>,
}

/// Default of `a2a.shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

impl fmt::Debug for A2aConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("A2aConfig")
            .field("port", &self.port)
            .field("streaming", &self.streaming)
            .field("push_notifications", &self.push_notifications)
            .field(
                "inbound_secret",
                &self.inbound_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("shutdown_grace", &self.shutdown_grace)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("grpc_port", &self.grpc_port)
            .field("push_allow_hosts", &self.push_allow_hosts)
            .field("extended_card", &self.extended_card)
            .field("card_signing", &self.card_signing)
            .field("trusted_card_keys", &self.trusted_card_keys)
            .field(
                "max_connections_per_client",
                &self.max_connections_per_client,
            )
            .finish()
    }
}

impl Default for A2aConfig {
    fn default() -> Self {
        A2aConfig {
            port: 8000,
            streaming: true,
            push_notifications: true,
            inbound_secret: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            header_timeout: None,
            body_timeout: None,
            idle_timeout: None,
            max_connections: None,
            grpc_port: None,
            push_allow_hosts: Vec::new(),
            extended_card: None,
            card_signing: None,
            trusted_card_keys: Vec::new(),
            max_connections_per_client: None,
        }
    }
}

/// The keys of the `a2a` section; any other key is reported (a misspelt `inbound_secret`
/// would otherwise leave A2A unauthenticated without a word).
const A2A_KEYS: [&str; 15] = [
    "card_signing",
    "trusted_card_keys",
    "grpc_port",
    "push",
    "extended_card",
    "port",
    "streaming",
    "push_notifications",
    "inbound_secret",
    "shutdown_grace",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "max_connections",
    "max_connections_per_client",
];

impl A2aConfig {
    /// The port when it is within 1–65535.
    pub fn valid_port(&self) -> Option<u16> {
        u16::try_from(self.port).ok().filter(|p| *p > 0)
    }

    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> A2aConfig {
        let d = A2aConfig::default();
        let Some(v) = r.secure_mapping(v, "a2a", "the security setting `inbound_secret`") else {
            return d;
        };
        check_keys(
            r,
            v,
            "a2a",
            &A2A_KEYS,
            &["inbound_secret"],
            &["inbound_secret"],
        );
        // A null value warns (at its line) and keeps the default, like a bad one.
        let get = |r: &mut Reader<'_>, name: &str, default: &str| {
            r.present(
                v,
                name,
                &format!("a2a.{name}"),
                &format!("the default, {default}"),
            )
        };
        let port = get(r, "port", "8000");
        let streaming = get(r, "streaming", "true");
        let push = get(r, "push_notifications", "true");
        let grace = get(r, "shutdown_grace", "20s");
        let header = get(r, "header_timeout", "10s");
        let body = get(r, "body_timeout", "30s");
        let idle = get(r, "idle_timeout", "75s");
        let connections = get(r, "max_connections", "1024");
        let per_client = get(r, "max_connections_per_client", "64");
        A2aConfig {
            // Any integer is kept so preflight can fail on it; only a non-integer falls back.
            port: r.int(port, "a2a.port", (i64::MIN, i64::MAX), d.port),
            streaming: r.bool(streaming, "a2a.streaming", d.streaming),
            push_notifications: r.bool(push, "a2a.push_notifications", d.push_notifications),
            inbound_secret: read_secret(r, v.get("inbound_secret"), "a2a.inbound_secret"),
            shutdown_grace: shutdown_grace(r, grace),
            header_timeout: r.opt_duration(header, "a2a.header_timeout", "the default, 10s"),
            body_timeout: r.opt_duration(body, "a2a.body_timeout", "the default, 30s"),
            idle_timeout: r.opt_duration(idle, "a2a.idle_timeout", "the default, 75s"),
            max_connections: connections.map(|n| {
                let n = r.int(Some(n), "a2a.max_connections", (1, 1_000_000), 1024);
                u32::try_from(n).unwrap_or(1024)
            }),
            grpc_port: grpc_port(r, field(v, "grpc_port")),
            push_allow_hosts: push_allow_hosts(r, field(v, "push")),
            extended_card: crate::extended_card::extended_card(r, field(v, "extended_card")),
            card_signing: crate::card_keys::card_signing(r, field(v, "card_signing")),
            trusted_card_keys: crate::card_keys::trusted_card_keys(
                r,
                field(v, "trusted_card_keys"),
            ),
            max_connections_per_client: per_client.map(|n| {
                let key = "a2a.max_connections_per_client";
                let n = r.int(Some(n), key, (1, 1_000_000), 64);
                u32::try_from(n).unwrap_or(64)
            }),
        }
    }
}

/// `a2a.grpc_port`: an integer 0–65535; anything else warns and leaves gRPC off.
fn grpc_port(r: &mut Reader<'_>, v: Option<&Value>) -> Option<u16> {
    let v = v?;
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let port = n.and_then(|n| u16::try_from(n).ok());
    if port.is_none() {
        let shown = r.text(v).unwrap_or_else(|| "this value".into());
        r.warn(
            "a2a.grpc_port",
            format!("{shown} is not a port (0–65535); gRPC is not served"),
        );
    }
    port
}

/// `a2a.push.allow_hosts`, lowercased (brackets of IPv6 literals removed).
fn push_allow_hosts(r: &mut Reader<'_>, v: Option<&Value>) -> Vec<String> {
    let Some(push) = r.mapping(v, "a2a.push") else {
        return Vec::new();
    };
    r.string_list(field(push, "allow_hosts"), "a2a.push.allow_hosts")
        .unwrap_or_default()
        .into_iter()
        .map(|h| {
            h.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase()
        })
        .filter(|h| !h.is_empty())
        .collect()
}

/// `a2a.shutdown_grace`: a duration, or `0` (fail running tasks at once); anything else warns
/// and keeps the default.
fn shutdown_grace(r: &mut Reader<'_>, v: Option<&Value>) -> Duration {
    if let Some(Value::Number(n)) = v {
        if n.as_f64() == Some(0.0) {
            return Duration::ZERO;
        }
    }
    r.duration(v, "a2a.shutdown_grace", DEFAULT_SHUTDOWN_GRACE)
}

/// Whether a secret can be sent as `Authorization: Bearer <secret>`: non-empty and nothing but
/// visible ASCII (no spaces, tabs, line breaks, control characters or non-ASCII letters).
pub(crate) fn sendable_secret(secret: &str) -> bool {
    !secret.is_empty() && secret.bytes().all(|b| b.is_ascii_graphic())
}

/// Why an unsendable secret is refused (never echoing it).
pub(crate) const UNSENDABLE: &str = "contains characters that cannot be sent in an HTTP \
    Authorization header (a space, tab or line break, e.g. leading or trailing, a control \
    character, or a non-ASCII character), so every caller would be refused; use visible ASCII \
    only";

/// A secret: a non-empty string. Anything else that is present (null included) is an error;
/// the message never echoes the value.
fn read_secret(r: &mut Reader<'_>, value: Option<&Value>, key: &str) -> Option<String> {
    let value = value?;
    let problem = match value {
        Value::String(s) if sendable_secret(s) => return Some(s.clone()),
        Value::String(s) if !s.trim().is_empty() => UNSENDABLE.to_string(),
        Value::String(_) | Value::Null => "is empty".to_string(),
        Value::Number(_) => "is a number, not a string".to_string(),
        Value::Bool(_) => "is a boolean, not a string".to_string(),
        other => format!("expected a string, found {}", describe(other)),
    };
    r.fail(
        key,
        value,
        format!(
            "{problem}; a secret is never replaced by \"no secret\" (A2A calls would be \
             unauthenticated): write it as a quoted string (`{key}: \"…\"`), or remove the \
             key to run without one"
        ),
    );
    None
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

/// Lower bound of `observability.heartbeat_interval_seconds`.
pub const MIN_HEARTBEAT_SECS: u64 = 5;
/// Upper bound of `observability.heartbeat_interval_seconds`.
pub const MAX_HEARTBEAT_SECS: u64 = 300;
/// `observability`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservabilityConfig {
    /// Heartbeat interval, clamped to 5–300 s.
    pub heartbeat_interval: Duration,
    /// `log_level`, upper case (`DEBUG`), one of [`LOG_LEVELS`]; `None` when unset (or
    /// unusable, with a warning). The level in force is [`WorkspaceConfig::log_level`]
    /// (`LOG_LEVEL` > `RUST_LOG` > this > [`DEFAULT_LOG_LEVEL`]).
    ///
    /// [`WorkspaceConfig::log_level`]: crate::WorkspaceConfig::log_level
    pub log_level: Option<String>,
}

impl Default for ObservabilityConfig {
    fn default() -> Self {
        ObservabilityConfig {
            heartbeat_interval: Duration::from_secs(30),
            log_level: None,
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
        if let (true, Some(node)) = (secs != raw, field(v, "heartbeat_interval_seconds")) {
            r.warn_at(
                key,
                node,
                format!(
                    "{raw} is outside {MIN_HEARTBEAT_SECS}–{MAX_HEARTBEAT_SECS}; clamped to {secs}"
                ),
            );
        }
        let node = field(v, "log_level");
        let level = r.opt_string(node, "observability.log_level");
        let log_level = match (level, node) {
            (Some(l), _) if LOG_LEVELS.contains(&l.to_ascii_uppercase().as_str()) => {
                Some(l.to_ascii_uppercase())
            }
            (Some(l), Some(node)) => {
                r.warn_at(
                    "observability.log_level",
                    node,
                    format!(
                        "unknown level `{l}`; use one of {}; using the default, \
                         {DEFAULT_LOG_LEVEL}",
                        LOG_LEVELS.join(", ")
                    ),
                );
                d.log_level
            }
            _ => d.log_level,
        };
        ObservabilityConfig {
            heartbeat_interval: Duration::from_secs(secs.unsigned_abs()),
            log_level,
        }
    }
}
