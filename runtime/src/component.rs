//! Loading components: compile (through the cache), link-check against the host's linker,
//! pre-instantiate once per component version, and ask a skill which tools it offers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};

use crate::bindings::adapter::AdapterPre;
use crate::bindings::skill::SkillPre;
use crate::cache::{CacheOutcome, CompiledCache};
use crate::engine::WasmEngine;
use crate::grants::Grants;
use crate::link_check::{self, LinkProblem};
pub use crate::loaded::{AdapterComponent, SkillComponent};
use crate::sandbox::{self, Sandbox};
use crate::state::HostState;

/// The engine, the linker with every host interface, and the compiled-code cache.
/// Built once per process; cheap to share behind an `Arc`.
pub struct ComponentHost {
    engine: Arc<WasmEngine>,
    linker: Linker<HostState>,
    cache: CompiledCache,
    /// Components shared by many skills (the Python interpreter), compiled and
    /// pre-instantiated once per process: memo key → (wasm digest, pre-instance).
    shared: Mutex<HashMap<String, (String, SkillPre<HostState>)>>,
}

/// A component that failed the link check.
#[derive(Debug, thiserror::Error)]
#[error("{origin} does not link: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct LinkError {
    /// The component's origin (file or skill).
    pub origin: String,
    /// Every unsatisfied import.
    pub problems: Vec<LinkProblem>,
}

