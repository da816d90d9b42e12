//! Boot stages 3 and 7, the platform: an external workspace registers first (with the admin
//! token) to receive its own token, which it needs to pull its secrets; once the server exists
//! the workspace joins — registration, heartbeats and the inbound secret run in the background
//! (see `workspace::platform`).

use super::open::Opened;
use super::serve::Server;
use super::skills_and_card::Card;
use crate::plan::Plan;
use crate::workspace::platform::{join, platform_card, JoinOptions, PlatformLink};

/// Registers an external workspace that has no token yet; a failure is logged and the
/// workspace serves anyway.
pub(super) async fn register_external(opened: &Opened, card: &Card) {
    let (Some(client), Some(admin)) = (&opened.platform, &opened.admin_token) else {
        return;
    };
    if client.tokens().get().is_some() {
        return;
    }
    let request = molecule_platform::RegisterRequest {
        id: client.workspace_id().to_owned(),
        url: card.info.url.clone(),
        agent_card: platform_card(&card.handle.get(), &card.info.url, None),
    };
    if let Err(err) = client.register_external(admin, &request).await {
        tracing::error!(error = %err, "external registration failed; serving anyway");
    }
}

/// Joins the platform, when there is one, with the current card and `server`'s readiness.
pub(super) fn join_platform(
    plan: &Plan,
    opened: &Opened,
    card: &Card,
    server: &Server,
) -> Option<PlatformLink> {
    opened.platform.clone().map(|client| {
        let url = card.info.url.clone();
        let card_now = platform_card(&card.handle.get(), &url, server.not_configured.as_deref());
        join(
            plan,
            client,
            card_now,
            &server.a2a,
            JoinOptions {
                keep_configured_secret: server.keeps_configured_secret,
                coordinator: opened.coordinator.clone(),
                poker: opened.poker.clone(),
                admin_token: opened.admin_token.clone(),
            },
        )
    })
}
