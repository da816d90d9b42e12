//! Joining the Molecule platform (startup steps 11–12): register with the Agent Card, keep
//! heartbeats going, follow the inbound secret the platform hands out, and send `update-card`
//! whenever the card changes. Registration runs in the background: an unreachable platform
//! never stops the workspace from serving, and the heartbeat loop re-registers when the
//! platform forgot the workspace.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use molecule_a2a::types::AgentCard as A2aCard;
use molecule_a2a::A2aServer;
use molecule_platform::{
    AgentCard, CardCapabilities, CardSkill, ConfigurationStatus, HeartbeatLoop, HeartbeatPoker,
    HeartbeatStatus, IdleHandle, IdleLoop, InitialPrompt, PlatformClient, RegisterRequest,
};
use tokio::task::JoinHandle;

use super::peers::PlatformPeers;
use crate::capabilities::memory::{AwarenessMemory, MemoryBackend, PlatformMemory, SqliteMemory};
use crate::plan::Plan;

/// A live connection to the platform; dropping it stops the heartbeats.
pub struct PlatformLink {
    /// The client (also used by memory, peers and delegation).
    pub client: PlatformClient,

    task: JoinHandle<()>,
}

/// The platform's view of an A2A card.
pub fn platform_card(card: &A2aCard, url: &str, not_configured: Option<&str>) -> AgentCard {
    AgentCard {
        name: card.name.clone(),
        description: card.description.clone(),
        version: card.version.clone(),
        url: url.to_owned(),
        skills: card
            .skills
            .iter()
            .map(|s| CardSkill {
                id: s.id.clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                tags: s.tags.clone(),
            })
            .collect(),
        capabilities: CardCapabilities {
            streaming: card.capabilities.streaming.unwrap_or(false),
            push_notifications: card.capabilities.push_notifications.unwrap_or(false),
        },
        configuration_status: if not_configured.is_some() {
            ConfigurationStatus::NotConfigured
        } else {
            ConfigurationStatus::Ready
        },
        configuration_error: not_configured.map(str::to_owned),
        extra: Default::default(),
    }
}

/// How [`join`] ties into the rest of the workspace.
pub struct JoinOptions {
    /// Keep the inbound secret from config instead of the platform's.
    pub keep_configured_secret: bool,
    /// Set when the platform lists children of this workspace.
    pub coordinator: Arc<AtomicBool>,
    /// Filled with the heartbeat poker once the loop runs.
    pub poker: Arc<OnceLock<HeartbeatPoker>>,
    /// The admin token of an external workspace (first registration).
    pub admin_token: Option<String>,
}

/// Registers, then starts the heartbeat loop and keeps the server's inbound secret in step
/// with the platform's — all in the background, so an unreachable platform never delays
/// serving. Beats start after registration, so every one carries the workspace's token.
pub fn join(
    plan: &Plan,
    client: PlatformClient,
    card: AgentCard,
    server: &A2aServer,
    options: JoinOptions,
) -> PlatformLink {
    let JoinOptions {
        keep_configured_secret,
        coordinator,
        poker,
        admin_token,
    } = options;
    let request = RegisterRequest {
        id: client.workspace_id().to_owned(),
        url: card.url.clone(),
        agent_card: card,
    };
    let interval = plan.config.observability.heartbeat_interval;
    let prompt_plan = PromptPlan::of(plan);
    let (link_client, server) = (client.clone(), server.clone());
    let task = tokio::spawn(async move {
        let registered = match &admin_token {
            Some(admin) => client.register_external(admin, &request).await,
            None => client.register(&request).await,
        };
        match registered {
            Ok(_) => tracing::info!(platform = client.base_url(), "registered with the platform"),
            Err(err) => {
                tracing::error!(error = %err, "registration failed; serving anyway, heartbeats will retry")
            }
        }
        // A workspace with children is a coordinator: it gets delegation tools, not work tools.
        if PlatformPeers::new(client.clone()).has_children().await {
            coordinator.store(true, Ordering::Relaxed);
            tracing::info!("this workspace has children: coordinator mode (delegation only)");
        }
        let source = Arc::new(|| {
            let liveness = crate::liveness::global();
            let wedged = liveness.wedged();
            HeartbeatStatus {
                active_tasks: u32::try_from(crate::metrics::global().tasks_active().max(0))
                    .unwrap_or(0),
                current_task: liveness.current_task(),
                wedged: wedged.is_some(),
                sample_error: wedged,
                ..HeartbeatStatus::default()
            }
        });
        let heartbeat = HeartbeatLoop::new(client.clone(), source, interval).spawn();
        let _ = poker.set(heartbeat.poker());
        let _idle = prompts(&prompt_plan, &client).await;
        let mut secrets = heartbeat.inbound_secret();
        loop {
            if let Some(secret) = secrets.borrow_and_update().clone() {
                if !keep_configured_secret {
                    server.set_bearer_secret(Some(secret));
                }
            }
            if secrets.changed().await.is_err() {
                break;
            }
        }
        drop(heartbeat);
    });
    PlatformLink {
        client: link_client,
        task,
    }
}

