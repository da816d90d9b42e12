//! The vocabulary shared by capability grants (config.yaml `grants:`) and capability requests
//! (SKILL.md `capabilities:`): host origins, env and secret names, directories, host interfaces
//! and limits, plus the lenient parser both sides use.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use crate::key_path::join;
use crate::lenient::{describe, field, Reader};

/// A host interface a component may import (see `wit/host.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interface {
    /// `log`: always granted.
    Log,
    /// `config`: read granted config keys.
    Config,
    /// `memory`: commit and search workspace memory.
    Memory,
    /// `a2a`: talk to peers.
    A2a,
    /// `heartbeat`: report task state.
    Heartbeat,
    /// `llm`: call the configured model.
    Llm,
    /// `tools`: call other tools.
    Tools,
    /// `events`: emit activity events.
    Events,
    /// `uploads`: read, not write, the files clients uploaded to the task's A2A context,
    /// preopened at `/uploads` (WASI; no WIT interface).
    Uploads,
}

impl Interface {
    /// Every interface, in declaration order.
    pub const ALL: [Interface; 9] = [
        Interface::Log,
        Interface::Config,
        Interface::Memory,
        Interface::A2a,
        Interface::Heartbeat,
        Interface::Llm,
        Interface::Tools,
        Interface::Events,
        Interface::Uploads,
    ];

    /// The name as written in YAML and WIT.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Log => "log",
            Interface::Config => "config",
            Interface::Memory => "memory",
            Interface::A2a => "a2a",
            Interface::Heartbeat => "heartbeat",
            Interface::Llm => "llm",
            Interface::Tools => "tools",
            Interface::Events => "events",
            Interface::Uploads => "uploads",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(text: &str) -> Option<Interface> {
        let t = text.trim().to_ascii_lowercase();
        Interface::ALL.into_iter().find(|i| i.name() == t)
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A network origin `scheme://host[:port]`; two origins match only when all three are equal
/// (the port defaults from the scheme, so `https://a.com` equals `https://a.com:443`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostOrigin {
    /// `http`, `https`, `ws` or `wss`, lower case.
    pub scheme: String,
    /// The host name (lower case), a `*.domain` pattern (its subdomains), or an IP address
    /// (IPv6 in brackets).
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
}

impl HostOrigin {
    /// Parses `scheme://host[:port]` (a trailing `/` is tolerated; paths, queries and
    /// credentials are not, since grants are per origin).
    pub fn parse(text: &str) -> Result<HostOrigin, String> {
        let t = text.trim();
        let hint = "write it as scheme://host[:port], e.g. https://api.github.com";
        let (scheme, rest) = t
            .split_once("://")
            .ok_or_else(|| format!("`{t}` has no scheme; {hint}"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => {
                return Err(format!(
                    "`{t}` has scheme `{scheme}`; use http, https, ws or wss"
                ))
            }
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!("`{t}` has a path, query or credentials; {hint}"));
        }
        let (host, port) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains(']') => {
                let port = &rest[i + 1..];
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("`{t}` has port `{port}`; use a number 1–65535"))?;
                (&rest[..i], port)
            }
            _ => (rest, default_port),
        };
        let host = host.to_ascii_lowercase();
        let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
        let is_plain = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        };
        // `*.example.org`: every subdomain, as the egress layer matches it; the domain must
        // have a dot, so no grant covers a whole top-level domain.
        let wildcard = host
            .strip_prefix("*.")
            .is_some_and(|domain| is_plain(domain) && domain.contains('.'));
        if !(bracketed || wildcard || is_plain(&host)) {
            return Err(format!("`{t}` has an invalid host `{host}`; {hint}"));
        }
        Ok(HostOrigin { scheme, host, port })
    }

    fn default_port(&self) -> u16 {
        match self.scheme.as_str() {
            "https" | "wss" => 443,
            _ => 80,
        }
    }
}

impl fmt::Display for HostOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if self.port != self.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// Access mode of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirMode {
    /// Read-only (`ro`).
    Ro,
    /// Read-write (`rw`).
    Rw,
}

impl DirMode {
    /// Whether a grant with this mode satisfies a request for `requested` (rw covers ro).
    pub fn covers(self, requested: DirMode) -> bool {
        self == DirMode::Rw || requested == DirMode::Ro
    }

