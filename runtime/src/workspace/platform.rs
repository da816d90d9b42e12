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