/// The initial and idle prompts of the config, resolved.
struct PromptPlan {
    config_dir: std::path::PathBuf,
    initial: Option<String>,
    idle: Option<String>,
    idle_interval: std::time::Duration,
}

impl PromptPlan {
    fn of(plan: &Plan) -> Self {
        let c = &plan.config;
        let read = |text: &Option<String>, file: &Option<std::path::PathBuf>| {
            text.clone()
                .or_else(|| file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()))
                .filter(|t| !t.trim().is_empty())
        };
        PromptPlan {
            config_dir: c.config_dir.clone(),
            initial: read(&c.initial_prompt, &c.initial_prompt_file),
            idle: read(&c.idle_prompt, &c.idle_prompt_file),
            idle_interval: c.idle_interval,
        }
    }
}

/// Sends the initial prompt once (its marker file is written first) and starts the idle
/// loop, both through the platform's A2A proxy to this workspace itself.
async fn prompts(plan: &PromptPlan, client: &PlatformClient) -> Option<IdleHandle> {
    if let Some(prompt) = &plan.initial {
        let sender = client.clone();
        let outcome = InitialPrompt::new(&plan.config_dir, prompt.clone())
            .run(|text| async move { sender.send_to_self(&text).await.map(|_| ()) })
            .await;
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "initial prompt not sent");
        }
    }
    let prompt = plan.idle.clone()?;
    let sender = client.clone();
    Some(IdleLoop::new(prompt, plan.idle_interval).spawn(
        || crate::metrics::global().tasks_active() == 0,
        move |text| {
            let sender = sender.clone();
            async move { sender.send_to_self(&text).await.map(|_| ()) }
        },
    ))
}

impl Drop for PlatformLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The workspace's secrets from the platform (external workspaces), kept in memory only.
pub(crate) async fn pull_secrets(
    client: &PlatformClient,
) -> std::collections::BTreeMap<String, String> {
    if client.tokens().get().is_none() {
        return Default::default();
    }
    match tokio::time::timeout(std::time::Duration::from_secs(5), client.fetch_secrets()).await {
        Ok(Ok(secrets)) => secrets.0,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not pull secrets from the platform");
            Default::default()
        }
        Err(_) => {
            tracing::warn!("pulling secrets from the platform timed out");
            Default::default()
        }
    }
}

