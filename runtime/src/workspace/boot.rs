//! Boot: turns a [`Plan`] into a running workspace in the contract's order — stores, skills
//! stubs and the Agent Card first, then the adapter (whose setup failure leaves the workspace
//! serving but "not configured"), then the skills, the A2A server and the watchers.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use molecule_a2a::{A2aServer, CardHandle, Retention, TaskStore};
use molecule_config::{system_prompt, Plugin, PromptParts, PromptSkill};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::card::{build_card, CardInfo};
use super::executor::AdapterExecutor;
use super::peers::PlatformPeers;
use super::platform::{
    join, memory_backend, platform_card, platform_client, pull_secrets, JoinOptions, PlatformLink,
    ReportingMemory,
};
use super::policy::ConfigPolicy;
use super::reload::{watch_skills, FolderWatcher, DEBOUNCE};
use super::skills::{SkillFilter, SkillRegistry, SkillSnapshot};
use super::tools::Builtins;
use crate::builder::ComponentBuilder;
use crate::capabilities::llm::model_access;
use crate::capabilities::memory::MemoryBackend;
use crate::component::{AdapterComponent, ComponentHost};
use crate::grants::Grants;
use crate::limits::SandboxLimits;
use crate::plan::Plan;
use crate::sandbox::Sandbox;
use molecule_platform::{ActivityConfig, ActivityReporter, PlatformClient};

/// What boot needs besides the plan.
#[derive(Clone)]
pub struct BootDeps {
    /// The component host (engine, linker, compiled-code cache).
    pub host: Arc<ComponentHost>,
    /// Builds component crates.
    pub builder: ComponentBuilder,
    /// The model gateway, or why there is none (the workspace is then not configured).
    pub gateway: Result<Arc<molecule_llm::Gateway>, String>,
    /// Use an in-memory task store (tests).
    pub in_memory_tasks: bool,
}

/// A workspace serving A2A.
pub struct RunningWorkspace {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// The skills.
    pub skills: Arc<SkillRegistry>,
    /// Why the workspace is not configured, if it is not.
    pub not_configured: Option<String>,
    /// The card handle (updated when skills change).
    pub card: CardHandle,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    store: TaskStore,
    _watchers: Vec<FolderWatcher>,
    _card_task: JoinHandle<()>,
    _platform: Option<PlatformLink>,
}

impl RunningWorkspace {
    /// Stops serving, waits for the server to finish and for every queued task-store write
    /// to reach the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.server).await.context("server task")??;
        self.store.flush().await.context("writing the task store")?;
        Ok(())
    }

    /// Serves until `stop` completes (then shuts down gracefully) or the server ends.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let stopped = tokio::select! {
            _ = stop => true,
            result = &mut self.server => {
                result.context("server task")??;
                false
            }
        };
        if stopped {
            self.shutdown().await?;
        }
        Ok(())
    }
}

/// `run_code` for adapters when config.yaml's `tools:` lists it: Python snippets on the shared
/// interpreter under the `sandbox` limits, with no capability beyond `log`.
fn code_runner(plan: &Plan, deps: &BootDeps) -> Option<crate::python::run::CodeRunner> {
    let tools = &plan.config.tools;
    if !tools.iter().any(|t| t == super::tools::RUN_CODE) {
        return None;
    }
    let sandbox = &plan.config.sandbox;
    let limits = SandboxLimits {
        memory_bytes: usize::try_from(sandbox.memory_limit).unwrap_or(usize::MAX),
        timeout: sandbox.timeout.max(std::time::Duration::from_millis(10)),
        ..SandboxLimits::default()
    };
    Some(crate::python::run::CodeRunner::new(
        deps.host.clone(),
        deps.builder.python().clone(),
        limits,
    ))
}

/// `<data dir>/scratch`, where each task's `/scratch` folder is made; emptied at boot (what a
/// killed process left behind).
fn scratch_root(plan: &Plan) -> std::path::PathBuf {
    let root = plan.data_dir.join("scratch");
    let _ = std::fs::remove_dir_all(&root);
    if let Err(err) = std::fs::create_dir_all(&root) {
        tracing::warn!(dir = %root.display(), error = %err, "cannot create the scratch folder");
    }
    root
}