impl ComponentHost {
    /// Builds the linker (WASI denied by default plus the molecule interfaces).
    pub fn new(engine: Arc<WasmEngine>, cache: CompiledCache) -> anyhow::Result<Self> {
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("adding WASI to the linker")?;
        molecule_egress::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("adding wasi:http to the linker")?;
        crate::capabilities::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("adding the molecule interfaces to the linker")?;
        Ok(ComponentHost {
            engine,
            linker,
            cache,
            shared: Mutex::new(HashMap::new()),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// The compiled-code cache.
    pub fn cache(&self) -> &CompiledCache {
        &self.cache
    }

    /// Compiles `wasm` (or loads it from the cache). `origin` names it in errors.
    pub fn compile(&self, wasm: &[u8], origin: &str) -> anyhow::Result<(Component, CacheOutcome)> {
        self.cache.load(self.engine.engine(), wasm, origin)
    }

    /// Every import of `component` this host does not satisfy.
    pub fn link_check(&self, component: &Component) -> Vec<LinkProblem> {
        link_check::unsatisfied_imports(&self.linker, self.engine.engine(), component)
    }

    /// Compiles, link-checks and pre-instantiates an adapter, then asks its name.
    pub async fn load_adapter(
        &self,
        wasm: &[u8],
        grants: Arc<Grants>,
    ) -> anyhow::Result<AdapterComponent> {
        let label = grants.component().to_owned();
        let (component, cache) = self.compile(wasm, &label)?;
        let pre = self.pre_instantiate(&component, &label, "agent", AdapterPre::new)?;
        let calls_model = component
            .component_type()
            .imports(self.engine.engine())
            .any(|(name, _)| is_llm_interface(name));
        let mut adapter = AdapterComponent {
            label,
            digest: hex::encode(Sha256::digest(wasm)),
            name: String::new(),
            cache,
            calls_model,
            pre,
            grants,
        };
        adapter.name = Sandbox::new(self.engine.clone())
            .adapter_name(&adapter)
            .await
            .with_context(|| format!("asking {} for its name", adapter.label))?;
        Ok(adapter)
    }

    /// Link-checks `component`, pre-instantiates it and checks it exports the world's
    /// `interface` (`tool` or `agent`) through the world's `new` (e.g. `SkillPre::new`).
    fn pre_instantiate<P>(
        &self,
        component: &Component,
        label: &str,
        interface: &str,
        new: impl FnOnce(wasmtime::component::InstancePre<HostState>) -> wasmtime::Result<P>,
    ) -> anyhow::Result<P> {
        let problems = self.link_check(component);
        if !problems.is_empty() {
            return Err(LinkError {
                origin: label.to_owned(),
                problems,
            }
            .into());
        }
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("pre-instantiating {label}"))?;
        new(pre).map_err(anyhow::Error::from).with_context(|| {
            format!("{label} does not export the molecule `{interface}` interface")
        })
    }

    /// Compiles, link-checks and pre-instantiates a skill, then asks it for its tools (in a
    /// sandbox with `grants`' limits).
    pub async fn load_skill(
        &self,
        wasm: &[u8],
        grants: Arc<Grants>,
    ) -> anyhow::Result<SkillComponent> {
        let label = grants.component().to_owned();
        let (component, cache) = self.compile(wasm, &label)?;
        let pre = self.pre_instantiate(&component, &label, "tool", SkillPre::new)?;
        let skill = SkillComponent {
            label,
            digest: hex::encode(Sha256::digest(wasm)),
            tools: Vec::new(),
            cache,
            pre,
            grants,
        };
        self.with_tools(skill).await
    }
}

impl ComponentHost {
    /// Like [`ComponentHost::load_skill`] for a component many skills share (the Python
    /// interpreter): the wasm file at `wasm` is read, compiled and pre-instantiated once per
    /// process under the memo `key` (e.g. the interpreter's input key), and every later load
    /// with that key only describes it under its own `grants` (a few milliseconds, no extra
    /// copy of the compiled code in memory). Calls still get a fresh store and instance each.
    pub async fn load_shared_skill(
        &self,
        key: &str,
        wasm: &Path,
        grants: Arc<Grants>,
    ) -> anyhow::Result<SkillComponent> {
        let label = grants.component().to_owned();
        let memo = self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        let (digest, pre, cache) = match memo {
            Some((digest, pre)) => (digest, pre, CacheOutcome::Hit),
            None => {
                let origin = wasm.display().to_string();
                // The key names the sources; the file's size and time tell a rebuilt file.
                let meta = std::fs::metadata(wasm)
                    .with_context(|| format!("reading {}", wasm.display()))?;
                let stamp = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                let content_key = format!("{key}:{}:{stamp}", meta.len());
                let read =
                    || std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()));
                let (component, cache) =
                    self.cache
                        .load_keyed(self.engine.engine(), &content_key, &read, &origin)?;
                let pre = self.pre_instantiate(&component, &origin, "tool", SkillPre::new)?;
                let digest = content_key;
                self.shared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key.to_owned(), (digest.clone(), pre.clone()));
                (digest, pre, cache)
            }
        };
        let skill = SkillComponent {
            label,
            digest,
            tools: Vec::new(),
            cache,
            pre,
            grants,
        };
        self.with_tools(skill).await
    }

    /// `skill` with the tools it describes, checked (names, sizes) before anything uses them.
    async fn with_tools(&self, mut skill: SkillComponent) -> anyhow::Result<SkillComponent> {
        skill.tools = match Sandbox::new(self.engine.clone()).describe(&skill).await {
            Ok(tools) => tools,
            // A guest that says why on stderr and then traps (the Python interpreter and the
            // JavaScript engine on a skill that does not load) failed to load, not crashed.
            Err(sandbox::CallError::Trap { reason, stderr })
                if reason.contains("unreachable") && !stderr.trim().is_empty() =>
            {
                anyhow::bail!(
                    "{} failed to load: {}",
                    skill.label,
                    crate::redact::escape_keep_lines(stderr.trim())
                )
            }
            Err(err) => {
                return Err(err).with_context(|| format!("asking {} for its tools", skill.label))
            }
        };
        // Budgets first, before any per-tool work: a refused answer is dropped here.
        let budgets = skill.grants.limits().budgets;
        crate::describe::check_specs(&skill.label, &skill.tools, &budgets)?;
        Ok(skill)
    }
}

/// `molecule:runtime/llm`, with or without a version.
fn is_llm_interface(import: &str) -> bool {
    let name = import.split('@').next().unwrap_or(import);
    name == "molecule:runtime/llm"
}
