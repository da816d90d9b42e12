//! Boot stage 10, following changes: the prompt sources (plugins, prompt files) are watched,
//! and every skill change updates the served card and rebuilds the adapter's system prompt at
//! once; when joined, the card goes to the platform with `update-card` in the background
//! ([`CardUpdates`]: the newest card, retried while the platform fails), so a slow or hung
//! platform never delays the card. (The skills' and the adapter's own watchers start with the
//! stages that make them.)

use std::sync::Arc;

use molecule_a2a::CardHandle;
use molecule_platform::{CardUpdates, PlatformClient, CARD_RETRY};
use tokio::task::JoinHandle;

use super::serve::Server;
use super::skills_and_card::Skills;
use crate::plan::Plan;
use crate::workspace::card::{build_card, CardInfo};
use crate::workspace::platform::{platform_card, PlatformLink};
use crate::workspace::prompt::{watch_prompt_sources, PromptSources};
use crate::workspace::reload::FolderWatcher;
use crate::workspace::skills::SkillRegistry;

/// Watches the prompt sources and follows skill changes; the watcher and the task that
/// follows the skills live as long as the workspace.
pub(super) fn follow_changes(
    plan: &Arc<Plan>,
    skills: &Skills,
    link: Option<&PlatformLink>,
    server: &Server,
) -> anyhow::Result<(FolderWatcher, JoinHandle<()>)> {
    let card_client = link.map(|l| (l.client.clone(), server.not_configured.clone()));
    let sources = PromptSources::new(plan.clone(), skills.adapter_config.clone());
    let watcher = watch_prompt_sources(sources.clone(), skills.registry.clone())?;
    let task = follow_skill_changes(
        skills.registry.clone(),
        skills.card.handle.clone(),
        skills.card.info.clone(),
        sources,
        card_client,
    );
    Ok((watcher, task))
}

/// Keeps the card and the adapter's system prompt in step with the skills.
/// When the workspace joined a platform, every card change is also queued for `update-card`.
fn follow_skill_changes(
    skills: Arc<SkillRegistry>,
    card: CardHandle,
    info: CardInfo,
    prompt: PromptSources,
    platform: Option<(PlatformClient, Option<String>)>,
) -> JoinHandle<()> {
    let mut changes = skills.subscribe();
    let updates = platform
        .map(|(client, not_configured)| (CardUpdates::spawn(client, CARD_RETRY), not_configured));
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let snapshot = skills.snapshot();
            let new_card = build_card(&info, snapshot.listed.values());
            card.set(new_card);
            if let Some((updates, not_configured)) = &updates {
                updates.send(platform_card(&card, &info.url, not_configured.as_deref()));
            }
            prompt.rebuild(&snapshot);
        }
    })
}
