//! Capability grants (config.yaml `grants:`) and capability requests (SKILL.md frontmatter
//! `capabilities:`). A skill listed under `grants.skills` gets exactly its entry; any other
//! skill gets `grants.default`. Limits fall through: skill entry → `grants.default` → `sandbox`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use crate::capabilities::{read_set, CapabilitySet, Side};
use crate::keys::check_keys;
use crate::lenient::{describe, field, Reader};
use crate::sandbox::SandboxConfig;
use crate::secret_grants::read_secret_uses;
use crate::warning::Warning;

/// The keys of a grant (`grants.default`, `grants.skills.<id>`). A near miss of any of them
/// is an error: a misspelt limit would fall through to a higher one.
const GRANT_KEYS: [&str; 7] = [
    "hosts",
    "env",
    "secrets",
    "dirs",
    "interfaces",
    "memory_limit",
    "timeout",
];

/// The `grants:` section of config.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantsConfig {
    /// `grants.default`: what every skill not listed under `grants.skills` gets.
    pub default: CapabilitySet,
    /// `grants.skills.<id>`: per-skill grants, replacing the default for that skill.
    pub skills: BTreeMap<String, CapabilitySet>,
}

/// The grant that applies to one skill, with limits resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The skill id.
    pub skill: String,
    /// Whether the skill has its own `grants.skills.<id>` entry (else the default applies).
    pub listed: bool,
    /// The granted lists (`memory_limit` / `timeout` here are as written, possibly `None`).
    pub caps: CapabilitySet,
    /// The granted memory limit: skill entry, else `grants.default`, else `sandbox.memory_limit`.
    pub memory_limit: u64,
    /// The granted timeout: skill entry, else `grants.default`, else `sandbox.timeout`.
    pub timeout: Duration,
}

impl Grant {
    /// The config.yaml key under which `field` is granted to this skill,
    /// e.g. `grants.skills.web-fetch.hosts`.
    pub fn config_key(&self, field: &str) -> String {
        format!("grants.skills.{}.{field}", self.skill)
    }
}

impl GrantsConfig {
    /// Reads `grants`. Nothing here may widen what a skill gets: a bad list item is skipped
    /// (less access), an unreadable skill entry grants nothing but `log` (it does not fall
    /// back to `grants.default`), and what cannot be narrowed safely (`grants.skills` not a
    /// mapping, an unreadable limit) is an error.
    pub(crate) fn read(r: &mut Reader<'_>, v: Option<&Value>) -> GrantsConfig {
        let Some(v) = r.mapping(v, "grants") else {
            return GrantsConfig::default();
        };
        let limits = ["memory_limit", "timeout", "inbound_secret"];
        check_keys(
            r,
            v,
            "grants",
            &["default", "skills"],
            &["default", "skills"],
            &limits,
        );
        let default = match r.mapping(field(v, "default"), "grants.default") {
            Some(d) => {
                check_keys(
                    r,
                    d,
                    "grants.default",
                    &GRANT_KEYS,
                    &GRANT_KEYS,
                    &["inbound_secret"],
                );
                read_grant(r, d, "grants.default")
            }
            None => CapabilitySet::default(),
        };
        let mut skills = BTreeMap::new();
        let holds = "the per-skill grants (without them every skill would get grants.default)";
        if let Some(map) = r.secure_mapping(field(v, "skills"), "grants.skills", holds) {
            for (id, entry) in r.entries(map, "grants.skills") {
                let key = format!("grants.skills.{id}");
                let set = match entry {
                    Value::Null => CapabilitySet::default(),
                    Value::Mapping(_) => {
                        check_keys(
                            r,
                            entry,
                            &key,
                            &GRANT_KEYS,
                            &GRANT_KEYS,
                            &["inbound_secret"],
                        );
                        read_grant(r, entry, &key)
                    }
                    other => {
                        r.warn(
                            &key,
                            format!(
                                "expected a mapping, found {}; `{id}` is granted nothing but \
                                 log (not grants.default)",
                                describe(other)
                            ),
                        );
                        CapabilitySet::default()
                    }
                };
                skills.insert(id, set);
            }
        }
        GrantsConfig { default, skills }
    }

    /// The grant for `skill`, with limits falling back to `grants.default` then `sandbox`.
    pub fn for_skill(&self, skill: &str, sandbox: &SandboxConfig) -> Grant {
        let entry = self.skills.get(skill);
        let caps = entry.unwrap_or(&self.default).clone();
        let memory_limit = entry
            .and_then(|e| e.memory_limit)
            .or(self.default.memory_limit)
            .unwrap_or(sandbox.memory_limit);
        let timeout = entry
            .and_then(|e| e.timeout)
            .or(self.default.timeout)
            .unwrap_or(sandbox.timeout);
        Grant {
            skill: skill.to_string(),
            listed: entry.is_some(),
            caps,
            memory_limit,
            timeout,
        }
    }
}

/// One grant entry at `key`: its capability set and how it uses its secrets.
fn read_grant(r: &mut Reader<'_>, value: &Value, key: &str) -> CapabilitySet {
    let mut set = read_set(r, value, key, Side::Grant);
    read_secret_uses(r, value, key, &mut set);
    set
}

/// What a skill declares it needs, from `capabilities:` in its SKILL.md frontmatter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityRequest {
    /// The skill id (its folder name).
    pub skill: String,
    /// The requested capabilities.
    pub caps: CapabilitySet,
}

impl CapabilityRequest {
    /// Reads `capabilities:` from an already-parsed frontmatter mapping. Warnings name `file`
    /// (the SKILL.md) and keys such as `capabilities.hosts[0]`. A missing section requests nothing.
    pub fn from_frontmatter(
        skill: &str,
        frontmatter: &Value,
        file: &Path,
    ) -> (CapabilityRequest, Vec<Warning>) {
        let mut r = Reader::new(file);
        let caps = match r.mapping(field(frontmatter, "capabilities"), "capabilities") {
            Some(v) => read_set(&mut r, v, "capabilities", Side::Request),
            None => CapabilitySet::default(),
        };
        let request = CapabilityRequest {
            skill: skill.to_string(),
            caps,
        };
        (request, r.warnings)
    }

    /// Like [`CapabilityRequest::from_frontmatter`], from the frontmatter's YAML text (the part
    /// between the `---` lines). Invalid YAML requests nothing and warns with the line, counted
    /// within `yaml`.
    pub fn from_frontmatter_str(
        skill: &str,
        yaml: &str,
        file: &Path,
    ) -> (CapabilityRequest, Vec<Warning>) {
        match serde_yaml::from_str::<Value>(yaml) {
            Ok(v) => CapabilityRequest::from_frontmatter(skill, &v, file),
            Err(e) => {
                let mut w = Warning::in_file(
                    file,
                    "",
                    format!(
                        "the frontmatter is not valid YAML ({e}); no capabilities are requested"
                    ),
                );
                w.line = e.location().map(|l| l.line());
                let request = CapabilityRequest {
                    skill: skill.to_string(),
                    caps: CapabilitySet::default(),
                };
                (request, vec![w])
            }
        }
    }
}
