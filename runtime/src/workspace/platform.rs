//! Joining the Molecule platform (startup steps 11–12): register with the Agent Card, keep
//! heartbeats going, require the inbound secret the platform hands out (the last one is kept
//! across restarts, see `platform_secrets.rs`), pull the workspace's secrets, and check whether
//! this workspace coordinates children. All of it runs in the background: an unreachable or
//! hanging platform never stops or slows the workspace's serving, and the heartbeat loop
//! re-registers when the platform forgot the workspace or refuses its token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use molecule_a2a::types::AgentCard as A2aCard;
use molecule_a2a::{A2aServer, CardHandle};
use molecule_platform::{
    ActivityConfig, AgentCard, CardCapabilities, CardSkill, ConfigurationStatus, HeartbeatLoop,
    HeartbeatPoker, HeartbeatStatus, IdleHandle, IdleLoop, InboundSecretFile, InitialPrompt,
    PlatformClient, RegisterRequest,
};
use tokio::task::JoinHandle;

use super::peers::PlatformPeers;
use super::platform_secrets::{follow_inbound_secret, require_saved_secret, SecretsSink};
use super::register::{register_under_parent, settle_parent};
use crate::capabilities::memory::{AwarenessMemory, MemoryBackend, PlatformMemory, SqliteMemory};
use crate::plan::Plan;

/// A live connection to the platform; dropping it stops the heartbeats.
pub struct PlatformLink {
    /// The client (also used by memory, peers and delegation).
    pub client: PlatformClient,

    task: JoinHandle<()>,
}

/// The platform's view of the served A2A card (`handle`): the contract's fields, plus the
/// signed 1.0 card under [`super::peer_cards::SIGNED_CARD_KEY`] when the card is signed.
pub fn platform_card(handle: &CardHandle, url: &str, not_configured: Option<&str>) -> AgentCard {
    let card: Arc<A2aCard> = handle.get();
    let mut extra = serde_json::Map::new();
    let signed = handle.json_v1();
    if signed.get("signatures").is_some() {
        extra.insert(super::peer_cards::SIGNED_CARD_KEY.to_owned(), signed);
    }
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
        extra,
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
    /// Where the workspace's secrets go when they arrive.
    pub(crate) secrets: SecretsSink,
}

/// Requires the inbound secret saved by the last run (unless config sets one) — at once, before
/// the server serves — then, in the background: registers, starts the heartbeat loop and, side
/// by side, follows the platform's inbound secret, pulls the workspace's secrets, checks for
/// children and sends the prompts. Beats start after the registration attempt, so every one
/// carries the workspace's token.
///
/// # Errors
/// A saved inbound secret file that exists but cannot be read or parsed: the workspace must
/// not serve A2A unauthenticated, so boot stops (the error names the file). A malformed
/// `PARENT_ID` (the error names it).
pub fn join(
    plan: &Plan,
    client: PlatformClient,
    card: AgentCard,
    server: &A2aServer,
    options: JoinOptions,
) -> anyhow::Result<PlatformLink> {
    let JoinOptions {
        keep_configured_secret,
        coordinator,
        poker,
        admin_token,
        secrets,
    } = options;
    let secret_file = match keep_configured_secret {
        true => None,
        false => {
            let file = InboundSecretFile::new(&plan.data_dir, &client);
            require_saved_secret(&file, server)?;
            Some(file)
        }
    };
    let env_parent = plan
        .env
        .checked_parent_id()
        .map_err(anyhow::Error::msg)?
        .map(str::to_owned);
    let mut request = RegisterRequest {
        id: client.workspace_id().to_owned(),
        url: card.url.clone(),
        agent_card: card,
        parent_id: None,
    };
    let interval = plan.config.observability.heartbeat_interval;
    let prompt_plan = PromptPlan::of(plan);
    let (link_client, server) = (client.clone(), server.clone());
    let task = tokio::spawn(async move {
        let (admin, env_parent) = (admin_token.as_deref(), env_parent.as_deref());
        let pending = register_under_parent(&client, &mut request, admin, env_parent).await;
        let heartbeat =
            HeartbeatLoop::new(client.clone(), Arc::new(heartbeat_status), interval).spawn();
        let _ = poker.set(heartbeat.poker());
        let inbound = async {
            if let Some(file) = secret_file {
                follow_inbound_secret(heartbeat.inbound_secret(), server, file).await;
            }
        };
        let prompts = async {
            let _idle = prompts(&prompt_plan, &client).await;
            std::future::pending::<()>().await;
        };
        let parent = async {
            if pending {
                settle_parent(&client, env_parent, interval).await;
            }
        };
        tokio::join!(
            parent,
            inbound,
            secrets.pull_and_apply(&client),
            check_coordinator(&client, &coordinator),
            prompts,
        );
    });
    Ok(PlatformLink {
        client: link_client,
        task,
    })
}

