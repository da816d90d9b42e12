//! Boot stage 1, open: the data folder, the platform client (when `PLATFORM_URL` is set), the
//! memory backend (its writes reported to the platform when joined), peers and the task store.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use molecule_a2a::{Retention, TaskStore};
use molecule_platform::{ActivityReporter, HeartbeatPoker, PlatformClient};

use crate::capabilities::memory::MemoryBackend;
use crate::plan::Plan;
use crate::workspace::deps::BootDeps;
use crate::workspace::peers::PlatformPeers;
use crate::workspace::platform::{
    activity_config, memory_backend, platform_client, ReportingMemory,
};

/// The stores and the platform connection every later stage uses.
pub(super) struct Opened {
    /// The platform client, when the workspace joins one.
    pub(super) platform: Option<PlatformClient>,
    /// The admin token of an external workspace (first registration).
    pub(super) admin_token: Option<String>,
    /// Activity reports to the platform, when joined.
    pub(super) activity: Option<ActivityReporter>,
    /// The memory backend granted to skills and the adapter.
    pub(super) memory: Arc<dyn MemoryBackend>,
    /// Peers through the platform, when joined.
    pub(super) peers: Option<PlatformPeers>,
    /// Filled with the heartbeat poker once the heartbeat loop runs.
    pub(super) poker: Arc<OnceLock<HeartbeatPoker>>,
    /// Set when this workspace coordinates children (from config, or when the platform says).
    pub(super) coordinator: Arc<AtomicBool>,
    /// The A2A task store.
    pub(super) store: TaskStore,
}

/// Creates the data folder and opens the platform client, memory, peers and task store.
pub(super) async fn open_stores_and_platform(
    plan: &Plan,
    deps: &BootDeps,
) -> anyhow::Result<Opened> {
    std::fs::create_dir_all(&plan.data_dir)
        .with_context(|| format!("creating data folder {}", plan.data_dir.display()))?;
    let (platform, admin_token) = match platform_client(plan).await? {
        Some((client, admin)) => (Some(client), admin),
        None => (None, None),
    };
    let activity = platform
        .clone()
        .map(|client| ActivityReporter::spawn(client, activity_config(plan)));
    let memory = memory_backend(plan, platform.as_ref())?;
    let memory: Arc<dyn MemoryBackend> = match &activity {
        Some(activity) => Arc::new(ReportingMemory::new(memory, activity.clone())),
        None => memory,
    };
    let trusted = crate::workspace::peer_cards::load_trusted(&plan.config.a2a.trusted_card_keys)?;
    let peers = platform
        .clone()
        .map(|c| PlatformPeers::new(c).with_trusted_card_keys(trusted));
    let poker = Arc::new(OnceLock::new());
    let coordinator = Arc::new(AtomicBool::new(!plan.config.sub_workspaces.is_empty()));
    let store = if deps.in_memory_tasks {
        TaskStore::in_memory(Retention::default())?
    } else {
        TaskStore::open(&plan.data_dir.join("tasks.sqlite"), Retention::default())?
    };
    crate::metrics::global(); // uptime counts from the first boot
    Ok(Opened {
        platform,
        admin_token,
        activity,
        memory,
        peers,
        poker,
        coordinator,
        store,
    })
}
