//! Capability grants from config.yaml: a skill requests capabilities in its SKILL.md, the
//! operator grants them under `grants:`, and the skill runs with the intersection. Everything
//! else is denied, and each denial names the skill, the capability and the config key that
//! would grant it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use molecule_config::{
    effective, CapabilityRequest, DirMode, Effective, Interface, WorkspaceConfig,
};
use molecule_egress::{new_placeholder, SecretBinding};

use super::skills::GrantPolicy;
use crate::capabilities::llm::LlmBackend;
use crate::capabilities::memory::MemoryBackend;
use crate::grants::Grants;
use crate::limits::SandboxLimits;
use crate::skill_dir::SkillDir;

/// Grants computed from the workspace config.
pub struct ConfigPolicy {
    config: Arc<WorkspaceConfig>,
    memory: Option<Arc<dyn MemoryBackend>>,
    llm: Option<Arc<dyn LlmBackend>>,
    values: BTreeMap<String, String>,
    late: Option<LateValues>,
    offline: Option<String>,
    /// The placeholder of each (skill, secret), made once per policy (one workspace boot) and
    /// kept across skill reloads. One per skill: a skill's placeholder is plain text in
    /// another skill's requests (never substituted there).
    placeholders: Mutex<BTreeMap<(String, String), String>>,
}

/// Secret values shorter than this are warned about at load: response masking lets a guest
/// test guesses, which finds a short value.
const MIN_SECRET_LEN: usize = 8;

/// Values that arrive after boot (the platform's secrets), read at each grant and preferred
/// over the values given at construction.
pub type LateValues = Arc<arc_swap::ArcSwap<BTreeMap<String, String>>>;

/// Host interfaces a workspace can give an adapter but not a skill: a granted one is refused
/// with a warning naming it (and the call stays `denied`, saying so) instead of seeming on.
const ADAPTER_ONLY: [Interface; 3] = [Interface::A2a, Interface::Tools, Interface::Events];

impl ConfigPolicy {
    /// A policy over `config`. `values` supplies env and secret values by name (the host's
    /// environment, or secrets pulled from the platform); `memory` backs the memory interface.
    pub fn new(
        config: Arc<WorkspaceConfig>,
        memory: Option<Arc<dyn MemoryBackend>>,
        values: BTreeMap<String, String>,
    ) -> Self {
        ConfigPolicy {
            config,
            memory,
            llm: None,
            values,
            late: None,
            offline: None,
            placeholders: Mutex::default(),
        }
    }

    /// The same policy also reading `late` (secrets pulled from the platform after boot; a
    /// skill reloaded after they arrive is granted them).
    pub fn with_late_values(mut self, late: LateValues) -> Self {
        self.late = Some(late);
        self
    }

    /// The value of `name`: a late value first, then the values given at construction.
    fn value(&self, name: &str) -> Option<String> {
        if let Some(v) = self.late.as_ref().and_then(|l| l.load().get(name).cloned()) {
            return Some(v);
        }
        self.values.get(name).cloned()
    }

    /// The placeholder of `skill`'s secret `name` for this boot (made on first use).
    ///
    /// # Errors
    /// The operating system's random source failed.
    fn placeholder(&self, skill: &str, name: &str) -> anyhow::Result<String> {
        let mut map = self
            .placeholders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (skill.to_owned(), name.to_owned());
        if let Some(p) = map.get(&key) {
            return Ok(p.clone());
        }
        let p = new_placeholder(name)
            .map_err(|e| anyhow::anyhow!("cannot make a placeholder for secret `{name}`: {e}"))?;
        map.insert(key, p.clone());
        Ok(p)
    }

