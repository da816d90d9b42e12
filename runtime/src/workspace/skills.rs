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

use super::discover::{skill_entry, Discovered};
use super::tool_index;

mod call;
pub use super::tool_index::BUILTIN_TOOL_NAMES;
use crate::bindings::ToolSpec;
use crate::builder::ComponentBuilder;
use crate::component::{ComponentHost, SkillComponent};
use crate::grants::Grants;
use crate::sandbox::Sandbox;
use crate::skill_dir::{ComponentSource, SkillDir};

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
    /// Whether the folder had `scripts/*.py` when this version loaded (a Python skill whose
    /// scripts `run_skill_script` runs); read once per version, not per task.
    pub has_scripts: bool,
}

impl LoadedSkill {
    fn new(dir: SkillDir, component: SkillComponent) -> Self {
        let has_scripts = match &dir.source {
            ComponentSource::Python(folder) => crate::python::run::has_scripts(folder),
            _ => false,
        };
        LoadedSkill {
            dir,
            component,
            has_scripts,
        }
    }
}

/// Everything loaded at one moment.
#[derive(Default)]
pub struct SkillSnapshot {
    /// Loaded skills by id (folder name).
    pub skills: BTreeMap<String, Arc<LoadedSkill>>,
    /// Tool name → id of the skill that owns it.
    pub tools: BTreeMap<String, String>,
    /// Every admitted skill folder whose `SKILL.md` reads, loaded or not, by id: the Agent
    /// Card lists these, so a component that fails to build never empties the card.
    pub listed: BTreeMap<String, SkillDir>,
    /// Skills (or tools) that could not be loaded, and entries of the skill folders that are
    /// not usable skills (broken links, folders without `SKILL.md`), with the reason.
    pub problems: BTreeMap<String, String>,
    /// Increases on every change.
    pub generation: u64,
    /// Specs of every tool in `tools`, sorted by name: built once per snapshot, so listing
    /// the tools for a task is a copy, not a search.
    specs: Vec<ToolSpec>,
    /// Ids of the loaded skills with `scripts/*.py`, sorted.
    script_skills: Vec<String>,
}

impl SkillSnapshot {
    /// Specs of every tool, sorted by name.
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        self.specs.clone()
    }

    /// [`Self::tool_specs`] without the copy.
    pub fn tool_specs_ref(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// Ids of the loaded skills whose folder has `scripts/*.py`, sorted.
    pub fn script_skills(&self) -> &[String] {
        &self.script_skills
    }
}

/// The skills of a workspace, reloadable one by one.
pub struct SkillRegistry {
    host: Arc<ComponentHost>,
    builder: ComponentBuilder,
    sandbox: Sandbox,
    policy: Arc<dyn GrantPolicy>,
    roots: Vec<PathBuf>,
    packages: Vec<PathBuf>,
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
            packages: Vec::new(),
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

    /// Adds unpacked skill packages (pulled and verified), consulted before the roots: a
    /// folder under `skills/` never shadows a package config.yaml pinned.
    pub fn with_packages(mut self, dirs: Vec<PathBuf>) -> Self {
        self.packages = dirs;
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

    /// The sandbox the skills' calls run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
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
        let found = self.discover();
        for (entry, reason) in &found.unusable {
            tracing::warn!(entry = %entry, "{reason}");
        }
        let ids: Vec<String> = found.skills.into_keys().collect();
        self.rebuild(&ids, &[]).await
    }

    /// The admitted skill folders whose `SKILL.md` reads, without building or compiling
    /// anything (for the first Agent Card, before the components load).
    pub fn read_folders(&self) -> Vec<SkillDir> {
        self.discover()
            .skills
            .values()
            .filter_map(|dir| SkillDir::load(dir).ok())
            .filter(|dir| self.runs_here(dir).is_ok())
            .collect()
    }

