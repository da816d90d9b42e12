//! The relay's connect loop: open the socket with the workspace's current token, serve it
//! until it ends, wait (jittered exponential backoff, reset after a session that lived at least
//! one ping interval), and open it again — for as long as the relay runs. Without a token yet (the first
//! registration has not answered) it waits, silently and without polling, until the
//! registration's answer brings one (`TokenStore::wait`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::HeaderValue;
use axum::Router;
use molecule_platform::relay_frame::MAX_FRAME_BYTES;
use molecule_platform::PlatformClient;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{session, RelayOptions, RelayStats};
use crate::redact::escape;

/// Everything the loop needs.
pub(super) struct Relay {
    pub(super) url: String,
    pub(super) platform: PlatformClient,
    pub(super) router: Router,
    pub(super) options: RelayOptions,
    pub(super) stats: Arc<RelayStats>,
}

/// Connects, serves and reconnects until the task is aborted.
pub(super) async fn run(relay: Relay) {
    if relay.platform.tokens().get().is_none() {
        tracing::debug!("outbound relay waits for the first registration's token");
        relay.platform.tokens().wait().await;
    }
    let mut failures = 0u32;
    loop {
        match connect(&relay).await {
            Ok(socket) => {
                relay.stats.connects.fetch_add(1, Ordering::Relaxed);
                tracing::info!(url = %relay.url, "outbound relay connected");
                let opened = tokio::time::Instant::now();
                let why = session::serve(socket, &relay.router, &relay.options, &relay.stats).await;
                failures =
                    failures_after_session(failures, opened.elapsed(), relay.options.ping_every);
                tracing::warn!(reason = %escape(&why), "outbound relay disconnected; reconnecting");
            }
            Err(e) => {
                tracing::warn!(url = %relay.url, error = %escape(&e), attempt = failures + 1,
                    "outbound relay cannot connect; retrying")
            }
        }
        tokio::time::sleep(relay.options.backoff.delay(failures)).await;
        failures = failures.saturating_add(1);
    }
}

/// The failure count after a session that lived `lived`: reset (0) when it lived at least one
/// ping interval (`ping_every`, so the platform kept it), else unchanged — a platform that
/// accepts and closes at once backs off like one that refuses (the loop then adds one).
pub(super) fn failures_after_session(
    failures: u32,
    lived: std::time::Duration,
    ping_every: std::time::Duration,
) -> u32 {
    if lived >= ping_every {
        0
    } else {
        failures
    }
}

/// Installs rustls' `ring` provider as the process default, once (rustls is built with more
/// than one provider in this process, so `wss://` would otherwise have none to pick); a
/// provider installed first by another part of the process is kept.
fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Opens one socket: `Authorization: Bearer <token>` and `X-Workspace-ID`, frames capped at
/// `MAX_FRAME_BYTES`, all of it within `options.connect_timeout`.
async fn connect(relay: &Relay) -> Result<session::Socket, String> {
    install_tls_provider();
    let token = relay
        .platform
        .tokens()
        .get()
        .ok_or("no workspace token yet (waiting for registration)")?;
    let mut req = relay
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the workspace token cannot be sent in a header".to_string())?;
    let id = HeaderValue::from_str(relay.platform.workspace_id())
        .map_err(|_| "the workspace id cannot be sent in a header".to_string())?;
    req.headers_mut().insert("authorization", bearer);
    req.headers_mut().insert("x-workspace-id", id);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    let connecting = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
    let limit = relay.options.connect_timeout;
    let (socket, _) = tokio::time::timeout(limit, connecting)
        .await
        .map_err(|_| format!("connecting took over {limit:?}"))?
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::failures_after_session;

    #[test]
    fn only_a_session_that_lived_a_ping_interval_resets_the_backoff() {
        let ping = Duration::from_secs(20);
        assert_eq!(failures_after_session(5, Duration::from_secs(20), ping), 0);
        assert_eq!(failures_after_session(5, Duration::from_secs(600), ping), 0);
        assert_eq!(
            failures_after_session(5, Duration::from_millis(10), ping),
            5
        );
        assert_eq!(failures_after_session(5, Duration::from_secs(19), ping), 5);
        assert_eq!(failures_after_session(0, Duration::ZERO, ping), 0);
    }
}