    /// `ro` or `rw`.
    pub fn name(self) -> &'static str {
        match self {
            DirMode::Ro => "ro",
            DirMode::Rw => "rw",
        }
    }
}

/// A directory and its access mode. The path is kept as written but lexically normalised
/// (`./data/` → `data`); relative paths are relative to the config dir (see [`DirAccess::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirAccess {
    /// The normalised path.
    pub path: PathBuf,
    /// `ro` or `rw`.
    pub mode: DirMode,
}

impl DirAccess {
    /// The host path: `path` joined onto `config_dir` when relative.
    pub fn resolve(&self, config_dir: &Path) -> PathBuf {
        config_dir.join(&self.path)
    }
}

impl fmt::Display for DirAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.mode.name())
    }
}

/// Lexically normalises a path: drops `.` components and folds `a/..`.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                if matches!(last, Some(Component::Normal(_))) {
                    out.pop();
                } else if !matches!(last, Some(Component::RootDir)) {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// How the skill gets one granted secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretUse {
    /// Origins the egress layer sends the value to (in place of the placeholder). For the
    /// list form: the entry's own `hosts`.
    pub hosts: Vec<HostOrigin>,
    /// Whether the placeholder is also replaced in request bodies (`body: true`).
    pub body: bool,
    /// Whether `config.get` (and a granted env var of the same name) gives the value itself
    /// (`expose: true`); then nothing is substituted at egress.
    pub expose: bool,
    /// Whether it was granted by the list form (`secrets: [NAME]`).
    pub list_form: bool,
}

impl SecretUse {
    /// A short description for reports: `exposed`, or `placeholder → https://a, https://b
    /// (headers, body)`.
    pub fn describe(&self) -> String {
        if self.expose {
            return "exposed (the skill reads the value)".into();
        }
        let hosts: Vec<String> = self.hosts.iter().map(|h| h.to_string()).collect();
        let hosts = match hosts.is_empty() {
            true => "no origin".to_owned(),
            false => hosts.join(", "),
        };
        let parts = if self.body {
            "headers, body"
        } else {
            "headers"
        };
        format!("placeholder → {hosts} ({parts})")
    }
}

/// One side of a capability decision: what is granted, or what is requested. Lists are
/// de-duplicated in first-seen order; a limit is `None` when not stated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySet {
    /// Network origins.
    pub hosts: Vec<HostOrigin>,
    /// Names of environment variables passed through.
    pub env: Vec<String>,
    /// Names of secrets (values come from the host's secret store or environment).
    pub secrets: Vec<String>,
    /// Grants only: how each secret of `secrets` is used (placeholder and origins, or
    /// exposed); see [`SecretUse`]. Empty for requests.
    pub secret_uses: BTreeMap<String, SecretUse>,
    /// Grants only: names declared in the mapping form of `secrets` whose entry is unusable
    /// (each is a config error, so the secret is not granted). They stay secret names: a
    /// value under such a name is never passed to a skill as a plain env var. Empty for
    /// requests and the list form.
    pub refused_secrets: Vec<String>,
    /// Directories and their modes.
    pub dirs: Vec<DirAccess>,
    /// Host interfaces.
    pub interfaces: Vec<Interface>,
    /// Linear-memory limit in bytes.
    pub memory_limit: Option<u64>,
    /// Per-call time limit.
    pub timeout: Option<Duration>,
}

impl CapabilitySet {
    /// Whether nothing at all is stated.
    pub fn is_empty(&self) -> bool {
        *self == CapabilitySet::default()
    }
}

/// Whether `name` is a valid environment-variable / secret name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Which side a capability set is read for; it decides what an unreadable limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// config.yaml `grants`: security settings. An unreadable `memory_limit` / `timeout` is an
    /// error, since falling through to `grants.default` or `sandbox` could raise the limit.
    Grant,
    /// SKILL.md `capabilities`: an unreadable limit warns and requests none, so the granted
    /// limit applies (a request can never exceed the grant).
    Request,
}