/// Boots the workspace described by `plan`, serving on `listener`.
pub async fn boot(
    plan: Plan,
    deps: BootDeps,
    listener: TcpListener,
) -> anyhow::Result<RunningWorkspace> {
    let plan = Arc::new(plan);
    let addr = listener.local_addr()?;
    std::fs::create_dir_all(&plan.data_dir)
        .with_context(|| format!("creating data folder {}", plan.data_dir.display()))?;
    let (platform, admin_token) = match platform_client(&plan).await? {
        Some((client, admin)) => (Some(client), admin),
        None => (None, None),
    };
    let activity = platform
        .clone()
        .map(|client| ActivityReporter::spawn(client, ActivityConfig::default()));
    let memory = memory_backend(&plan, platform.as_ref())?;
    let memory: Arc<dyn MemoryBackend> = match &activity {
        Some(activity) => Arc::new(ReportingMemory::new(memory, activity.clone())),
        None => memory,
    };
    let peers = platform.clone().map(PlatformPeers::new);
    let poker = Arc::new(std::sync::OnceLock::new());
    let coordinator = Arc::new(std::sync::atomic::AtomicBool::new(
        !plan.config.sub_workspaces.is_empty(),
    ));
    let store = if deps.in_memory_tasks {
        TaskStore::in_memory(Retention::default())?
    } else {
        TaskStore::open(&plan.data_dir.join("tasks.sqlite"), Retention::default())?
    };

    let metrics_store = store.clone();
    let flush_store = store.clone();
    crate::metrics::global(); // uptime counts from the first boot

    // The card is built from the skill folders before the adapter is set up.
    let info = card_info(&plan, addr);
    let folders = plan_registry(
        &plan,
        deps.host.clone(),
        deps.builder.clone(),
        Arc::new(super::skills::GrantNothing),
    )
    .read_folders();
    let card = CardHandle::new(build_card(&info, &folders));

    // An external workspace registers first (with the admin token) to receive its own token,
    // which it needs to pull its secrets.
    if let (Some(client), Some(admin)) = (&platform, &admin_token) {
        if client.tokens().get().is_none() {
            let request = molecule_platform::RegisterRequest {
                id: client.workspace_id().to_owned(),
                url: info.url.clone(),
                agent_card: platform_card(&card.get(), &info.url, None),
            };
            if let Err(err) = client.register_external(admin, &request).await {
                tracing::error!(error = %err, "external registration failed; serving anyway");
            }
        }
    }
    let secrets = match &platform {
        Some(client) => pull_secrets(client).await,
        None => Default::default(),
    };
    let skills = Arc::new(skill_registry_with(&plan, &deps, &memory, secrets));
    let snapshot = skills.load_all().await;
    card.set(build_card(&info, snapshot.listed.values()));
    let adapter_config = Arc::new(ArcSwap::from_pointee(
        plan.adapter_config(&prompt_for(&plan, &snapshot)),
    ));

    let sandbox = Sandbox::new(deps.host.engine().clone());
    let loaded = load_adapter(&plan, &deps, &memory).await;
    let ready: Result<AdapterComponent, String> = match loaded {
        Err(err) => Err(format!("{err:#}")),
        Ok(adapter) => match needs_model(&adapter, &deps.gateway) {
            Some(reason) => Err(reason),
            None => match sandbox
                .setup_adapter(&adapter, adapter.grants(), &adapter_config.load())
                .await
            {
                Ok(Ok(())) => Ok(adapter),
                Ok(Err(reason)) => Err(format!("adapter setup failed: {reason}")),
                Err(err) => Err(format!("adapter setup crashed: {err}")),
            },
        },
    };
    let mut watchers = vec![watch_skills(skills.clone(), DEBOUNCE)?];
    let (server, not_configured) = match ready {
        Ok(adapter) => {
            let slot = Arc::new(ArcSwap::from_pointee(adapter));
            let reloader = super::adapter_reload::AdapterReloader {
                plan: plan.clone(),
                deps: deps.clone(),
                memory: memory.clone(),
                slot: slot.clone(),
                config: adapter_config.clone(),
            };
            if let Some(watcher) = reloader.watch()? {
                watchers.push(watcher);
            }
            let executor = AdapterExecutor::new(
                sandbox,
                slot,
                adapter_config.clone(),
                skills.clone(),
                Builtins {
                    memory: Some(memory.clone()),
                    peers: peers.clone(),
                    activity: activity.clone(),
                    coordinator: coordinator.clone(),
                    heartbeat: poker.clone(),
                    code: code_runner(&plan, &deps),
                    scratch_root: Some(scratch_root(&plan)),
                },
                store.clone(),
                deps.gateway.clone(),
            );
            (
                A2aServer::new(card.clone(), Arc::new(executor), store),
                None,
            )
        }
        Err(reason) => {
            let reason = redact(&reason);
            tracing::error!(%reason, "workspace is NOT configured; serving the card only");
            (
                A2aServer::not_configured(card.clone(), reason.clone()),
                Some(reason),
            )
        }
    };
    let configured_secret = super::operate::inbound_secret(&plan);
    let keep_secret = configured_secret.is_some();
    let server = server.with_bearer_secret(configured_secret);
    let link = platform.map(|client| {
        let url = info.url.clone();
        let card_now = platform_card(&card.get(), &url, not_configured.as_deref());
        join(
            &plan,
            client,
            card_now,
            &server,
            JoinOptions {
                keep_configured_secret: keep_secret,
                coordinator: coordinator.clone(),
                poker: poker.clone(),
                admin_token: admin_token.clone(),
            },
        )
    });
    let card_client = link
        .as_ref()
        .map(|l| (l.client.clone(), not_configured.clone()));
    if let Err(err) = server.fail_unfinished_tasks().await {
        tracing::warn!(error = %err, "could not mark tasks left by a previous run as failed");
    }

    let plugins = Arc::new(ArcSwap::from_pointee(plan.plugins.plugins.clone()));
    watchers.push(super::prompt_reload::watch_prompt_sources(
        plan.clone(),
        skills.clone(),
        plugins.clone(),
        adapter_config.clone(),
    )?);
    let card_task = follow_skill_changes(
        skills.clone(),
        card.clone(),
        info,
        plan.clone(),
        adapter_config,
        card_client,
        plugins,
    );
    let (tx, rx) = oneshot::channel::<()>();
    let server_task = tokio::spawn(super::operate::serve(
        server,
        metrics_store,
        listener,
        async move {
            let _ = rx.await;
        },
    ));
    Ok(RunningWorkspace {
        addr,
        skills,
        not_configured,
        card,
        shutdown: Some(tx),
        server: server_task,
        store: flush_store,
        _watchers: watchers,
        _card_task: card_task,
        _platform: link,
    })
}