/// The platform client when `PLATFORM_URL` is set: for `WORKSPACE_ID`, or — external
/// workspace mode — for a workspace created with `MOLECULE_ADMIN_TOKEN` (its id is kept in
/// `<configs>/.workspace_id` so restarts reuse it). Also returns the admin token for the first
/// registration of an external workspace.
pub(crate) async fn platform_client(
    plan: &Plan,
) -> anyhow::Result<Option<(PlatformClient, Option<String>)>> {
    let Some(url) = plan.env.platform_url.clone() else {
        return Ok(None);
    };
    let admin = plan.env.get("MOLECULE_ADMIN_TOKEN").map(str::to_owned);
    let id = match (&plan.env.workspace_id, &admin) {
        (Some(id), _) => id.clone(),
        (None, Some(admin)) => external_workspace_id(plan, &url, admin).await?,
        (None, None) => anyhow::bail!(
            "PLATFORM_URL is set but WORKSPACE_ID is not: set WORKSPACE_ID, or set \
             MOLECULE_ADMIN_TOKEN to create an external workspace"
        ),
    };
    let client = PlatformClient::builder(url, id)
        .configs_dir(plan.config.config_dir.clone())
        .env_token(plan.env.workspace_token.clone())
        .build()?;
    Ok(Some((client, admin)))
}

/// The id of this external workspace: saved by an earlier run, or created now.
async fn external_workspace_id(plan: &Plan, url: &str, admin: &str) -> anyhow::Result<String> {
    let saved = plan.config.config_dir.join(".workspace_id");
    if let Ok(id) = std::fs::read_to_string(&saved) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_owned());
        }
    }
    let body = serde_json::json!({
        "name": plan.config.name,
        "runtime": "external",
        "external": true,
        "url": plan.env.workspace_url,
    });
    let id = molecule_platform::create_workspace(url, admin, &body).await?;
    molecule_platform::write_private_atomic(&saved, id.as_bytes())
        .map_err(|e| anyhow::anyhow!("saving {}: {e}", saved.display()))?;
    tracing::info!(workspace = %id, "created external workspace");
    Ok(id)
}

/// Awareness when `AWARENESS_URL` is set, else the platform's memories when joined, else the
/// embedded SQLite store.
pub(crate) fn memory_backend(
    plan: &Plan,
    platform: Option<&PlatformClient>,
) -> anyhow::Result<Arc<dyn MemoryBackend>> {
    if let Some(url) = &plan.env.awareness_url {
        let namespace = plan
            .env
            .awareness_namespace
            .clone()
            .unwrap_or_else(|| "workspace:standalone".into());
        return Ok(Arc::new(AwarenessMemory::new(url, &namespace)?));
    }
    if let Some(client) = platform {
        return Ok(Arc::new(PlatformMemory::new(client.clone())));
    }
    Ok(Arc::new(SqliteMemory::open(
        &plan.data_dir.join("memory.sqlite"),
    )?))
}

/// Wraps a memory backend so every write is reported to the platform as `memory_write`
/// (summary `"[SCOPE] <first 80 chars>"`), whoever wrote it: a skill or an adapter.
pub struct ReportingMemory {
    inner: Arc<dyn MemoryBackend>,
    activity: molecule_platform::ActivityReporter,
}

impl ReportingMemory {
    /// Reports writes to `inner` through `activity`.
    pub fn new(
        inner: Arc<dyn MemoryBackend>,
        activity: molecule_platform::ActivityReporter,
    ) -> Self {
        ReportingMemory { inner, activity }
    }
}

#[async_trait::async_trait]
impl MemoryBackend for ReportingMemory {
    async fn commit(
        &self,
        content: &str,
        scope: crate::bindings::imports::molecule::runtime::memory::Scope,
    ) -> Result<String, crate::bindings::HostError> {
        let id = self.inner.commit(content, scope).await?;
        let head: String = content.chars().take(80).collect();
        let scope = crate::capabilities::memory::scope_name(scope);
        self.activity.report(
            molecule_platform::ActivityType::MemoryWrite,
            format!("[{scope}] {head}"),
        );
        Ok(id)
    }

    async fn search(
        &self,
        query: &str,
        scope: Option<crate::bindings::imports::molecule::runtime::memory::Scope>,
        limit: u32,
    ) -> Result<
        Vec<crate::bindings::imports::molecule::runtime::memory::MemoryEntry>,
        crate::bindings::HostError,
    > {
        self.inner.search(query, scope, limit).await
    }
}
