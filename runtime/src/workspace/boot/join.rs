//! Boot stage 7, the platform: once the server exists the workspace joins — it requires the
//! inbound secret saved by the last run at once, and registers (an external workspace with its
//! admin token the first time), heartbeats, follows the inbound secret and pulls its secrets in
//! the background (see `workspace::platform`), so nothing local waits on the platform. With
//! the outbound relay on (`MOLECULE_OUTBOUND` / `platform.outbound`) it also opens the relay
//! socket (`crate::outbound`), in the background too.

use super::open::Opened;
use super::serve::Server;
use super::skills_and_card::Skills;
use crate::outbound::{OutboundRelay, RelayOptions};
use crate::plan::Plan;
use crate::workspace::platform::{join, platform_card, JoinOptions, PlatformLink};
use crate::workspace::platform_secrets::SecretsSink;
use crate::workspace::policy::LateValues;

/// Joins the platform, when there is one, with the current card and `server`'s readiness; the
/// platform's secrets, when they arrive, go into `secrets` and reload the skills granted them.
///
/// # Errors
/// A saved inbound secret file that cannot be read or parsed (boot fails closed).
pub(super) fn join_platform(
    plan: &Plan,
    opened: &Opened,
    skills: &Skills,
    server: &Server,
    secrets: LateValues,
) -> anyhow::Result<Option<PlatformLink>> {
    let Some(client) = opened.platform.clone() else {
        return Ok(None);
    };
    let card = &skills.card;
    let url = card.info.url.clone();
    let card_now = platform_card(&card.handle, &url, server.not_configured.as_deref());
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
            secrets: SecretsSink {
                values: secrets,
                skills: skills.registry.clone(),
                config: plan.config.clone(),
            },
        },
    )
    .map(Some)
}

/// The outbound relay serving `server`'s A2A router over the platform's socket, when
/// `MOLECULE_OUTBOUND` / config.yaml `platform.outbound` turn it on.
///
/// # Errors
/// The variable and the key disagree or the variable is not a flag (preflight FAILs on the
/// same), the relay is on without `PLATFORM_URL`, or the platform URL is not HTTP(S).
pub(super) fn outbound_relay(
    plan: &Plan,
    opened: &Opened,
    server: &Server,
) -> anyhow::Result<Option<OutboundRelay>> {
    if !molecule_config::outbound_mode(&plan.env, &plan.config).map_err(anyhow::Error::msg)? {
        return Ok(None);
    }
    let Some(client) = opened.platform.clone() else {
        anyhow::bail!(
            "{} / platform.outbound is on but PLATFORM_URL is not set: the relay needs a platform",
            molecule_config::OUTBOUND_VAR
        );
    };
    OutboundRelay::spawn(client, server.a2a.router(), RelayOptions::default()).map(Some)
}
