//! The workspace's skills as one atomically swapped snapshot. Loading a skill means: read its
//! folder, build its crate if it has one, compile, link-check, pre-instantiate and describe —
//! all before the new version becomes visible. Calls take the snapshot current when they
//! start, so in-flight calls finish on the old version while new calls get the new one, and
//! `check` and the Agent Card never see a half-loaded skill.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use tokio::sync::{watch, Mutex};
use tracing::Instrument;

use crate::bindings::{ToolError, ToolSpec};
use crate::builder::ComponentBuilder;
use crate::component::{ComponentHost, SkillComponent};
use crate::grants::Grants;
use crate::sandbox::{CallError, Sandbox};
use crate::skill::{ComponentSource, SkillDir};

/// Decides what each skill may do (requested ∩ granted).
pub trait GrantPolicy: Send + Sync {
    /// The grants for `skill`, or an error naming what is wrong with its request.
    fn grants_for(&self, skill: &SkillDir) -> anyhow::Result<Arc<Grants>>;
}

/// A policy that grants nothing beyond logging, for tools and tests.
pub struct GrantNothing;

impl GrantPolicy for GrantNothing {
    fn grants_for(&self, skill: &SkillDir) -> anyhow::Result<Arc<Grants>> {
        Ok(Grants::builder(format!("skill {}", skill.id)).build())
    }
}

/// Which skill folders a registry loads.
#[derive(Debug, Clone, Default)]
pub struct SkillFilter {
    /// When set, only these ids (config.yaml `skills:`); otherwise every folder.
    pub only: Option<Vec<String>>,
    /// The adapter name; skills whose `runtime` excludes it are skipped.
    pub runtime: Option<String>,
}

impl SkillFilter {
    fn admits_id(&self, id: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|i| i == id))
    }
}

/// One loaded skill version.
pub struct LoadedSkill {
    /// The folder as read.
    pub dir: SkillDir,
    /// The compiled, pre-instantiated component and its tools.
    pub component: SkillComponent,
}

/// Everything loaded at one moment.
#[derive(Default)]
pub struct SkillSnapshot {
    /// Loaded skills by id (folder name).
    pub skills: BTreeMap<String, Arc<LoadedSkill>>,
    /// Tool name → id of the skill that owns it.
    pub tools: BTreeMap<String, String>,
    /// Skills (or tools) that could not be loaded, with the reason.
    pub problems: BTreeMap<String, String>,
    /// Increases on every change.
    pub generation: u64,
}

impl SkillSnapshot {
    /// Specs of every tool, sorted by name.
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .filter_map(|(tool, id)| {
                let skill = self.skills.get(id)?;
                skill
                    .component
                    .tools
                    .iter()
                    .find(|t| &t.name == tool)
                    .cloned()
            })
            .collect()
    }
}

/// The skills of a workspace, reloadable one by one.
pub struct SkillRegistry {
    host: Arc<ComponentHost>,
    builder: ComponentBuilder,
    sandbox: Sandbox,
    policy: Arc<dyn GrantPolicy>,
    roots: Vec<PathBuf>,
    extra: Vec<PathBuf>,
    filter: SkillFilter,
    current: ArcSwap<SkillSnapshot>,
    changes: watch::Sender<u64>,
    reload: Mutex<()>,
}

impl SkillRegistry {
    /// A registry over the skill folders found in `roots` (each root holds `<id>/SKILL.md`
    /// folders; the first root that has an id wins).
    pub fn new(
        host: Arc<ComponentHost>,
        builder: ComponentBuilder,
        policy: Arc<dyn GrantPolicy>,
        roots: Vec<PathBuf>,
    ) -> Self {
        let sandbox = Sandbox::new(host.engine().clone());
        SkillRegistry {
            host,
            builder,
            sandbox,
            policy,
            roots,
            extra: Vec::new(),
            filter: SkillFilter::default(),
            current: ArcSwap::from_pointee(SkillSnapshot::default()),
            changes: watch::channel(0).0,
            reload: Mutex::new(()),
        }
    }

    /// Loads only the skills `filter` admits.
    pub fn with_filter(mut self, filter: SkillFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Adds single skill folders (e.g. plugin skills), consulted after the roots.
    pub fn with_extra_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.extra = dirs;
        self
    }

    /// The folders this registry watches: the roots and the parents of the extra folders.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots = self.roots.clone();
        for dir in &self.extra {
            if let Some(parent) = dir.parent() {
                if !roots.iter().any(|r| r == parent) {
                    roots.push(parent.to_owned());
                }
            }
        }
        roots
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<SkillSnapshot> {
        self.current.load_full()
    }

    /// A receiver that sees the snapshot generation after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Loads every skill folder under the roots (replacing whatever was loaded).
    pub async fn load_all(&self) -> Arc<SkillSnapshot> {
        let _guard = self.reload.lock().await;
        let ids: Vec<String> = self.discover().into_keys().collect();
        self.rebuild(&ids, &[]).await
    }

    /// Reloads the skills `ids` (added, changed or removed); the others stay as they are.
    pub async fn reload(&self, ids: &[String]) -> Arc<SkillSnapshot> {
        let _guard = self.reload.lock().await;
        let keep: Vec<String> = self
            .snapshot()
            .skills
            .keys()
            .filter(|id| !ids.contains(id))
            .cloned()
            .collect();
        self.rebuild(ids, &keep).await
    }

