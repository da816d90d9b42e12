//! The workspace token and where it comes from. Lookup order (contract): memory →
//! `<data>/.auth_token` → `<configs>/.auth_token` (a legacy copy, e.g. written by the Python
//! runtime; read, never written) → `MOLECULE_WORKSPACE_TOKEN`. A minted token is written to
//! the data directory (the config directory may be a read-only mount), atomically (temporary
//! file in the same directory, fsync, rename) with mode 0600. Tokens are never printed:
//! [`TokenStore`]'s `Debug` shows only where the token came from.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::error::PlatformError;

/// Name of the token file inside the data directory (and, legacy, the config directory).
pub const TOKEN_FILE: &str = ".auth_token";

/// Where the token currently in use was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Held in memory (minted by a register answer, or read earlier from the file).
    Memory,
    /// Read from `<data>/.auth_token` or the legacy `<configs>/.auth_token` (once; later
    /// lookups use the cached copy).
    File,
    /// `MOLECULE_WORKSPACE_TOKEN`.
    Env,
}

/// Holds the workspace token and persists it.
pub struct TokenStore {
    /// The token held in memory and where it came from (a read file is cached here).
    memory: RwLock<Option<(String, TokenOrigin)>>,
    /// The file a minted token is written to (and read first).
    file: Option<PathBuf>,
    /// A legacy copy read when `file` holds no token; never written.
    legacy: Option<PathBuf>,
    env: Option<String>,
    /// Woken when [`TokenStore::persist`] keeps a token ([`TokenStore::wait`]).
    arrived: tokio::sync::Notify,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("file", &self.file)
            .field("origin", &self.lookup().map(|(_, o)| o))
            .finish()
    }
}

impl TokenStore {
    /// A store reading and writing `<dir>/.auth_token` (when a directory is given) and falling
    /// back to `env_token` (the value of `MOLECULE_WORKSPACE_TOKEN`).
    pub fn new(dir: Option<&Path>, env_token: Option<String>) -> TokenStore {
        TokenStore::with_legacy(dir, None, env_token)
    }

    /// A store writing `<data_dir>/.auth_token`, reading it first, then the legacy
    /// `<legacy_dir>/.auth_token` (never written: the config directory may be read-only),
    /// then `env_token`.
    pub fn with_legacy(
        data_dir: Option<&Path>,
        legacy_dir: Option<&Path>,
        env_token: Option<String>,
    ) -> TokenStore {
        let file = data_dir.map(|d| d.join(TOKEN_FILE));
        let legacy = legacy_dir
            .map(|d| d.join(TOKEN_FILE))
            .filter(|l| Some(l) != file.as_ref());
        TokenStore {
            memory: RwLock::new(None),
            file,
            legacy,
            env: env_token.filter(|t| !t.trim().is_empty()),
            arrived: tokio::sync::Notify::new(),
        }
    }

    /// The file a minted token is written to, when a directory was given.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The token to send, following the lookup order; `None` when no token is known.
    pub fn get(&self) -> Option<String> {
        self.lookup().map(|(t, _)| t)
    }

    /// The token, once one is known: at once when [`TokenStore::get`] has one, else when
    /// [`TokenStore::persist`] keeps one (the first registration's answer). No polling.
    pub async fn wait(&self) -> String {
        loop {
            let mut arrived = std::pin::pin!(self.arrived.notified());
            // Registered before the check, so a token kept in between still wakes us.
            arrived.as_mut().enable();
            if let Some(token) = self.get() {
                return token;
            }
            arrived.await;
        }
    }

    /// Where [`TokenStore::get`] would take the token from.
    pub fn origin(&self) -> Option<TokenOrigin> {
        self.lookup().map(|(_, o)| o)
    }

    fn lookup(&self) -> Option<(String, TokenOrigin)> {
        if let Some(found) = self.memory.read().expect("token lock").clone() {
            return Some(found);
        }
        for path in self.file.iter().chain(&self.legacy) {
            if let Ok(text) = std::fs::read_to_string(path) {
                let t = text.trim();
                if !t.is_empty() {
                    // Cache it: the file is read once, later lookups hit memory.
                    *self.memory.write().expect("token lock") =
                        Some((t.to_string(), TokenOrigin::File));
                    return Some((t.to_string(), TokenOrigin::File));
                }
            }
        }
        self.env.clone().map(|t| (t, TokenOrigin::Env))
    }

    /// Keeps `token` in memory and, when a directory is known, writes it to its
    /// `.auth_token` atomically with mode 0600 (never to the legacy copy). The token stays in memory even if the write fails.
    pub fn persist(&self, token: &str) -> Result<(), PlatformError> {
        let token = token.trim();
        *self.memory.write().expect("token lock") = Some((token.to_string(), TokenOrigin::Memory));
        self.arrived.notify_waiters();
        if let Some(path) = &self.file {
            write_private_atomic(path, format!("{token}\n").as_bytes()).map_err(|source| {
                PlatformError::TokenFile {
                    action: "write",
                    path: path.clone(),
                    source,
                }
            })?;
        }
        Ok(())
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory created with
/// mode 0600, written and synced, then renamed over `path`. A reader never sees a partial file.
pub fn write_private_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
