//! Capability grants from config.yaml: a skill requests capabilities in its SKILL.md, the
//! operator grants them under `grants:`, and the skill runs with the intersection. Everything
//! else is denied, and each denial names the skill, the capability and the config key that
//! would grant it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use molecule_config::{
    effective, CapabilityRequest, DirMode, Effective, Interface, WorkspaceConfig,
};

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
}

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
        for name in &eff.env {
            if let Some(value) = self.value(name) {
                grants = grants.env(name, value);
            }
        }
        for name in &eff.secrets {
            grants = grants.config(name, self.value(name));
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
