//! The last inbound secret the platform gave, saved in the workspace's data directory so a
//! restarted workspace requires it on A2A calls from its first second — before the platform
//! answers, and while it hangs. The file is JSON `{workspace_id, platform_url, secret}`, mode
//! 0600, written atomically (temporary file, fsync, rename); one saved for another workspace or
//! another platform is ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::PlatformClient;
use crate::error::PlatformError;
use crate::token::write_private_atomic;

/// Name of the file inside the data directory.
pub const INBOUND_SECRET_FILE: &str = "inbound_secret.json";

/// Where one workspace keeps its platform's inbound secret. Holds no secret itself.
#[derive(Debug, Clone)]
pub struct InboundSecretFile {
    path: PathBuf,
    workspace_id: String,
    platform_url: String,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    workspace_id: String,
    platform_url: String,
    secret: String,
}

impl InboundSecretFile {
    /// The file in `data_dir` for `client`'s workspace and platform.
    pub fn new(data_dir: &Path, client: &PlatformClient) -> Self {
        InboundSecretFile {
            path: data_dir.join(INBOUND_SECRET_FILE),
            workspace_id: client.workspace_id().to_owned(),
            platform_url: client.base_url().to_owned(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved secret; `None` when there is no file or it was saved for another workspace
    /// or platform. An unreadable or malformed file is an error naming it.
    pub fn load(&self) -> Result<Option<String>, PlatformError> {
        let bad = |source: std::io::Error| PlatformError::SecretFile {
            action: "read",
            path: self.path.clone(),
            source,
        };
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(e)),
        };
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            bad(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not the JSON this runtime writes ({e}); delete it to start afresh"),
            ))
        })?;
        let ours =
            saved.workspace_id == self.workspace_id && saved.platform_url == self.platform_url;
        Ok((ours && !saved.secret.is_empty()).then_some(saved.secret))
    }

    /// Saves `secret` (mode 0600, atomically).
    pub fn save(&self, secret: &str) -> Result<(), PlatformError> {
        let saved = Saved {
            workspace_id: self.workspace_id.clone(),
            platform_url: self.platform_url.clone(),
            secret: secret.to_owned(),
        };
        let bytes = serde_json::to_vec(&saved).unwrap_or_default();
        write_private_atomic(&self.path, &bytes).map_err(|source| PlatformError::SecretFile {
            action: "write",
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str, id: &str) -> PlatformClient {
        PlatformClient::builder(url, id).build().unwrap()
    }

    #[test]
    fn round_trip_private_and_scoped_to_workspace_and_platform() {
        let dir = tempfile::tempdir().unwrap();
        let file = InboundSecretFile::new(dir.path(), &client("http://p.test", "ws-a"));
        assert_eq!(file.load().unwrap(), None, "no file yet");
        file.save("s3cret").unwrap();
        assert_eq!(file.load().unwrap().as_deref(), Some("s3cret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other_ws = InboundSecretFile::new(dir.path(), &client("http://p.test", "ws-b"));
        assert_eq!(other_ws.load().unwrap(), None);
        let other_platform = InboundSecretFile::new(dir.path(), &client("http://q.test", "ws-a"));
        assert_eq!(other_platform.load().unwrap(), None);
    }

    #[test]
    fn a_malformed_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = InboundSecretFile::new(dir.path(), &client("http://p.test", "ws-a"));
        std::fs::write(file.path(), "garbage").unwrap();
        let err = file.load().unwrap_err().to_string();
        assert!(
            err.contains(INBOUND_SECRET_FILE) && err.contains("read"),
            "{err}"
        );
    }
}
