//! Errors of the platform client. Each message says what went wrong and what to check, and
//! none ever contains a token.

use std::path::PathBuf;

/// Anything that can go wrong talking to the platform.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The platform could not be reached (connection refused, DNS, timeout, reset).
    #[error("could not reach the platform at {url} for {call}: {detail}; check PLATFORM_URL and that the platform is up")]
    Transport {
        /// The call, e.g. `register`.
        call: &'static str,
        /// The URL requested.
        url: String,
        /// The transport error, flattened to text.
        detail: String,
    },
    /// The platform answered with a non-success status.
    #[error("the platform answered HTTP {status} to {call}: {body}{}", status_hint(*status))]
    Status {
        /// The call, e.g. `heartbeat`.
        call: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The start of the answer body (at most 300 characters).
        body: String,
    },
    /// The platform does not know this workspace (heartbeat answered 404 / "unknown workspace").
    #[error("the platform does not know workspace {workspace_id}; it must register again (the heartbeat loop does this by itself)")]
    UnknownWorkspace {
        /// Our workspace id.
        workspace_id: String,
    },
    /// The answer could not be decoded.
    #[error("the platform's answer to {call} is not what the contract says: {detail}")]
    Decode {
        /// The call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The workspace token could not be written to or read from disk.
    #[error("could not {action} the workspace token file {path}: {source}; make the config directory writable (WORKSPACE_CONFIG_PATH) or set MOLECULE_WORKSPACE_TOKEN")]
    TokenFile {
        /// `write` or `read`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The inbound secret saved in the data directory could not be read or written.
    #[error("could not {action} the inbound secret file {path}: {source}; until it can be, a restarted workspace requires the platform's inbound secret only once the platform answers (check the data directory and its permissions)")]
    SecretFile {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The client was configured wrongly (e.g. an empty workspace id or a malformed URL).
    #[error("platform client misconfigured: {0}")]
    Config(String),
}

impl PlatformError {
    /// True for errors worth retrying: transport failures and 5xx answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            PlatformError::Transport { .. } => true,
            PlatformError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// True when the platform refused the workspace's credentials (HTTP 401 or 403).
    pub fn is_auth_rejected(&self) -> bool {
        matches!(self.status(), Some(401 | 403)) && !self.is_unknown_workspace()
    }

    /// True when the platform said it does not know this workspace (404 / "unknown workspace").
    pub fn is_unknown_workspace(&self) -> bool {
        matches!(self, PlatformError::UnknownWorkspace { .. })
    }

    /// True when the workspace must register again before the platform accepts its calls: the
    /// platform forgot it (404) or refuses its token (401/403, e.g. a platform restarted with
    /// empty state answers "register first").
    pub fn needs_registration(&self) -> bool {
        self.is_unknown_workspace() || self.is_auth_rejected()
    }

    /// True when the request never got an HTTP answer.
    pub fn is_transport(&self) -> bool {
        matches!(self, PlatformError::Transport { .. })
    }

    /// The HTTP status, when the platform answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PlatformError::Status { status, .. } => Some(*status),
            PlatformError::UnknownWorkspace { .. } => Some(404),
            _ => None,
        }
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (the workspace token is missing or wrong: check <data dir>/.auth_token (legacy: <configs>/.auth_token) or MOLECULE_WORKSPACE_TOKEN)",
        404 => " (unknown path or workspace: check PLATFORM_URL and WORKSPACE_ID)",
        s if s >= 500 => " (a platform-side failure; it is retried where the contract allows)",
        _ => "",
    }
}

/// Cuts an answer body to at most 300 characters for an error message.
pub(crate) fn snippet(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None => body.to_string(),
    }
}
