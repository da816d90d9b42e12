//! The capability sets of `inspect --json`: requested, granted and effective, each as lists
//! in config.yaml's terms plus the one-line text `check` prints.

use molecule_config::{CapabilitySet, Effective};
use serde::Serialize;

use super::workspace_check::{describe, describe_effective};

/// One capability set.
#[derive(Debug, Serialize)]
pub struct CapsJson {
    /// Origins, `scheme://host[:port]`.
    pub hosts: Vec<String>,
    /// Environment variable names.
    pub env: Vec<String>,
    /// Secrets, by name, with how they are used (granted and effective sets).
    pub secrets: Vec<SecretJson>,
    /// Directories, `{path, mode}` (`ro` / `rw`).
    pub dirs: Vec<DirJson>,
    /// Host interfaces (`log`, `config`, `memory`, …).
    pub interfaces: Vec<String>,
    /// Linear-memory limit in bytes; `null` when not stated.
    pub memory_limit_bytes: Option<u64>,
    /// Per-call time limit in milliseconds; `null` when not stated.
    pub timeout_ms: Option<u64>,
    /// The same set as one line (what `check` prints).
    pub text: String,
}

/// A secret and how the skill gets it.
#[derive(Debug, Serialize)]
pub struct SecretJson {
    /// The secret's name.
    pub name: String,
    /// `placeholder` (substituted at egress), `exposed` (the skill reads the value), or
    /// `requested` (a request names it; no use is stated).
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// Origins the value is sent to (placeholder only).
    pub hosts: Vec<String>,
    /// Whether bodies are rewritten too (placeholder only).
    pub body: bool,
    /// Whether it was granted in the list form (`secrets: [NAME]`).
    pub list_form: bool,
}

/// A directory grant or request.
#[derive(Debug, Serialize)]
pub struct DirJson {
    /// The path as written (normalised), relative to the config folder when relative.
    pub path: String,
    /// `ro` or `rw`.
    pub mode: &'static str,
}

/// A requested or granted set.
pub fn caps_json(set: &CapabilitySet) -> CapsJson {
    CapsJson {
        hosts: set.hosts.iter().map(|h| h.to_string()).collect(),
        env: set.env.clone(),
        secrets: set
            .secrets
            .iter()
            .map(|name| secret_json(name, set.secret_uses.get(name)))
            .collect(),
        dirs: set
            .dirs
            .iter()
            .map(|d| DirJson {
                path: d.path.display().to_string(),
                mode: d.mode.name(),
            })
            .collect(),
        interfaces: set.interfaces.iter().map(|i| i.name().to_owned()).collect(),
        memory_limit_bytes: set.memory_limit,
        timeout_ms: set.timeout.map(|t| t.as_millis() as u64),
        text: describe(set),
    }
}

/// The effective set (limits always stated).
pub fn effective_json(eff: &Effective) -> CapsJson {
    let set = CapabilitySet {
        hosts: eff.hosts.clone(),
        env: eff.env.clone(),
        secrets: eff.secrets.clone(),
        secret_uses: eff.secret_uses.clone(),
        refused_secrets: Vec::new(),
        dirs: eff.dirs.clone(),
        interfaces: eff.interfaces.clone(),
        memory_limit: Some(eff.memory_limit),
        timeout: Some(eff.timeout),
    };
    CapsJson {
        text: describe_effective(eff),
        ..caps_json(&set)
    }
}

/// One secret's entry.
fn secret_json(name: &str, use_: Option<&molecule_config::SecretUse>) -> SecretJson {
    match use_ {
        None => SecretJson {
            name: name.to_owned(),
            use_: "requested",
            hosts: Vec::new(),
            body: false,
            list_form: false,
        },
        Some(u) => SecretJson {
            name: name.to_owned(),
            use_: if u.expose { "exposed" } else { "placeholder" },
            hosts: u.hosts.iter().map(|h| h.to_string()).collect(),
            body: u.body,
            list_form: u.list_form,
        },
    }
}