    /// Reloads the skills `ids` (added, changed or removed); the others stay as they are.
    ///
    /// A skill package is never reloaded: it was verified against its digest and signature
    /// when pulled and is pinned for the run, so a change that names its id (its cached
    /// folder edited, a folder of that id created under a root) leaves the loaded package
    /// serving, with a warning.
    pub async fn reload(&self, ids: &[String]) -> Arc<SkillSnapshot> {
        let _guard = self.reload.lock().await;
        let (pinned, ids): (Vec<String>, Vec<String>) =
            ids.iter().cloned().partition(|id| self.is_package(id));
        for id in &pinned {
            let id = crate::redact::escape(id);
            tracing::warn!(skill = %id, "a change names a skill package's id; the verified package keeps serving (packages are not reloaded from disk)");
        }
        let ids = ids.as_slice();
        let keep: Vec<String> = self
            .snapshot()
            .skills
            .keys()
            .filter(|id| !ids.contains(id))
            .cloned()
            .collect();
        self.rebuild(ids, &keep).await
    }

    /// Whether `id` is the id of one of the registry's skill packages.
    fn is_package(&self, id: &str) -> bool {
        self.packages
            .iter()
            .any(|dir| dir.file_name().and_then(|n| n.to_str()) == Some(id))
    }

    /// Skill folders by id (first root first), and the entries of the roots that are not
    /// usable skill folders.
    fn discover(&self) -> Discovered {
        let mut found = Discovered::default();
        self.admit_folders(&mut found, &self.packages);
        for root in &self.roots {
            let Ok(entries) = std::fs::read_dir(root) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                match skill_entry(&path) {
                    Ok(Some(id)) => self.admit(&mut found, id, path),
                    Ok(None) => {}
                    Err((id, reason)) => {
                        if self.filter.admits_id(&id) && !found.skills.contains_key(&id) {
                            found.unusable.entry(id).or_insert(reason);
                        }
                    }
                }
            }
        }
        self.admit_folders(&mut found, &self.extra);
        found
    }

    /// Admits each folder of `dirs` that holds a `SKILL.md`, by its folder name.
    fn admit_folders(&self, found: &mut Discovered, dirs: &[PathBuf]) {
        for path in dirs {
            if path.join("SKILL.md").is_file() {
                if let Some(id) = path.file_name().and_then(|n| n.to_str()) {
                    self.admit(found, id.to_owned(), path.clone());
                }
            }
        }
    }

    fn admit(&self, found: &mut Discovered, id: String, path: PathBuf) {
        if self.filter.admits_id(&id) {
            found.unusable.remove(&id);
            found.skills.entry(id).or_insert(path);
        }
    }

    /// Ok unless the skill's `runtime` excludes the workspace's adapter.
    fn runs_here(&self, dir: &SkillDir) -> anyhow::Result<()> {
        if let Some(runtime) = &self.filter.runtime {
            if !dir.meta.runs_on(runtime) {
                anyhow::bail!(
                    "skipped: its SKILL.md `runtime` ({}) excludes the `{runtime}` adapter",
                    dir.meta.runtime.join(", ")
                );
            }
        }
        Ok(())
    }

    /// Loads `ids` fresh, keeps `keep` from the current snapshot, and swaps in the result.
    async fn rebuild(&self, ids: &[String], keep: &[String]) -> Arc<SkillSnapshot> {
        let old = self.snapshot();
        let found = self.discover();
        let mut next = Next::default();
        for id in keep {
            next.keep(&old, id);
        }
        for id in ids {
            let Some(path) = found.skills.get(id) else {
                tracing::info!(skill = %id, "skill removed");
                continue;
            };
            self.load_into(&mut next, &old, id, path).await;
        }
        let mut problems = next.problems;
        problems.extend(found.unusable);
        let offered: BTreeMap<&str, &[ToolSpec]> = next
            .skills
            .iter()
            .map(|(id, skill)| (id.as_str(), skill.component.tools.as_slice()))
            .collect();
        let tools = tool_index::index_tools(&offered, &old.tools, &mut problems);
        let specs = tool_index::owned_specs(&offered, &tools);
        let script_skills = next
            .skills
            .iter()
            .filter(|(_, skill)| skill.has_scripts)
            .map(|(id, _)| id.clone())
            .collect();
        let snapshot = Arc::new(SkillSnapshot {
            skills: next.skills,
            tools,
            listed: next.listed,
            problems,
            generation: old.generation + 1,
            specs,
            script_skills,
        });
        self.current.store(snapshot.clone());
        self.changes.send_replace(snapshot.generation);
        snapshot
    }

    /// Reads and loads skill `id` from `path` into `next`. A skill whose `SKILL.md` reads is
    /// listed even when its component fails; a failed reload keeps the previous version.
    async fn load_into(&self, next: &mut Next, old: &SkillSnapshot, id: &str, path: &Path) {
        let loaded = match SkillDir::load(path) {
            Err(err) => Err(err),
            Ok(dir) => match self.runs_here(&dir) {
                Err(skipped) => Err(skipped),
                Ok(()) if dir.source == ComponentSource::Instructions => {
                    // Instructions only: on the card and in the prompt, with no tools.
                    log_warnings(id, &dir);
                    next.listed.insert(id.to_owned(), dir);
                    return;
                }
                Ok(()) => {
                    // SKILL.md problems are reported whatever happens to the component.
                    log_warnings(id, &dir);
                    next.listed.insert(id.to_owned(), dir.clone());
                    self.load_one(dir).await
                }
            },
        };
        match loaded {
            Ok(skill) => {
                if old.skills.contains_key(id) {
                    crate::metrics::global().component_swapped("skill");
                }
                next.skills.insert(id.to_owned(), Arc::new(skill));
            }
            Err(err) => {
                let text = format!("{err:#}");
                tracing::error!(skill = %id, error = %text, "skill failed to load");
                next.problems.insert(id.to_owned(), text);
                // A failed reload keeps the previous version serving (and listed).
                if let Some(previous) = old.skills.get(id) {
                    next.skills.insert(id.to_owned(), previous.clone());
                    next.listed
                        .entry(id.to_owned())
                        .or_insert_with(|| previous.dir.clone());
                }
            }
        }
    }

    async fn load_one(&self, skill_dir: SkillDir) -> anyhow::Result<LoadedSkill> {
        let wasm_path = match &skill_dir.source {
            ComponentSource::Prebuilt(path) => path.clone(),
            ComponentSource::Instructions => {
                anyhow::bail!("{} has no tool component", skill_dir.dir.display())
            }
            ComponentSource::Python(dir) => {
                let grants = self.policy.grants_for(&skill_dir)?;
                let python = self.builder.python();
                let component = crate::python::load_skill(&self.host, python, dir, &grants).await?;
                return Ok(LoadedSkill::new(skill_dir, component));
            }
            ComponentSource::JavaScript(dir) => {
                let grants = self.policy.grants_for(&skill_dir)?;
                let component =
                    crate::javascript::load_skill(&self.host, &self.builder, dir, &grants).await?;
                return Ok(LoadedSkill::new(skill_dir, component));
            }
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
        Ok(LoadedSkill::new(skill_dir, component))
    }
}

/// The next snapshot's contents, while it is being assembled.
#[derive(Default)]
struct Next {
    skills: BTreeMap<String, Arc<LoadedSkill>>,
    listed: BTreeMap<String, SkillDir>,
    problems: BTreeMap<String, String>,
}

impl Next {
    /// Carries skill `id` over from `old` unchanged.
    fn keep(&mut self, old: &SkillSnapshot, id: &str) {
        if let Some(skill) = old.skills.get(id) {
            self.skills.insert(id.to_owned(), skill.clone());
        }
        if let Some(dir) = old.listed.get(id) {
            self.listed.insert(id.to_owned(), dir.clone());
        }
        if let Some(problem) = old.problems.get(id) {
            self.problems.insert(id.to_owned(), problem.clone());
        }
    }
}

/// Logs the problems found in a skill's `SKILL.md` (each names the file and line).
fn log_warnings(id: &str, dir: &SkillDir) {
    for warning in &dir.warnings {
        tracing::warn!(skill = %crate::redact::escape(id), "{}", crate::redact::escape(warning));
    }
}
