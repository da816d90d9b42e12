//! The two secrets a joined workspace gets from the platform, neither of which local work
//! waits for:
//!
//! * the **inbound secret** A2A callers must present: the last one the platform gave is saved
//!   in the data directory (`inbound_secret.json`, mode 0600, written atomically) and required
//!   from boot — before the platform answers, and while it hangs — then replaced by each one
//!   the platform hands out (register and heartbeat answers);
//! * the workspace's **secrets** (`GET /workspaces/{id}/secrets`): boot serves with what it
//!   has; they are pulled in the background (each try bounded, retried with backoff while the
//!   platform fails) and, when they arrive, the skills granted any of them are reloaded so
//!   their next calls see them. They stay in memory only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use molecule_a2a::A2aServer;
use molecule_config::{effective, CapabilityRequest, WorkspaceConfig};
use molecule_platform::{Backoff, InboundSecretFile, PlatformClient};
use tokio::sync::watch;

use super::policy::LateValues;
use super::skills::SkillRegistry;
use crate::skill_dir::SkillDir;

/// Longest wait for one `GET …/secrets` answer.
const PULL_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits between failed pulls: 1, 2, 4 … 60 s, jittered.
const PULL_RETRY: Backoff = Backoff {
    attempts: u32::MAX,
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
    jitter: true,
};

/// Makes `server` require the inbound secret saved by the last run (if it was saved for this
/// workspace and platform). Called before the server serves.
///
/// # Errors
/// A saved file that exists but cannot be read or parsed (see [`saved_secret`]): boot stops
/// rather than serve A2A without authentication.
pub(crate) fn require_saved_secret(
    file: &InboundSecretFile,
    server: &A2aServer,
) -> anyhow::Result<()> {
    match saved_secret(file)? {
        Some(secret) => {
            server.set_bearer_secret(Some(secret));
            tracing::info!(file = %file.path().display(), "A2A calls require the inbound secret saved by the last run until the platform sends its current one");
        }
        None => {
            tracing::warn!(file = %file.path().display(), "no inbound secret saved for this workspace yet: A2A calls are not authenticated until the platform hands one out")
        }
    }
    Ok(())
}

/// The inbound secret saved by the last run; `None` when no file exists or it was saved for
/// another workspace or platform.
///
/// # Errors
/// The file exists but cannot be read or is not the JSON this runtime writes: the error names
/// the file and says to delete it (the platform then hands out a new secret) — the caller must
/// fail closed, never serve unauthenticated.
pub(crate) fn saved_secret(file: &InboundSecretFile) -> anyhow::Result<Option<String>> {
    file.load().map_err(|err| {
        anyhow::anyhow!(
            "the saved inbound secret {} cannot be used ({err}); refusing to serve A2A without \
             authentication — fix its permissions, or delete it to start over (the platform \
             hands out a new secret when the workspace registers)",
            file.path().display()
        )
    })
}

/// Follows the inbound secret the platform hands out: each new one is required from then on
/// and saved to `file` for the next boot.
pub(crate) async fn follow_inbound_secret(
    mut secrets: watch::Receiver<Option<String>>,
    server: A2aServer,
    file: InboundSecretFile,
) {
    loop {
        if let Some(secret) = secrets.borrow_and_update().clone() {
            server.set_bearer_secret(Some(secret.clone()));
            if let Err(err) = file.save(&secret) {
                tracing::warn!(error = %err, "the inbound secret is required now but a restart will not know it until the platform answers");
            }
        }
        if secrets.changed().await.is_err() {
            return;
        }
    }
}

/// Where the platform's secrets go when they arrive: the values the skills' grants read, and
/// the skills to reload.
pub(crate) struct SecretsSink {
    /// The values read by the skills' grant policy.
    pub(crate) values: LateValues,
    /// The skills.
    pub(crate) skills: Arc<SkillRegistry>,
    /// The config holding the grants.
    pub(crate) config: Arc<WorkspaceConfig>,
}

impl SecretsSink {
    /// Pulls the secrets (retrying while the platform fails; a 404 means it has none for this
    /// workspace) and applies them.
    pub(crate) async fn pull_and_apply(&self, client: &PlatformClient) {
        if let Some(secrets) = pull(client).await {
            self.apply(secrets).await;
        }
    }

