//! The workspace's parent: `PARENT_ID` (the seed's environment model) is honoured as the
//! parent where the platform does not say otherwise. The platform's own record
//! (`GET /workspaces/{id}` → `parent_id`, molecule-contract.md "Platform API") wins when it
//! names a parent; when it names none, or the platform has no record of the workspace any more
//! (404, or 401/403 from a platform that restarted with empty state), `PARENT_ID` is sent in
//! `POST /registry/register` → `parent_id`. The saved registration body always carries the
//! effective parent, and every re-registration ([`PlatformClient::reregister`]) reads the
//! record first and applies the rule afresh, so a parent survives a platform that forgot the
//! workspace and a parent the platform changed later is not overwritten.

use crate::client::PlatformClient;
use crate::error::PlatformError;

/// Where the parent a workspace registers with came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// The platform's record names one: it wins, and is what the registration carries.
    Platform(String),
    /// `PARENT_ID`, sent because the platform's record names no parent (or is gone).
    Env(String),
    /// `PARENT_ID` is set but the platform's record could not be read (no token yet, the
    /// platform down): nothing is sent yet (the platform may name a parent of its own).
    Unknown,
    /// No `PARENT_ID`.
    None,
}

impl Parent {
    /// The `parent_id` to put in the registration body: the effective parent
    /// ([`Parent::Platform`] or [`Parent::Env`]), none while unknown or unset.
    pub fn to_register(&self) -> Option<String> {
        match self {
            Parent::Platform(id) | Parent::Env(id) => Some(id.clone()),
            Parent::Unknown | Parent::None => None,
        }
    }
}

/// True when an answer to `GET /workspaces/{id}` means the platform has no record of this
/// workspace (404), or no longer accepts its token (401/403: restarted with empty state).
fn record_is_gone(err: &PlatformError) -> bool {
    matches!(err.status(), Some(401 | 403 | 404))
}

impl PlatformClient {
    /// Sets `PARENT_ID` (already checked, `molecule_config::Env::checked_parent_id`): from
    /// now on every [`Self::reregister`] applies it afresh. `None` turns the rule off.
    pub fn set_env_parent(&self, parent_id: Option<String>) {
        *self
            .inner
            .env_parent
            .write()
            .unwrap_or_else(|e| e.into_inner()) = parent_id;
    }

    /// The `PARENT_ID` set by [`Self::set_env_parent`].
    pub fn env_parent(&self) -> Option<String> {
        self.inner
            .env_parent
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets `parent_id` in the saved registration body (the one [`Self::reregister`] and the
    /// heartbeat loop send again); a no-op before any registration was attempted.
    pub fn set_registration_parent(&self, parent_id: Option<String>) {
        self.edit_registration(|req| req.parent_id = parent_id);
    }

    /// Resolves the parent for registration: with `env_parent` (`PARENT_ID`) set, reads the
    /// platform's record of this workspace; its `parent_id` wins when present (a different
    /// `PARENT_ID` is logged at info, not sent); a record without one gives
    /// [`Parent::Env`]; an unreadable record is [`Parent::Unknown`]. Without `PARENT_ID` the
    /// platform is not asked ([`Parent::None`]).
    pub async fn resolve_parent(&self, env_parent: Option<&str>) -> Parent {
        let Some(env_parent) = env_parent else {
            return Parent::None;
        };
        match self.record_parent().await {
            Ok(Some(platform)) => {
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
            Ok(None) => Parent::Env(env_parent.to_owned()),
            Err(err) => {
                tracing::debug!(error = %err, "the platform's record of this workspace is not readable (yet)");
                Parent::Unknown
            }
        }
    }

    /// The parent a re-registration sends, when `PARENT_ID` is set (else `saved`, the saved
    /// body's): the record's parent when it names one; `PARENT_ID` when it names none or the
    /// platform forgot the workspace (404, 401/403); `saved` (the effective parent of the last
    /// registration) when the record is unreadable otherwise. A parent different from the
    /// platform's record is logged at info.
    pub(crate) async fn parent_for_reregistration(&self, saved: Option<String>) -> Option<String> {
        let env = self.env_parent()?;
        let esc = |s: &str| molecule_config::escape_text(s).to_string();
        match self.record_parent().await {
            Ok(Some(platform)) => {
                if saved.as_deref() != Some(platform.as_str()) {
                    tracing::info!(platform = %esc(&platform), saved = %esc(saved.as_deref().unwrap_or("")), "the platform's parent changed; re-registering under it");
                }
                Some(platform)
            }
            Ok(None) => {
                tracing::info!(parent = %esc(&env), "the platform's record names no parent; re-registering under PARENT_ID");
                Some(env)
            }
            Err(err) if record_is_gone(&err) => {
                tracing::info!(parent = %esc(&env), error = %err, "the platform has no record of this workspace (it may have restarted); re-registering under PARENT_ID");
                Some(env)
            }
            Err(err) => {
                tracing::debug!(error = %err, "the platform's record is unreadable; re-registering under the saved parent");
                saved
            }
        }
    }

    /// The non-empty `parent_id` of the platform's record of this workspace.
    async fn record_parent(&self) -> Result<Option<String>, PlatformError> {
        let info = self.workspace(self.workspace_id()).await?;
        Ok(info.parent_id.filter(|p| !p.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_parent_is_sent() {
        assert_eq!(
            Parent::Env("ws-pm".into()).to_register().as_deref(),
            Some("ws-pm")
        );
        assert_eq!(
            Parent::Platform("ws-pm".into()).to_register().as_deref(),
            Some("ws-pm")
        );
        assert_eq!(Parent::Unknown.to_register(), None);
        assert_eq!(Parent::None.to_register(), None);
    }
}