    /// Whether `name` is a secret for a skill requesting `request`: named as a secret in any
    /// grant entry of config.yaml (granted, or refused because its entry is unusable),
    /// requested as a secret by the skill, or one of the platform's secrets. Such a name's value never reaches the skill as an env var unless
    /// the skill's grant says `expose: true` for it.
    fn is_secret(&self, request: &CapabilityRequest, name: &str) -> bool {
        let grants = &self.config.grants;
        let configured = std::iter::once(&grants.default)
            .chain(grants.skills.values())
            .any(|set| {
                set.secrets
                    .iter()
                    .chain(&set.refused_secrets)
                    .any(|n| n == name)
            });
        configured
            || request.caps.secrets.iter().any(|n| n == name)
            || self
                .late
                .as_ref()
                .is_some_and(|late| late.load().contains_key(name))
    }

    /// The egress binding of `skill`'s secret `name` when it is held as a placeholder (not
    /// exposed, and set); `None` otherwise.
    fn secret_binding(
        &self,
        skill: &str,
        eff: &Effective,
        name: &str,
    ) -> anyhow::Result<Option<SecretBinding>> {
        let Some(use_) = eff.secret_uses.get(name).filter(|u| !u.expose) else {
            return Ok(None);
        };
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        if value.len() < MIN_SECRET_LEN {
            tracing::warn!(
                skill = %skill,
                "secret `{name}` is shorter than {MIN_SECRET_LEN} bytes: a skill that gets a \
                 granted origin to echo guesses can find it from the response masking; use a \
                 longer value"
            );
        }
        let entry = match self.config.grants.skills.contains_key(skill) {
            true => format!("grants.skills.{skill}"),
            false => "grants.default".to_owned(),
        };
        let hosts: Vec<String> = use_.hosts.iter().map(|h| h.to_string()).collect();
        let key = format!("{entry}.secrets.{name}");
        let placeholder = self.placeholder(skill, name)?;
        let binding = SecretBinding::new(name, &key, &placeholder, &value, &hosts, use_.body)?;
        Ok(Some(match use_.list_form {
            true => binding.from_list_form(),
            false => binding,
        }))
    }

    /// The same policy giving skills granted `llm` the model through `backend` (the
    /// workspace's gateway, or the reason there is none).
    pub fn with_llm(mut self, backend: Arc<dyn LlmBackend>) -> Self {
        self.llm = Some(backend);
        self
    }

    /// The same policy with outgoing HTTP offline (smoke mode): granted origins stay granted
    /// on paper, but every request fails at once with `reason` and no connection is opened.
    pub fn offline(mut self, reason: impl Into<String>) -> Self {
        self.offline = Some(reason.into());
        self
    }

    /// What `skill` requests, is granted, and gets (for `check` and logs).
    pub fn effective_for(&self, skill: &SkillDir) -> Effective {
        self.request_and_effective(skill).1
    }

    /// What `skill`'s SKILL.md requests (its warnings logged) and what it then gets.
    fn request_and_effective(&self, skill: &SkillDir) -> (CapabilityRequest, Effective) {
        let (request, warnings) = CapabilityRequest::from_frontmatter_str(
            &skill.id,
            &skill.frontmatter,
            &skill.dir.join("SKILL.md"),
        );
        for w in warnings {
            tracing::warn!(skill = %skill.id, "{w}");
        }
        let eff = effective(&request, &self.config.grant_for(&skill.id));
        (request, eff)
    }
}

/// Guest path of the `index`th granted directory: `/data`, then `/data1`, `/data2`, ...
pub fn guest_dir(index: usize) -> String {
    if index == 0 {
        "/data".into()
    } else {
        format!("/data{index}")
    }
}