    /// Makes `secrets` the values skills are granted and reloads the skills granted any of
    /// them (an env var or a secret of that name).
    pub(crate) async fn apply(&self, secrets: BTreeMap<String, String>) {
        let names: BTreeSet<String> = secrets.keys().cloned().collect();
        self.values.store(Arc::new(secrets));
        let snapshot = self.skills.snapshot();
        let ids: Vec<String> = snapshot
            .listed
            .values()
            .filter(|dir| snapshot.skills.contains_key(&dir.id))
            .filter(|dir| granted_any(&self.config, dir, &names))
            .map(|dir| dir.id.clone())
            .collect();
        if ids.is_empty() {
            return;
        }
        tracing::info!(skills = ?ids, "the platform's secrets arrived; reloading the skills granted them");
        self.skills.reload(&ids).await;
    }
}

/// Whether `dir`'s skill is granted (as env or secret) any of `names`.
fn granted_any(config: &WorkspaceConfig, dir: &SkillDir, names: &BTreeSet<String>) -> bool {
    let skill_md = dir.dir.join("SKILL.md");
    // The warnings were logged when the skill loaded.
    let (request, _) =
        CapabilityRequest::from_frontmatter_str(&dir.id, &dir.frontmatter, &skill_md);
    let eff = effective(&request, &config.grant_for(&dir.id));
    eff.env
        .iter()
        .chain(&eff.secrets)
        .any(|n| names.contains(n))
}

/// `GET …/secrets` until it answers: `None` when the platform has no secrets endpoint for this
/// workspace (404) or refuses the request for good (another 4xx).
async fn pull(client: &PlatformClient) -> Option<BTreeMap<String, String>> {
    let mut failures = 0u32;
    loop {
        let (err, status) = match tokio::time::timeout(PULL_TIMEOUT, client.fetch_secrets()).await {
            Ok(Ok(secrets)) => {
                if failures > 0 {
                    tracing::info!(
                        failed_attempts = failures,
                        "secrets pulled from the platform"
                    );
                }
                return Some(secrets.0);
            }
            Ok(Err(err)) => (err.to_string(), err.status()),
            Err(_) => (format!("no answer within {PULL_TIMEOUT:?}"), None),
        };
        if let Some(status) = status.filter(|s| is_final(*s)) {
            tracing::warn!(status, error = %err, "the platform gave no secrets for this workspace; skills run without them");
            return None;
        }
        if failures == 0 {
            tracing::warn!(error = %err, "could not pull secrets from the platform; serving without them and retrying in the background");
        }
        tokio::time::sleep(PULL_RETRY.delay(failures)).await;
        failures = failures.saturating_add(1);
    }
}

/// Whether retrying cannot change an answer with this status: a 4xx other than 401/403 (a
/// registration may be pending), 408 or 429.
fn is_final(status: u16) -> bool {
    (400..500).contains(&status) && ![401, 403, 408, 429].contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_platform::INBOUND_SECRET_FILE;

    fn file_in(dir: &std::path::Path) -> InboundSecretFile {
        let client = PlatformClient::builder("http://127.0.0.1:9", "ws-1")
            .build()
            .expect("client");
        InboundSecretFile::new(dir, &client)
    }

    #[test]
    fn a_malformed_saved_secret_fails_closed_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = file_in(dir.path());
        assert_eq!(saved_secret(&file).expect("no file is fine"), None);
        std::fs::create_dir_all(file.path().parent().expect("parent")).expect("mkdir");
        std::fs::write(file.path(), "{not json").expect("write");
        let err = saved_secret(&file)
            .expect_err("malformed must fail")
            .to_string();
        assert!(err.contains(INBOUND_SECRET_FILE), "{err}");
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("delete it to start over"), "{err}");
    }

    #[test]
    fn an_unreadable_saved_secret_fails_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = file_in(dir.path());
        // A directory where the file should be cannot be read as one, even as root.
        std::fs::create_dir_all(file.path()).expect("mkdir");
        let err = saved_secret(&file)
            .expect_err("unreadable must fail")
            .to_string();
        assert!(err.contains("refusing to serve A2A without"), "{err}");
    }
}
