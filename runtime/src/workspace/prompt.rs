//! The system prompt and the adapter configuration that carries it: built from the prompt
//! files, the plugins and the skills, and rebuilt in one place whenever one of them changes —
//! skills (by their registry's watcher), plugin folders (`<configs>/plugins`, `$PLUGINS_DIR`)
//! or the prompt files in the config folder (by [`watch_prompt_sources`]). The next task sees
//! the new prompt.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use molecule_config::{load_plugins, system_prompt, Plugin, PromptParts, PromptSkill};

use super::reload::{watch_folders, FolderWatcher, DEBOUNCE};
use super::skills::{SkillRegistry, SkillSnapshot};
use crate::plan::Plan;

/// The adapter's setup configuration with the system prompt for the plan's plugins and the
/// skills of `snapshot`.
pub(crate) fn adapter_config(plan: &Plan, snapshot: &SkillSnapshot) -> String {
    plan.adapter_config(&prompt_with(plan, &plan.plugins.plugins, snapshot))
}

/// The system prompt for the current skills and `plugins`.
fn prompt_with(plan: &Plan, plugins: &[Plugin], snapshot: &SkillSnapshot) -> String {
    // Loaded skills, plus instructions-only skills (listed, with no component to load).
    let instructions = snapshot.listed.values().filter(|dir| {
        dir.source == crate::skill_dir::ComponentSource::Instructions
            && !snapshot.skills.contains_key(&dir.id)
    });
    let mut skills: Vec<PromptSkill> = snapshot
        .skills
        .values()
        .map(|s| &s.dir)
        .chain(instructions)
        .map(|dir| PromptSkill {
            name: dir.id.clone(),
            description: dir.meta.description.clone(),
            body: dir.body.clone(),
        })
        .collect();
    skills.sort_by(|a, b| a.name.cmp(&b.name));
    let mut parts = PromptParts::new(&plan.config.config_dir);
    parts.prompt_files = &plan.config.prompt_files;
    parts.plugins = plugins;
    parts.skills = &skills;
    system_prompt(&parts)
}

/// What the adapter's configuration is rebuilt from, and where it is kept: the plan, the
/// current plugins (reloaded when their folders change) and the configuration the executor
/// reads at each task.
#[derive(Clone)]
pub(crate) struct PromptSources {
    plan: Arc<Plan>,
    plugins: Arc<ArcSwap<Vec<Plugin>>>,
    config: Arc<ArcSwap<String>>,
}

impl PromptSources {
    /// Sources starting from the plan's plugins, rebuilding into `config`.
    pub(crate) fn new(plan: Arc<Plan>, config: Arc<ArcSwap<String>>) -> Self {
        let plugins = Arc::new(ArcSwap::from_pointee(plan.plugins.plugins.clone()));
        PromptSources {
            plan,
            plugins,
            config,
        }
    }

    /// Rebuilds the system prompt from the current plugins and the skills of `snapshot`, and
    /// stores the adapter configuration that carries it.
    pub(crate) fn rebuild(&self, snapshot: &SkillSnapshot) {
        let prompt = prompt_with(&self.plan, &self.plugins.load(), snapshot);
        self.config
            .store(Arc::new(self.plan.adapter_config(&prompt)));
    }
}

/// Watches the config folder and the shared plugins folder; reloads the plugins and rebuilds
/// the prompt on change. (Skills are watched by their own registry.)
pub(crate) fn watch_prompt_sources(
    sources: PromptSources,
    skills: Arc<SkillRegistry>,
) -> anyhow::Result<FolderWatcher> {
    let config_dir = canonical(sources.plan.config.config_dir.clone());
    let shared = canonical(sources.plan.env.plugins_dir.clone());
    let skills_dir = config_dir.join("skills");
    let folders = vec![config_dir.clone(), shared.clone()];
    watch_folders(&folders, DEBOUNCE, move |paths| {
        let relevant = paths.iter().any(|p| !p.starts_with(&skills_dir));
        let (sources, skills) = (sources.clone(), skills.clone());
        let (config_dir, shared) = (config_dir.clone(), shared.clone());
        Box::pin(async move {
            if !relevant {
                return;
            }
            let set = load_plugins(&config_dir, &shared, &sources.plan.config.runtime);
            sources.plugins.store(Arc::new(set.plugins));
            sources.rebuild(&skills.snapshot());
            tracing::info!("plugins or prompt files changed; system prompt rebuilt");
        })
    })
}

fn canonical(path: PathBuf) -> PathBuf {
    path.canonicalize().unwrap_or(path)
}
