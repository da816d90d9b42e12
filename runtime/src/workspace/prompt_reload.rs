//! Hot reload of what the system prompt is made of: plugin folders (`<configs>/plugins`,
//! `$PLUGINS_DIR`) and the prompt files in the config folder. A change reloads the plugins and
//! rebuilds the adapter's setup configuration; the next task sees the new prompt. (Skills are
//! watched by their own registry, which also rebuilds the prompt.)

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use molecule_config::{load_plugins, Plugin};

use super::boot::prompt_with;
use super::reload::{watch_folders, FolderWatcher, DEBOUNCE};
use super::skills::SkillRegistry;
use crate::plan::Plan;

/// Watches the config folder and the shared plugins folder; rebuilds the prompt on change.
pub fn watch_prompt_sources(
    plan: Arc<Plan>,
    skills: Arc<SkillRegistry>,
    plugins: Arc<ArcSwap<Vec<Plugin>>>,
    adapter_config: Arc<ArcSwap<String>>,
) -> anyhow::Result<FolderWatcher> {
    let config_dir = canonical(plan.config.config_dir.clone());
    let shared = canonical(plan.env.plugins_dir.clone());
    let skills_dir = config_dir.join("skills");
    let folders = vec![config_dir.clone(), shared.clone()];
    watch_folders(&folders, DEBOUNCE, move |paths| {
        let relevant = paths.iter().any(|p| !p.starts_with(&skills_dir));
        let (plan, skills, plugins, adapter_config) = (
            plan.clone(),
            skills.clone(),
            plugins.clone(),
            adapter_config.clone(),
        );
        let (config_dir, shared) = (config_dir.clone(), shared.clone());
        Box::pin(async move {
            if !relevant {
                return;
            }
            let set = load_plugins(&config_dir, &shared, &plan.config.runtime);
            plugins.store(Arc::new(set.plugins));
            let prompt = prompt_with(&plan, &plugins.load(), &skills.snapshot());
            adapter_config.store(Arc::new(plan.adapter_config(&prompt)));
            tracing::info!("plugins or prompt files changed; system prompt rebuilt");
        })
    })
}

fn canonical(path: PathBuf) -> PathBuf {
    path.canonicalize().unwrap_or(path)
}
