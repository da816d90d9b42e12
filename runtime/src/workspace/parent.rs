//! The workspace's parent: `PARENT_ID` (as the seed's environment model lists it) is honoured
//! where the platform does not say otherwise. The platform's own answer
//! (`GET /workspaces/{id}` → `parent_id`) wins when it names a parent; otherwise `PARENT_ID`
//! goes into the registration (`POST /registry/register` → `parent_id`, kept for every
//! re-registration) and into the creation of an external workspace (`POST /workspaces`), so
//! the platform's peers (siblings, children, parent) and coordinator view include it.

use molecule_platform::PlatformClient;

/// Where the parent a workspace registers with came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parent {
    /// The platform names one (`GET /workspaces/{id}`): it wins; nothing is sent.
    Platform(String),
    /// `PARENT_ID`, sent because the platform named none or could not be asked.
    Env(String),
    /// No parent known.
    None,
}

impl Parent {
    /// The `parent_id` to put in the registration body: only a [`Parent::Env`] one.
    pub(crate) fn to_register(&self) -> Option<String> {
        match self {
            Parent::Env(id) => Some(id.clone()),
            Parent::Platform(_) | Parent::None => None,
        }
    }
}

/// Resolves the parent for registration: with `PARENT_ID` (`env_parent`) set, asks the
/// platform for this workspace's record first; its `parent_id` wins when present (a different
/// `PARENT_ID` is logged, not sent). Without `PARENT_ID` the platform is not asked.
pub(crate) async fn resolve(client: &PlatformClient, env_parent: Option<&str>) -> Parent {
    let Some(env_parent) = env_parent else {
        return Parent::None;
    };
    match client.workspace(client.workspace_id()).await {
        Ok(info) => match info.parent_id.filter(|p| !p.is_empty()) {
            Some(platform) => {
                if platform != env_parent {
                    tracing::info!(
                        platform = %platform,
                        "PARENT_ID `{env_parent}` differs from the platform's parent; the \
                         platform's wins"
                    );
                }
                Parent::Platform(platform)
            }
            None => Parent::Env(env_parent.to_owned()),
        },
        Err(err) => {
            tracing::debug!(error = %err, "the platform's record of this workspace is not readable; registering with PARENT_ID");
            Parent::Env(env_parent.to_owned())
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
        assert_eq!(Parent::None.to_register(), None);
    }
}
