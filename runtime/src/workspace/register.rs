//! Registering with the platform (`POST /registry/register`): once at boot, with the admin
//! token while a new external workspace has no token yet, retried per the contract, under the
//! parent `PARENT_ID` names where the platform does not say otherwise (the rule:
//! `molecule_platform::Parent`, `runtime/platform/src/parent.rs`). A failure is logged; the
//! heartbeat loop registers again later with the saved body, whose parent every
//! re-registration settles afresh (`PlatformClient::reregister`). A parent that could not be
//! settled before then (the platform's record unreadable) is settled by [`settle_parent`] once
//! the platform answers.

use std::time::Duration;

use molecule_platform::{Parent, PlatformClient, RegisterRequest};

/// Registers under the parent `PARENT_ID` names where the platform does not say otherwise
/// (`molecule_platform::Parent`; `PARENT_ID` is handed to the client, so every later
/// re-registration applies the rule afresh): the registration carries the effective parent
/// (the platform's, else `PARENT_ID`); when the platform's record could not be read first (no token yet, the
/// platform down), it is read again once registered, and the workspace registers once more
/// with `parent_id` if the record names no parent. True when the parent is still pending
/// (the record is still unreadable, or the registration failed): then run [`settle_parent`].
pub(super) async fn register_under_parent(
    client: &PlatformClient,
    request: &mut RegisterRequest,
    admin: Option<&str>,
    env_parent: Option<&str>,
) -> bool {
    client.set_env_parent(env_parent.map(str::to_owned));
    let before = client.resolve_parent(env_parent).await;
    request.parent_id = before.to_register();
    let registered = register(client, request, admin).await;
    if before != Parent::Unknown {
        return false;
    }
    if !registered {
        return true;
    }
    match client.resolve_parent(env_parent).await {
        Parent::Env(id) => {
            request.parent_id = Some(id);
            register(client, request, None).await;
            false
        }
        Parent::Platform(id) => {
            client.set_registration_parent(Some(id));
            false
        }
        Parent::Unknown => true,
        Parent::None => false,
    }
}

/// Settles a pending parent: every `every` (the heartbeat interval), once the platform has
/// accepted a registration (the heartbeat loop's re-registration), reads the platform's record
/// again (one `GET /workspaces/{id}` per tick); the platform's parent wins (and is saved),
/// and when it names none `PARENT_ID` goes into the saved registration
/// ([`PlatformClient::set_registration_parent`], resent by every re-registration) and is
/// registered once at once. Returns when settled; an unreadable record waits for the next tick.
pub(super) async fn settle_parent(
    client: &PlatformClient,
    env_parent: Option<&str>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        if !client.has_registered() {
            continue;
        }
        match client.resolve_parent(env_parent).await {
            Parent::Unknown => continue,
            Parent::Env(id) => {
                client.set_registration_parent(Some(id));
                if let Err(err) = client.reregister().await {
                    tracing::warn!(error = %err, "registering under PARENT_ID failed; the next re-registration sends it");
                }
                return;
            }
            Parent::Platform(id) => {
                client.set_registration_parent(Some(id));
                return;
            }
            Parent::None => return,
        }
    }
}

/// Registers once (with the admin token when an external workspace has no token yet), retried
/// per the contract; a failure is logged and the heartbeat loop registers later. True when
/// the platform accepted it.
async fn register(client: &PlatformClient, request: &RegisterRequest, admin: Option<&str>) -> bool {
    let registered = match admin {
        Some(admin) => client.register_external(admin, request).await,
        None => client.register(request).await,
    };
    match registered {
        Ok(_) => {
            tracing::info!(platform = client.base_url(), "registered with the platform");
            true
        }
        Err(err) => {
            tracing::error!(error = %err, "registration failed; serving anyway, heartbeats will retry");
            false
        }
    }
}

#[cfg(test)]
#[path = "register_tests.rs"]
mod tests;