fn card_info(plan: &Plan, addr: SocketAddr) -> CardInfo {
    let c = &plan.config;
    let url = plan
        .env
        .workspace_url
        .clone()
        .or_else(|| plan.env.advertised_url(addr.port()))
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", addr.port()));
    CardInfo {
        name: c.name.clone(),
        description: c.description.clone(),
        version: c.version.clone(),
        url,
        streaming: c.a2a.streaming,
    }
}

/// The workspace's skill registry: `skills/` plus plugin skills, filtered by config.yaml
/// `skills:` and the adapter, with grants from config.yaml (also used by smoke mode).
pub(crate) fn skill_registry(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
) -> SkillRegistry {
    skill_registry_with(plan, deps, memory, Default::default())
}

/// Like [`skill_registry`], with `secrets` (from the platform) added to the values granted
/// skills can receive; they never enter the process environment.
fn skill_registry_with(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
    secrets: std::collections::BTreeMap<String, String>,
) -> SkillRegistry {
    let mut values = env_values();
    values.extend(secrets);
    let mut policy = ConfigPolicy::new(plan.config.clone(), Some(memory.clone()), values);
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
    policy: Arc<dyn super::skills::GrantPolicy>,
) -> SkillRegistry {
    SkillRegistry::new(host, builder, policy, plan.skill_roots.clone())
        .with_extra_dirs(
            plan.plugins
                .plugins
                .iter()
                .flat_map(|p| p.skill_dirs.clone())
                .collect(),
        )
        .with_filter(SkillFilter {
            only: (!plan.config.skills.is_empty()).then(|| plan.config.skills.clone()),
            runtime: Some(plan.config.runtime.clone()),
        })
}

/// The system prompt for the current skills.
pub(crate) fn prompt_for(plan: &Plan, snapshot: &SkillSnapshot) -> String {
    prompt_with(plan, &plan.plugins.plugins, snapshot)
}

