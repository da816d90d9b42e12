//! The workspace's parent: `PARENT_ID` (as the seed's environment model lists it) is honoured
//! where the platform does not say otherwise. The platform's own answer
//! (`GET /workspaces/{id}` → `parent_id`) wins when it names a parent; when it names none,
//! `PARENT_ID` goes into the registration (`POST /registry/register` → `parent_id`, kept for
//! every re-registration). When the record cannot be read before registering (no token yet, the
//! platform down), nothing is sent until it can: `workspace/register.rs` reads it again once
//! registered (and, while the platform stays down, each heartbeat interval until it answers). An external workspace is also created under `PARENT_ID` (`POST /workspaces`).
//! So the platform's peers (siblings, children, parent) and coordinator view include it.

use molecule_platform::PlatformClient;

/// Where the parent a workspace registers with came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parent {
    /// The platform names one (`GET /workspaces/{id}`): it wins; nothing is sent.
    Platform(String),
    /// `PARENT_ID`, sent because the platform's record names no parent.
    Env(String),
    /// `PARENT_ID` is set but the platform's record could not be read: nothing is sent yet
    /// (the platform may name a parent of its own); ask again once registered.
    Unknown,
    /// No `PARENT_ID`.
    None,
}

impl Parent {
    /// The `parent_id` to put in the registration body: only a [`Parent::Env`] one.
    pub(crate) fn to_register(&self) -> Option<String> {
        match self {
            Parent::Env(id) => Some(id.clone()),
            Parent::Platform(_) | Parent::Unknown | Parent::None => None,
        }
    }
}

/// Resolves the parent for registration: with `PARENT_ID` (`env_parent`) set, reads the
/// platform's record of this workspace; its `parent_id` wins when present (a different
/// `PARENT_ID` is logged, not sent); an unreadable record is [`Parent::Unknown`]. Without
/// `PARENT_ID` the platform is not asked.
pub(crate) async fn resolve(client: &PlatformClient, env_parent: Option<&str>) -> Parent {
    let Some(env_parent) = env_parent else {
        return Parent::None;
    };
    match client.workspace(client.workspace_id()).await {
        Ok(info) => match info.parent_id.filter(|p| !p.is_empty()) {
            Some(platform) => {
                if platform != env_parent {
                    // The platform's text is peer text: escaped before it reaches the log.
                    tracing::info!(
                        platform = %molecule_config::escape_text(&platform),
                        env = %molecule_config::escape_text(env_parent),
                        "PARENT_ID differs from the platform's parent; the platform's wins"
                    );
                }
                Parent::Platform(platform)
            }
            None => Parent::Env(env_parent.to_owned()),
        },
        Err(err) => {
            tracing::debug!(error = %err, "the platform's record of this workspace is not readable (yet)");
            Parent::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_env_parent_is_sent() {
        assert_eq!(
            Parent::Env("ws-pm".into()).to_register().as_deref(),
            Some("ws-pm")
        );
        assert_eq!(Parent::Platform("ws-pm".into()).to_register(), None);
        assert_eq!(Parent::Unknown.to_register(), None);
        assert_eq!(Parent::None.to_register(), None);
    }
}