/// Reads a capability set from the mapping `value` whose key path is `key`; unknown keys are
/// ignored, bad items warn (naming e.g. `key.hosts[0]`) and are skipped, so a bad item only
/// ever narrows the set. Limits follow `side`.
pub(crate) fn read_set(r: &mut Reader<'_>, value: &Value, key: &str, side: Side) -> CapabilitySet {
    let mut set = CapabilitySet::default();
    let k = |name: &str| join(key, name);
    let list = |r: &mut Reader<'_>, name: &str| -> Vec<(String, String)> {
        let key = k(name);
        r.items(field(value, name), &key)
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_key = format!("{key}[{i}]");
                match r.text(item) {
                    Some(text) => Some((item_key, text)),
                    None => {
                        r.warn(
                            &item_key,
                            format!("expected a string, found {}; skipping it", describe(item)),
                        );
                        None
                    }
                }
            })
            .collect()
    };
    for (item_key, text) in list(r, "hosts") {
        match HostOrigin::parse(&text) {
            Ok(h) => push_unique(&mut set.hosts, h),
            Err(e) => r.warn(&item_key, format!("{e}; skipping it")),
        }
    }
    // A mapping-form `secrets` grant is read by `secret_grants::read_secret_uses`.
    let mapping_form =
        side == Side::Grant && matches!(field(value, "secrets"), Some(Value::Mapping(_)));
    let lists: &[&str] = if mapping_form {
        &["env"]
    } else {
        &["env", "secrets"]
    };
    for name in lists {
        let target = match *name {
            "env" => &mut set.env,
            _ => &mut set.secrets,
        };
        for (item_key, text) in list(r, name) {
            let text = text.trim().to_string();
            if valid_var_name(&text) {
                push_unique(target, text);
            } else {
                r.warn(
                    &item_key,
                    format!("`{text}` is not a variable name (letters, digits, _); skipping it"),
                );
            }
        }
    }
    for (item_key, text) in list(r, "interfaces") {
        match Interface::parse(&text) {
            Some(i) => push_unique(&mut set.interfaces, i),
            None => {
                let known: Vec<&str> = Interface::ALL.iter().map(|i| i.name()).collect();
                r.warn(
                    &item_key,
                    format!(
                        "unknown interface `{text}`; use one of {}; skipping it",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    let dirs_key = k("dirs");
    for (i, item) in r.items(field(value, "dirs"), &dirs_key).iter().enumerate() {
        if let Some(dir) = read_dir(r, item, &format!("{dirs_key}[{i}]")) {
            push_unique(&mut set.dirs, dir);
        }
    }
    let (memory_limit, timeout) = (field(value, "memory_limit"), field(value, "timeout"));
    match side {
        // A granted limit written as null is an error too: write a value or remove the key.
        Side::Grant => {
            set.memory_limit = r.limit_bytes(value.get("memory_limit"), &k("memory_limit"));
            set.timeout = r.limit_duration(value.get("timeout"), &k("timeout"));
        }
        Side::Request => {
            let fallback = "no limit from this request (the granted limit applies)";
            set.memory_limit = r.opt_bytes(memory_limit, &k("memory_limit"), fallback);
            set.timeout = r.opt_duration(timeout, &k("timeout"), fallback);
        }
    }
    set
}

/// `{path, mode}` (mode defaults to `ro`) or a bare path string (read-only).
fn read_dir(r: &mut Reader<'_>, item: &Value, key: &str) -> Option<DirAccess> {
    let (path, mode) = match item {
        Value::String(s) => (s.clone(), DirMode::Ro),
        Value::Mapping(_) => {
            let path = r.opt_string(field(item, "path"), &join(key, "path"));
            let mode = match field(item, "mode")
                .and_then(|m| r.text(m))
                .as_deref()
                .map(str::trim)
            {
                None | Some("ro") => DirMode::Ro,
                Some("rw") => DirMode::Rw,
                Some(other) => {
                    r.warn(
                        &join(key, "mode"),
                        format!("mode `{other}` is neither ro nor rw; skipping this dir"),
                    );
                    return None;
                }
            };
            (path.unwrap_or_default(), mode)
        }
        other => {
            r.warn(
                key,
                format!(
                    "expected {{path, mode}}, found {}; skipping it",
                    describe(other)
                ),
            );
            return None;
        }
    };
    if path.trim().is_empty() {
        r.warn(key, "a dir needs a non-empty `path`; skipping it");
        return None;
    }
    Some(DirAccess {
        path: normalize(Path::new(path.trim())),
        mode,
    })
}