/// The system prompt for the current skills and `plugins`.
pub(crate) fn prompt_with(plan: &Plan, plugins: &[Plugin], snapshot: &SkillSnapshot) -> String {
    // Loaded skills, plus instructions-only skills (listed, with no component to load).
    let instructions = snapshot.listed.values().filter(|dir| {
        dir.source == crate::skill::ComponentSource::Instructions
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

/// Builds (if needed), compiles and link-checks the adapter, with its grants.
pub(crate) async fn load_adapter(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
) -> anyhow::Result<AdapterComponent> {
    let runtime = &plan.adapter.runtime;
    let path = plan.adapter.path.clone().with_context(|| {
        format!("unknown runtime `{runtime}`: not a built-in adapter, a .wasm file or a crate")
    })?;
    let wasm_path = if path.is_file() {
        path
    } else {
        let builder = deps.builder.clone();
        tokio::task::spawn_blocking(move || builder.build(&path))
            .await
            .context("adapter build task")??
            .wasm
    };
    let wasm = tokio::fs::read(&wasm_path)
        .await
        .with_context(|| format!("reading {}", wasm_path.display()))?;
    let limits = SandboxLimits {
        memory_bytes: usize::try_from(plan.config.sandbox.memory_limit).unwrap_or(usize::MAX),
        timeout: plan
            .config
            .runtime_config
            .timeout
            .unwrap_or(std::time::Duration::from_secs(600)),
        ..SandboxLimits::default()
    };
    let grants = Grants::builder(format!("adapter {runtime}"))
        .heartbeat(Arc::new(crate::liveness::LivenessBackend))
        .grant_hint("config.yaml")
        .limits(limits)
        .memory(memory.clone())
        .llm(model_access(&deps.gateway, "setup"));
    let adapter = deps.host.load_adapter(&wasm, grants.build()).await?;
    if adapter.name != *runtime && !runtime.contains('/') && !runtime.ends_with(".wasm") {
        tracing::warn!(adapter = %adapter.name, runtime = %runtime, "adapter name differs from `runtime`");
    }
    Ok(adapter)
}

/// Why the workspace cannot serve without a model: only an adapter that imports `llm` needs
/// one. An adapter that never calls the model runs without; were it to call, the call would
/// fail at once with `reason` (see [`model_access`]).
fn needs_model(
    adapter: &AdapterComponent,
    gateway: &Result<Arc<molecule_llm::Gateway>, String>,
) -> Option<String> {
    let reason = gateway.as_ref().err()?;
    if adapter.calls_model {
        return Some(format!(
            "{reason}; the `{}` adapter calls the model (it imports `molecule:runtime/llm`)",
            adapter.name
        ));
    }
    tracing::warn!(%reason, adapter = %adapter.name, "serving without a model: this adapter does not call one");
    None
}

/// Values for granted env vars and secrets: the host's environment.
fn env_values() -> std::collections::BTreeMap<String, String> {
    std::env::vars().collect()
}

/// Hides anything that looks like a credential before a reason leaves the process.
pub fn redact(text: &str) -> String {
    crate::redact::redact(text)
}

/// Keeps the card and the adapter's system prompt in step with the skills.
/// When the workspace joined a platform, every card change is sent with `update-card`.
fn follow_skill_changes(
    skills: Arc<SkillRegistry>,
    card: CardHandle,
    info: CardInfo,
    plan: Arc<Plan>,
    adapter_config: Arc<ArcSwap<String>>,
    platform: Option<(PlatformClient, Option<String>)>,
    plugins: Arc<ArcSwap<Vec<Plugin>>>,
) -> JoinHandle<()> {
    let mut changes = skills.subscribe();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let snapshot = skills.snapshot();
            let new_card = build_card(&info, snapshot.listed.values());
            if let Some((client, not_configured)) = &platform {
                let card = platform_card(&new_card, &info.url, not_configured.as_deref());
                if let Err(err) = client.update_card(&card).await {
                    tracing::warn!(error = %err, "could not send the new card to the platform");
                }
            }
            card.set(new_card);
            let prompt = prompt_with(&plan, &plugins.load(), &snapshot);
            adapter_config.store(Arc::new(plan.adapter_config(&prompt)));
        }
    })
}