/// A workspace with children is a coordinator: it gets delegation tools, not work tools.
async fn check_coordinator(client: &PlatformClient, coordinator: &AtomicBool) {
    if PlatformPeers::new(client.clone()).has_children().await {
        coordinator.store(true, Ordering::Relaxed);
        tracing::info!("this workspace has children: coordinator mode (delegation only)");
    }
}

/// What each heartbeat reports: running tasks, the current task, a wedged runtime.
fn heartbeat_status() -> HeartbeatStatus {
    let liveness = crate::liveness::global();
    let wedged = liveness.wedged();
    HeartbeatStatus {
        active_tasks: u32::try_from(crate::metrics::global().tasks_active().max(0)).unwrap_or(0),
        current_task: liveness.current_task(),
        wedged: wedged.is_some(),
        sample_error: wedged,
        ..HeartbeatStatus::default()
    }
}

/// The initial and idle prompts of the config, resolved.
struct PromptPlan {
    config_dir: std::path::PathBuf,
    /// Where the initial prompt's marker is written (the config directory may be read-only).
    data_dir: std::path::PathBuf,
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
            data_dir: plan.data_dir.clone(),
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
        let outcome = InitialPrompt::new(&plan.data_dir, prompt.clone())
            .legacy_marker_in(&plan.config_dir)
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

/// The env var sizing the activity queue: reports held while the platform is slow or down
/// (default 1000); beyond it the oldest are dropped and counted.
pub(crate) const ACTIVITY_QUEUE_ENV: &str = "MOLECULE_ACTIVITY_QUEUE";

/// The activity reporter's settings: the defaults, with the queue sized by
/// `MOLECULE_ACTIVITY_QUEUE` when it is a positive number (anything else warns and keeps 1000).
pub(crate) fn activity_config(plan: &Plan) -> ActivityConfig {
    let mut config = ActivityConfig::default();
    if let Some(raw) = plan.env.get(ACTIVITY_QUEUE_ENV) {
        match raw.trim().parse::<usize>() {
            Ok(n) if n > 0 => config.capacity = n,
            _ => tracing::warn!(
                value = raw,
                default = config.capacity,
                "{ACTIVITY_QUEUE_ENV} must be a positive number of reports; using the default"
            ),
        }
    }
    config
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
    plan.env.checked_parent_id().map_err(anyhow::Error::msg)?;
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
        .data_dir(plan.data_dir.clone())
        .env_token(plan.env.workspace_token.clone())
        .build()?;
    Ok(Some((client, admin)))
}

/// The id of this external workspace: saved by an earlier run (in the data directory, or a
/// legacy copy in the config directory), or created now and saved to the data directory. The
/// file is checked writable *before* the platform is asked to create the workspace, so a
/// failed save never leaves a workspace behind that the next boot creates again.
async fn external_workspace_id(plan: &Plan, url: &str, admin: &str) -> anyhow::Result<String> {
    let saved = plan.data_dir.join(WORKSPACE_ID_FILE);
    let legacy = plan.config.config_dir.join(WORKSPACE_ID_FILE);
    for file in [&saved, &legacy] {
        if let Ok(id) = std::fs::read_to_string(file) {
            if !id.trim().is_empty() {
                return Ok(id.trim().to_owned());
            }
        }
    }
    molecule_platform::write_private_atomic(&saved, b"").map_err(|e| {
        anyhow::anyhow!(
            "cannot write {} ({e}): the external workspace is not created, since its id could \
             not be saved and every boot would create another; make the data directory \
             (MOLECULE_DATA_DIR) writable",
            saved.display()
        )
    })?;
    let mut body = serde_json::json!({
        "name": plan.config.name,
        "runtime": "external",
        "external": true,
        "url": plan.env.workspace_url,
    });
    if let Some(parent) = plan.env.checked_parent_id().map_err(anyhow::Error::msg)? {
        body["parent_id"] = serde_json::Value::from(parent);
    }
    let id = molecule_platform::create_workspace(url, admin, &body).await?;
    molecule_platform::write_private_atomic(&saved, id.as_bytes()).map_err(|e| {
        anyhow::anyhow!(
            "saving {}: {e} (external workspace {id} was created: set WORKSPACE_ID={id})",
            saved.display()
        )
    })?;
    tracing::info!(workspace = %id, "created external workspace");
    Ok(id)
}

/// The file (in the data directory) holding the id of an external workspace this runtime
/// created; a copy in the config directory (written by earlier versions) is still read.
pub const WORKSPACE_ID_FILE: &str = ".workspace_id";

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
        self.report(content, scope);
        Ok(id)
    }

    async fn commit_within(
        &self,
        content: &str,
        scope: crate::bindings::imports::molecule::runtime::memory::Scope,
        quota: crate::capabilities::memory::Quota<'_>,
    ) -> Result<String, crate::bindings::HostError> {
        // Forwarded, so the inner store still enforces the writer's quota.
        let id = self.inner.commit_within(content, scope, quota).await?;
        self.report(content, scope);
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

impl ReportingMemory {
    /// Reports one write to the platform.
    fn report(
        &self,
        content: &str,
        scope: crate::bindings::imports::molecule::runtime::memory::Scope,
    ) {
        let head: String = content.chars().take(80).collect();
        let scope = crate::capabilities::memory::scope_name(scope);
        self.activity.report(
            molecule_platform::ActivityType::MemoryWrite,
            format!("[{scope}] {head}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_a2a::card_signing::{CardSigner, TrustedKey};
    use ring::rand::SystemRandom;
    use ring::signature::Ed25519KeyPair;
    use serde_json::json;

    fn signer(kid: &str) -> CardSigner {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
        CardSigner::from_pkcs8(der.as_ref(), kid).expect("signer")
    }

    /// The real path: the card a signing workspace registers (`platform_card` of its served,
    /// signed card, as JSON) verifies at a peer that trusts the key; a registry card whose
    /// reduced fields were changed still verifies (only the signed card counts), one whose
    /// signed card was changed does not, and so does not one with no signed card.
    #[test]
    fn a_registered_signed_card_verifies_at_a_trusting_peer() {
        use crate::workspace::card::{build_card, CardInfo};
        let s = signer("ws-b-key");
        let trusted =
            vec![TrustedKey::from_pem("ws-b-key", s.public_key_pem().as_bytes()).expect("pem")];
        let info = CardInfo {
            name: "B".into(),
            description: "peer b".into(),
            version: "1.0.0".into(),
            url: "http://127.0.0.1:9/".into(),
            streaming: true,
        };
        let handle = molecule_a2a::CardHandle::new(build_card(&info, []));
        let unsigned = platform_card(&handle, &info.url, None);
        let unsigned = serde_json::to_value(&unsigned).expect("json");
        let refused =
            super::super::peer_cards::check_peer_card("ws-b", &unsigned, &trusted).unwrap_err();
        assert!(refused.contains("not signed"), "{refused}");
        handle.set_signer(Some(s));
        let registered = platform_card(&handle, &info.url, None);
        let mut registered = serde_json::to_value(&registered).expect("json");
        assert_eq!(registered["name"], "B");
        assert!(super::super::peer_cards::check_peer_card("ws-b", &registered, &trusted).is_ok());
        registered["signed_agent_card"]["description"] = json!("forged");
        let forged =
            super::super::peer_cards::check_peer_card("ws-b", &registered, &trusted).unwrap_err();
        assert!(forged.contains("`ws-b-key`"), "{forged}");
    }
}
