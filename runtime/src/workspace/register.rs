//! Registering with the platform (`POST /registry/register`): once at boot, with the admin
//! token while a new external workspace has no token yet, retried per the contract, under the
//! parent `PARENT_ID` names where the platform does not say otherwise (`parent.rs`). A failure
//! is logged; the heartbeat loop registers again later with the same body.

use molecule_platform::{PlatformClient, RegisterRequest};

use super::parent;

/// Registers under the parent `PARENT_ID` names where the platform does not say otherwise
/// (`parent.rs`): when the platform's record could not be read first (no token yet, the
/// platform down), it is read again once registered, and the workspace registers once more
/// with `parent_id` if the record names no parent.
pub(super) async fn register_under_parent(
    client: &PlatformClient,
    request: &mut RegisterRequest,
    admin: Option<&str>,
    env_parent: Option<&str>,
) {
    let before = parent::resolve(client, env_parent).await;
    request.parent_id = before.to_register();
    if !register(client, request, admin).await || before != parent::Parent::Unknown {
        return;
    }
    if let Some(id) = parent::resolve(client, env_parent).await.to_register() {
        request.parent_id = Some(id);
        register(client, request, None).await;
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
