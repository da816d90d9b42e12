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
use crate::capabilities::memory::MemoryBackend;
use crate::grants::Grants;
use crate::limits::SandboxLimits;
use crate::skill_dir::SkillDir;

/// Grants computed from the workspace config.
pub struct ConfigPolicy {
    config: Arc<WorkspaceConfig>,
    memory: Option<Arc<dyn MemoryBackend>>,
    values: BTreeMap<String, String>,
    offline: Option<String>,
}

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
            values,
            offline: None,
        }
    }

    /// The same policy with outgoing HTTP offline (smoke mode): granted origins stay granted
    /// on paper, but every request fails at once with `reason` and no connection is opened.
    pub fn offline(mut self, reason: impl Into<String>) -> Self {
        self.offline = Some(reason.into());
        self
    }

    /// What `skill` requests, is granted, and gets (for `check` and logs).
    pub fn effective_for(&self, skill: &SkillDir) -> Effective {
        let (request, warnings) = CapabilityRequest::from_frontmatter_str(
            &skill.id,
            &skill.frontmatter,
            &skill.dir.join("SKILL.md"),
        );
        for w in warnings {
            tracing::warn!(skill = %skill.id, "{w}");
        }
        effective(&request, &self.config.grant_for(&skill.id))
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
        let eff = self.effective_for(skill);
        for denial in &eff.denials {
            tracing::warn!(skill = %skill.id, "{denial}");
        }
        let limits = SandboxLimits {
            memory_bytes: usize::try_from(eff.memory_limit).unwrap_or(usize::MAX),
            timeout: eff.timeout.max(Duration::from_millis(10)),
            ..SandboxLimits::default()
        };
        let mut grants = Grants::builder(format!("skill {}", skill.id))
            .grant_hint(format!("config.yaml under grants.skills.{}", skill.id))
            .hosts_key(format!("grants.skills.{}.hosts", skill.id))
            .limits(limits);
        for name in &eff.env {
            if let Some(value) = self.values.get(name) {
                grants = grants.env(name, value);
            }
        }
        for name in &eff.secrets {
            grants = grants.config(name, self.values.get(name).cloned());
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
        Ok(grants.build())
    }
}
