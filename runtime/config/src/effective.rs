//! What a skill actually gets: requested ∩ granted, plus a [`Denial`] for every requested item
//! that is not granted and an [`Unrequested`] for every item of the skill's own grant it never
//! asked for (the `check` command fails on those: grants should be least-privilege).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::capabilities::SecretUse;
use crate::capabilities::{DirAccess, HostOrigin, Interface};
use crate::grants_config::{CapabilityRequest, Grant};
use crate::units::{format_bytes, format_duration};

/// The kind of a capability, as named in config.yaml and SKILL.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapabilityKind {
    /// `hosts`
    Host,
    /// `env`
    Env,
    /// `secrets`
    Secret,
    /// `dirs`
    Dir,
    /// `interfaces`
    Interface,
    /// `memory_limit`
    MemoryLimit,
    /// `timeout`
    Timeout,
}

impl CapabilityKind {
    /// The singular noun used in messages (`host`, `env var`, …).
    pub fn noun(self) -> &'static str {
        match self {
            CapabilityKind::Host => "host",
            CapabilityKind::Env => "env var",
            CapabilityKind::Secret => "secret",
            CapabilityKind::Dir => "dir",
            CapabilityKind::Interface => "interface",
            CapabilityKind::MemoryLimit => "memory_limit",
            CapabilityKind::Timeout => "timeout",
        }
    }

    /// The YAML field name (`hosts`, `env`, …).
    pub fn field(self) -> &'static str {
        match self {
            CapabilityKind::Host => "hosts",
            CapabilityKind::Env => "env",
            CapabilityKind::Secret => "secrets",
            CapabilityKind::Dir => "dirs",
            CapabilityKind::Interface => "interfaces",
            CapabilityKind::MemoryLimit => "memory_limit",
            CapabilityKind::Timeout => "timeout",
        }
    }
}

/// A requested capability that is not granted (the skill runs without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The skill id.
    pub skill: String,
    /// What kind of capability.
    pub kind: CapabilityKind,
    /// The requested item as text (`https://x.com`, `GITHUB_TOKEN`, `data (rw)`, `128m`).
    pub capability: String,
    /// Where the operator grants it, e.g. `grants.skills.web-fetch.hosts`.
    pub config_key: String,
    /// For limits: what is granted instead.
    pub granted: Option<String>,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (skill, noun, cap, key) = (
            &self.skill,
            self.kind.noun(),
            &self.capability,
            &self.config_key,
        );
        match &self.granted {
            Some(granted) => write!(
                f,
                "skill `{skill}` requests {noun} {cap} but only {granted} is granted; \
                 raise {key} in config.yaml"
            ),
            None => write!(
                f,
                "skill `{skill}` requests {noun} {cap} but it is not granted; \
                 add it under {key} in config.yaml"
            ),
        }
    }
}

/// An item of a skill's own grant that the skill never requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrequested {
    /// The skill id.
    pub skill: String,
    /// What kind of capability.
    pub kind: CapabilityKind,
    /// The granted item as text.
    pub capability: String,
    /// Where it is granted, e.g. `grants.skills.web-fetch.env`.
    pub config_key: String,
}

impl fmt::Display for Unrequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skill `{}` is granted {} {} under {} but never requests it; remove it from \
             config.yaml or declare it under `capabilities:` in skills/{}/SKILL.md",
            self.skill,
            self.kind.noun(),
            self.capability,
            self.config_key,
            self.skill
        )
    }
}

/// The capabilities a skill runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// The skill id.
    pub skill: String,
    /// Requested hosts that are granted (exact scheme/host/port match).
    pub hosts: Vec<HostOrigin>,
    /// Requested env vars that are granted.
    pub env: Vec<String>,
    /// Requested secrets that are granted.
    pub secrets: Vec<String>,
    /// How each of `secrets` is used (placeholder and origins, or exposed), from the grant.
    pub secret_uses: BTreeMap<String, SecretUse>,
    /// Requested dirs that are granted, with the requested mode.
    pub dirs: Vec<DirAccess>,
    /// Requested interfaces that are granted; always includes `log`.
    pub interfaces: Vec<Interface>,
    /// min(requested, granted), or the granted limit when none is requested.
    pub memory_limit: u64,
    /// min(requested, granted), or the granted limit when none is requested.
    pub timeout: Duration,
    /// Requested but not granted.
    pub denials: Vec<Denial>,
    /// Granted in the skill's own entry but never requested (empty when the default applies).
    pub unrequested: Vec<Unrequested>,
}