    /// Calls tool `name` with JSON `input` on the skill that owns it.
    pub async fn call(&self, name: &str, input: &str) -> Result<String, CallError> {
        let snapshot = self.snapshot();
        let Some(skill) = snapshot
            .tools
            .get(name)
            .and_then(|id| snapshot.skills.get(id))
        else {
            let known: Vec<&str> = snapshot.tools.keys().map(String::as_str).collect();
            return Err(CallError::Tool(ToolError::NotFound(format!(
                "no tool `{name}` in this workspace; tools: {}",
                known.join(", ")
            ))));
        };
        let skill = skill.clone();
        drop(snapshot);
        let span = tracing::info_span!("tool_call", tool = %name, skill = %skill.dir.id);
        let started = std::time::Instant::now();
        let result = self
            .sandbox
            .call_tool(&skill.component, name, input)
            .instrument(span)
            .await;
        let outcome = crate::metrics::outcome_of(&result);
        crate::metrics::global().tool_call(name, outcome, started.elapsed());
        result
    }

    /// Skill folders by id, first root first.
    fn discover(&self) -> BTreeMap<String, PathBuf> {
        let mut found = BTreeMap::new();
        let listed = self
            .roots
            .iter()
            .filter_map(|root| std::fs::read_dir(root).ok())
            .flat_map(|entries| entries.flatten().map(|e| e.path()));
        for path in listed.chain(self.extra.iter().cloned()) {
            {
                if path.join("SKILL.md").is_file() {
                    if let Some(id) = path.file_name().and_then(|n| n.to_str()) {
                        if self.filter.admits_id(id) {
                            found.entry(id.to_owned()).or_insert(path);
                        }
                    }
                }
            }
        }
        found
    }

    /// Loads `ids` fresh, keeps `keep` from the current snapshot, and swaps in the result.
    async fn rebuild(&self, ids: &[String], keep: &[String]) -> Arc<SkillSnapshot> {
        let old = self.snapshot();
        let folders = self.discover();
        let mut skills: BTreeMap<String, Arc<LoadedSkill>> = BTreeMap::new();
        let mut problems = BTreeMap::new();
        for id in keep {
            if let Some(skill) = old.skills.get(id) {
                skills.insert(id.clone(), skill.clone());
            }
            if let Some(problem) = old.problems.get(id) {
                problems.insert(id.clone(), problem.clone());
            }
        }
        for id in ids {
            let Some(dir) = folders.get(id) else {
                tracing::info!(skill = %id, "skill removed");
                continue;
            };
            match self.load_one(dir).await {
                Ok(skill) => {
                    if old.skills.contains_key(id) {
                        crate::metrics::global().component_swapped("skill");
                    }
                    for warning in &skill.dir.warnings {
                        tracing::warn!(skill = %id, "{warning}");
                    }
                    skills.insert(id.clone(), Arc::new(skill));
                }
                Err(err) => {
                    let text = format!("{err:#}");
                    tracing::error!(skill = %id, error = %text, "skill failed to load");
                    problems.insert(id.clone(), text);
                    // A failed reload keeps the previous version serving.
                    if let Some(previous) = old.skills.get(id) {
                        skills.insert(id.clone(), previous.clone());
                    }
                }
            }
        }
        let tools = index_tools(&skills, &mut problems);
        let snapshot = Arc::new(SkillSnapshot {
            skills,
            tools,
            problems,
            generation: old.generation + 1,
        });
        self.current.store(snapshot.clone());
        self.changes.send_replace(snapshot.generation);
        snapshot
    }

    async fn load_one(&self, dir: &Path) -> anyhow::Result<LoadedSkill> {
        let skill_dir = SkillDir::load(dir)?;
        if let Some(runtime) = &self.filter.runtime {
            if !skill_dir.meta.runs_on(runtime) {
                anyhow::bail!(
                    "skipped: its SKILL.md `runtime` ({}) excludes the `{runtime}` adapter",
                    skill_dir.meta.runtime.join(", ")
                );
            }
        }
        let wasm_path = match &skill_dir.source {
            ComponentSource::Prebuilt(path) => path.clone(),
            ComponentSource::Crate(crate_dir) => {
                let builder = self.builder.clone();
                let crate_dir = crate_dir.clone();
                let built = tokio::task::spawn_blocking(move || builder.build(&crate_dir))
                    .await
                    .context("build task failed")??;
                if built.built_now {
                    tracing::info!(skill = %skill_dir.id, elapsed = ?built.elapsed, "built");
                }
                built.wasm
            }
        };
        let wasm = tokio::fs::read(&wasm_path)
            .await
            .with_context(|| format!("reading {}", wasm_path.display()))?;
        let grants = self.policy.grants_for(&skill_dir)?;
        let component = self.host.load_skill(&wasm, grants).await?;
        Ok(LoadedSkill {
            dir: skill_dir,
            component,
        })
    }
}

/// Maps tool names to skills. A name offered by two skills goes to the first skill by id;
/// the clash is recorded as a problem of the later skill, never silently shadowed.
fn index_tools(
    skills: &BTreeMap<String, Arc<LoadedSkill>>,
    problems: &mut BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tools: BTreeMap<String, String> = BTreeMap::new();
    for (id, skill) in skills {
        for spec in &skill.component.tools {
            match tools.get(&spec.name) {
                Some(owner) => {
                    let text = format!(
                        "tool `{}` clashes with skill `{owner}`, which also offers it; \
                         rename one of them (skill `{id}`'s copy is not loaded)",
                        spec.name
                    );
                    tracing::error!(skill = %id, "{text}");
                    problems.insert(format!("{id}/{}", spec.name), text);
                }
                None => {
                    tools.insert(spec.name.clone(), id.clone());
                }
            }
        }
    }
    tools
}
