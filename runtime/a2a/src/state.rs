//! The state every request handler shares: the agent card, whether the agent can take work
//! (the task manager, or the "not configured" reason), the request body limit, the inbound
//! bearer secret, and the connection limits and timeouts of `serve`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use crate::card::CardHandle;
use crate::error::A2aError;
use crate::listen::ServeOptions;
use crate::manager::Shared;

/// Whether the agent can take work.
pub(crate) enum Mode {
    Ready(Arc<Shared>),
    /// Setup failed: `reason` is the full text (operators), `detail` what clients are told.
    NotConfigured {
        reason: String,
        detail: String,
    },
}

/// What every handler gets: the card, the mode, and the request limits and credentials.
pub(crate) struct AppState {
    pub(crate) card: CardHandle,
    pub(crate) mode: Mode,
    body_limit: AtomicUsize,
    secret: RwLock<Option<String>>,
    serve_options: Mutex<ServeOptions>,
}

impl AppState {
    /// State with a body limit of `body_limit` bytes and no bearer secret.
    pub(crate) fn new(card: CardHandle, mode: Mode, body_limit: usize) -> Self {
        AppState {
            card,
            mode,
            body_limit: AtomicUsize::new(body_limit),
            secret: RwLock::new(None),
            serve_options: Mutex::new(ServeOptions::default()),
        }
    }

    /// The connection limits and timeouts `serve` uses.
    pub(crate) fn serve_options(&self) -> ServeOptions {
        *self.serve_options.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the connection limits and timeouts `serve` uses.
    pub(crate) fn set_serve_options(&self, options: ServeOptions) {
        *self.serve_options.lock().unwrap_or_else(|e| e.into_inner()) = options;
    }

    /// The request body limit in bytes.
    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit.load(Ordering::Relaxed)
    }

    /// Sets the request body limit in bytes.
    pub(crate) fn set_body_limit(&self, bytes: usize) {
        self.body_limit.store(bytes, Ordering::Relaxed);
    }

    /// The inbound bearer secret (`None` = no auth), read-locked while the guard lives.
    pub(crate) fn secret(&self) -> RwLockReadGuard<'_, Option<String>> {
        self.secret.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the inbound bearer secret.
    pub(crate) fn set_secret(&self, secret: Option<String>) {
        *self.secret.write().unwrap_or_else(|e| e.into_inner()) = secret;
    }
}

/// The agent that runs calls, or the "not configured" error once a request has been found
/// valid.
pub(crate) fn agent(state: &AppState) -> Result<&Arc<Shared>, A2aError> {
    match &state.mode {
        Mode::Ready(shared) => Ok(shared),
        Mode::NotConfigured { detail, .. } => Err(A2aError::NotConfigured(detail.clone())),
    }
}