/// Splits `requested` into granted items and denials, and reports unrequested grants.
fn intersect<T: Clone>(
    (kind, grant, out): (CapabilityKind, &Grant, &mut Effective),
    requested: &[T],
    granted: &[T],
    covers: impl Fn(&T, &T) -> bool,
    show: impl Fn(&T) -> String,
) -> Vec<T> {
    let mut kept = Vec::new();
    for r in requested {
        if granted.iter().any(|g| covers(g, r)) {
            kept.push(r.clone());
        } else {
            out.denials.push(Denial {
                skill: grant.skill.clone(),
                kind,
                capability: show(r),
                config_key: grant.config_key(kind.field()),
                granted: None,
            });
        }
    }
    if grant.listed {
        for g in granted {
            if !requested.iter().any(|r| covers(g, r)) {
                out.unrequested.push(Unrequested {
                    skill: grant.skill.clone(),
                    kind,
                    capability: show(g),
                    config_key: grant.config_key(kind.field()),
                });
            }
        }
    }
    kept
}

/// Computes what `request`'s skill gets under `grant`. `log` is always granted and never
/// reported; a dir granted `rw` covers a request for `ro` (the skill gets `ro`).
pub fn effective(request: &CapabilityRequest, grant: &Grant) -> Effective {
    let (req, g) = (&request.caps, &grant.caps);
    let mut out = Effective {
        skill: grant.skill.clone(),
        hosts: Vec::new(),
        env: Vec::new(),
        secrets: Vec::new(),
        secret_uses: BTreeMap::new(),
        dirs: Vec::new(),
        interfaces: Vec::new(),
        memory_limit: grant.memory_limit,
        timeout: grant.timeout,
        denials: Vec::new(),
        unrequested: Vec::new(),
    };
    let text = |s: &String| s.clone();
    out.hosts = intersect(
        (CapabilityKind::Host, grant, &mut out),
        &req.hosts,
        &g.hosts,
        |a, b| a == b,
        |h| h.to_string(),
    );
    out.env = intersect(
        (CapabilityKind::Env, grant, &mut out),
        &req.env,
        &g.env,
        |a, b| a == b,
        text,
    );
    out.secrets = intersect(
        (CapabilityKind::Secret, grant, &mut out),
        &req.secrets,
        &g.secrets,
        |a, b| a == b,
        text,
    );
    out.secret_uses = out
        .secrets
        .iter()
        .filter_map(|name| g.secret_uses.get(name).map(|u| (name.clone(), u.clone())))
        .collect();
    out.dirs = intersect(
        (CapabilityKind::Dir, grant, &mut out),
        &req.dirs,
        &g.dirs,
        |g, r| g.path == r.path && g.mode.covers(r.mode),
        |d| d.to_string(),
    );
    let without_log = |list: &[Interface]| -> Vec<Interface> {
        list.iter()
            .copied()
            .filter(|i| *i != Interface::Log)
            .collect()
    };
    let mut interfaces = vec![Interface::Log];
    interfaces.extend(intersect(
        (CapabilityKind::Interface, grant, &mut out),
        &without_log(&req.interfaces),
        &without_log(&g.interfaces),
        |a, b| a == b,
        |i| i.to_string(),
    ));
    out.interfaces = interfaces;
    if let Some(asked) = req.memory_limit {
        out.memory_limit = asked.min(grant.memory_limit);
        if asked > grant.memory_limit {
            out.denials.push(Denial {
                skill: grant.skill.clone(),
                kind: CapabilityKind::MemoryLimit,
                capability: format_bytes(asked),
                config_key: grant.config_key("memory_limit"),
                granted: Some(format_bytes(grant.memory_limit)),
            });
        }
    }
    if let Some(asked) = req.timeout {
        out.timeout = asked.min(grant.timeout);
        if asked > grant.timeout {
            out.denials.push(Denial {
                skill: grant.skill.clone(),
                kind: CapabilityKind::Timeout,
                capability: format_duration(asked),
                config_key: grant.config_key("timeout"),
                granted: Some(format_duration(grant.timeout)),
            });
        }
    }
    out
}