impl GrantPolicy for ConfigPolicy {
    fn grants_for(&self, skill: &SkillDir) -> anyhow::Result<Arc<Grants>> {
        let (request, eff) = self.request_and_effective(skill);
        for denial in &eff.denials {
            tracing::warn!(skill = %skill.id, "{denial}");
        }
        let limits = SandboxLimits {
            memory_bytes: usize::try_from(eff.memory_limit).unwrap_or(usize::MAX),
            timeout: eff.timeout.max(Duration::from_millis(10)),
            ..SandboxLimits::configured(&self.config.sandbox)
        };
        let id = &skill.id;
        let skill_md = skill.dir.join("SKILL.md");
        // A skill gets what its SKILL.md requests and config.yaml grants: where the skill
        // requests no origin, a denial names that half too.
        let hosts_key = if request.caps.hosts.is_empty() {
            format!(
                "grants.skills.{id}.hosts in config.yaml, and requested under \
                 `capabilities: {{hosts: [...]}}` in {}",
                skill_md.display()
            )
        } else {
            format!("grants.skills.{id}.hosts")
        };
        let mut grants = Grants::builder(format!("skill {id}"))
            .grant_hint(format!(
                "config.yaml under grants.skills.{id} (and request it under `capabilities:` in \
                 {})",
                skill_md.display()
            ))
            .hosts_key(hosts_key)
            .limits(limits);
        let mut bindings = BTreeMap::new();
        for name in &eff.secrets {
            match self.secret_binding(id, &eff, name)? {
                Some(binding) => {
                    bindings.insert(name.clone(), binding.placeholder().to_owned());
                    grants = grants.secret_at_egress(binding);
                }
                // Exposed, or unset (`None`); a secret without a use is never exposed.
                None => {
                    let exposed = eff.secret_uses.get(name).is_some_and(|u| u.expose);
                    grants = grants.config(name, self.value(name).filter(|_| exposed));
                }
            }
        }
        let exposed = self.config.grant_for(id).caps.secret_uses;
        for name in &eff.env {
            // An env var named like a secret gets the skill's placeholder when the secret is
            // granted to it as one, the value only under `expose: true`, and else nothing.
            let value = if let Some(placeholder) = bindings.get(name) {
                Some(placeholder.clone())
            } else if !self.is_secret(&request, name) || exposed.get(name).is_some_and(|u| u.expose)
            {
                self.value(name)
            } else {
                if self.value(name).is_some() {
                    tracing::warn!(
                    skill = %id,
                    "env var `{name}` names a secret, so it is not passed as a value: grant it \
                     under grants.skills.{id}.secrets (the skill then holds a placeholder), or \
                     write `secrets: {{{name}: {{expose: true}}}}` there to hand the value over"
                    );
                }
                None
            };
            if let Some(value) = value {
                grants = grants.env(name, value);
            }
        }
        for (i, dir) in eff.dirs.iter().enumerate() {
            let host: PathBuf = dir.resolve(&self.config.config_dir);
            anyhow::ensure!(
                host.is_dir(),
                "skill `{}` is granted directory {} but it does not exist",
                skill.id,
                host.display()
            );
            grants = grants.dir(host, guest_dir(i), dir.mode == DirMode::Rw);
        }
        if let Some(reason) = &self.offline {
            grants = grants.offline_http(reason);
        } else if !eff.hosts.is_empty() {
            let hosts: Vec<String> = eff.hosts.iter().map(|h| h.to_string()).collect();
            grants = grants.http_hosts(&hosts)?;
        }
        if eff.interfaces.contains(&Interface::Memory) {
            if let Some(memory) = &self.memory {
                grants = grants.memory(memory.clone());
            }
        }
        if eff.interfaces.contains(&Interface::Llm) {
            if let Some(llm) = &self.llm {
                grants = grants.llm(llm.clone());
            }
        }
        if eff.interfaces.contains(&Interface::Uploads) {
            grants = grants.uploads();
        }
        if eff.interfaces.contains(&Interface::Heartbeat) {
            grants = grants.heartbeat(Arc::new(crate::liveness::LivenessBackend));
        }
        for interface in eff.interfaces.iter().filter(|i| ADAPTER_ONLY.contains(i)) {
            tracing::warn!(
                skill = %skill.id,
                interface = ?interface,
                "granted an interface only adapters can use in this runtime; the skill's calls \
                 to it are denied"
            );
        }
        Ok(grants.build())
    }
}
