//! Boot stages 2 and 4, the Agent Card and the skills: first the card from the `SKILL.md`
//! folders alone (nothing built yet, so it is there even when a component fails to load), then
//! the skills loaded — with the platform's secrets among the values they can be granted, once
//! they arrive (boot does not wait for them) — and the card and the adapter's configuration
//! made from what loaded.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use molecule_a2a::CardHandle;

use super::open::Opened;
use crate::plan::Plan;
use crate::workspace::approval::Gate;
use crate::workspace::card::{build_card, CardInfo};
use crate::workspace::deps::BootDeps;
use crate::workspace::policy::LateValues;
use crate::workspace::prompt::adapter_config;
use crate::workspace::registry::{plan_registry, skill_registry_with};
use crate::workspace::skills::BUILTIN_TOOL_NAMES;
use crate::workspace::skills::{GrantNothing, SkillRegistry};

/// The Agent Card and what it says about the workspace itself.
pub(super) struct Card {
    /// Name, description, version, URL, streaming.
    pub(super) info: CardInfo,
    /// The card served (updated when skills change).
    pub(super) handle: CardHandle,
}

/// The loaded skills with the card and the adapter configuration made from them.
pub(super) struct Skills {
    /// The skills.
    pub(super) registry: Arc<SkillRegistry>,
    /// The Agent Card.
    pub(super) card: Card,
    /// The adapter's setup configuration (its system prompt follows the skills).
    pub(super) adapter_config: Arc<ArcSwap<String>>,
}

/// The card built from the skill folders' `SKILL.md`, before any component is built.
pub(super) fn card_from_folders(plan: &Plan, deps: &BootDeps, addr: SocketAddr) -> Card {
    let info = card_info(plan, addr);
    let folders = plan_registry(
        plan,
        deps.host.clone(),
        deps.builder.clone(),
        Arc::new(GrantNothing),
    )
    .read_folders();
    let handle = CardHandle::new(build_card(&info, &folders));
    Card { info, handle }
}

/// Loads every skill (granted values include `secrets`, the platform's, filled in when they
/// arrive), then updates the card and builds the adapter's configuration from the loaded
/// skills.
pub(super) async fn load_skills(
    plan: &Plan,
    deps: &BootDeps,
    opened: &Opened,
    card: Card,
    secrets: &LateValues,
) -> Skills {
    let registry = Arc::new(skill_registry_with(
        plan,
        deps,
        &opened.memory,
        secrets.clone(),
    ));
    let snapshot = registry.load_all().await;
    card.handle
        .set(build_card(&card.info, snapshot.listed.values()));
    let adapter_config = Arc::new(ArcSwap::from_pointee(adapter_config(plan, &snapshot)));
    Skills {
        registry,
        card,
        adapter_config,
    }
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

/// Every name in config.yaml's `approval.tools` must be a built-in or a loaded skill's tool
/// (see `Gate::check`): an error stops boot.
pub(super) fn check_gated_tools(plan: &Plan, skills: &Skills) -> anyhow::Result<()> {
    let snapshot = skills.registry.snapshot();
    let mut known: Vec<&str> = BUILTIN_TOOL_NAMES.to_vec();
    known.extend(snapshot.tool_specs_ref().iter().map(|s| s.name.as_str()));
    let file = plan.config.config_dir.join("config.yaml");
    Gate::new(plan.config.approval.tools.clone())
        .check(&file, &known)
        .map_err(anyhow::Error::msg)
}
