//! The workspace's skill registry as the plan describes it: pulled skill packages, `skills/`
//! and plugin skills,
//! filtered by config.yaml `skills:` and the adapter, with grants from config.yaml. Used by
//! boot, smoke mode and `workspace check`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::deps::BootDeps;
use super::policy::{ConfigPolicy, LateValues};
use super::skills::{GrantPolicy, SkillFilter, SkillRegistry};
use crate::builder::ComponentBuilder;
use crate::capabilities::memory::MemoryBackend;
use crate::component::ComponentHost;
use crate::plan::Plan;

/// The workspace's skill registry: `skills/` plus plugin skills, filtered by config.yaml
/// `skills:` and the adapter, with grants from config.yaml (also used by smoke mode).
pub(crate) fn skill_registry(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
) -> SkillRegistry {
    skill_registry_with(plan, deps, memory, Default::default())
}

/// Like [`skill_registry`], with `secrets` (from the platform, filled in when they arrive
/// after boot) added to the values granted skills can receive, ahead of the environment's;
/// they never enter the process environment.
pub(crate) fn skill_registry_with(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
    secrets: LateValues,
) -> SkillRegistry {
    let mut policy = ConfigPolicy::new(plan.config.clone(), Some(memory.clone()), env_values())
        .with_late_values(secrets)
        .with_llm(crate::capabilities::llm::model_access(
            &deps.gateway,
            "skills",
        ));
    if plan.env.smoke_mode {
        policy = policy.offline(
            "offline in smoke mode: outgoing HTTP never opens a connection during a smoke run",
        );
    }
    plan_registry(
        plan,
        deps.host.clone(),
        deps.builder.clone(),
        Arc::new(policy),
    )
}

/// The skill registry the plan describes (config skills, plugin skills, filters) under `policy`.
pub fn plan_registry(
    plan: &Plan,
    host: Arc<ComponentHost>,
    builder: ComponentBuilder,
    policy: Arc<dyn GrantPolicy>,
) -> SkillRegistry {
    SkillRegistry::new(host, builder, policy, plan.skill_roots.clone())
        .with_packages(plan.packages.iter().map(|p| p.dir.clone()).collect())
        .with_extra_dirs(
            plan.plugins
                .plugins
                .iter()
                .flat_map(|p| p.skill_dirs.clone())
                .collect(),
        )
        .with_filter(SkillFilter {
            only: (!plan.config.skills.is_empty()).then(|| skill_ids(&plan.config.skills)),
            runtime: Some(plan.config.runtime.clone()),
        })
}

/// The skill ids config.yaml `skills:` names: folder ids as written, and the id each OCI
/// reference loads as (the last component of its repository).
fn skill_ids(skills: &[String]) -> Vec<String> {
    skills
        .iter()
        .map(|s| match molecule_config::is_package_reference(s) {
            true => molecule_config::package_skill_id(s).to_owned(),
            false => s.clone(),
        })
        .collect()
}

/// Values for granted env vars and secrets: the host's environment.
fn env_values() -> BTreeMap<String, String> {
    std::env::vars().collect()
}
