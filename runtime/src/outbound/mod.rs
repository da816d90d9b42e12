//! The outbound relay: a workspace behind NAT (no inbound port reachable) opens a WebSocket to
//! the platform (`GET {PLATFORM_URL}/workspaces/{id}/connect`, `ws://` or `wss://`, with its
//! bearer token and `X-Workspace-ID`) and serves the A2A requests that arrive over it on its own
//! A2A router, in process; the TCP listener keeps serving meanwhile. The frames are
//! `molecule_platform::relay_frame` (documented in the README, "Workspaces behind NAT").
//!
//! - `client.rs`: connect, reconnect with jittered exponential backoff, keepalive;
//! - `session.rs`: one connected socket — read frames, multiplex requests by id under the
//!   in-flight cap, write the answers;
//! - `dispatch.rs`: one relayed request through the router (`tower::ServiceExt::oneshot`),
//!   its response as `head`, `body`… and `end` frames.

mod client;
mod dispatch;
mod session;

pub use session::MAX_OWN_QUEUED;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use molecule_platform::{Backoff, PlatformClient};
use tokio::task::JoinHandle;

/// How the relay behaves; [`RelayOptions::default`] is what a workspace uses.
#[derive(Debug, Clone, Copy)]
pub struct RelayOptions {
    /// Reconnect schedule: waits `min(base·2ⁿ, max)`, jittered to 50–100 %; `attempts` is
    /// ignored (the relay retries for as long as the workspace runs). Default 0.5 s → 30 s.
    pub backoff: Backoff,
    /// Interval between pings; two unanswered pings end the connection. Default 20 s.
    pub ping_every: Duration,
    /// Most relayed requests served at once; more answer 503 with `Retry-After: 1`.
    /// Default 32.
    pub max_in_flight: usize,
    /// Longest time to open the socket (TCP, TLS and the WebSocket upgrade); then the attempt
    /// counts as failed and the relay retries on `backoff`. Default 15 s.
    pub connect_timeout: Duration,
    /// Longest time one frame (or a ping, or a pong's flush) may take to leave; a platform that
    /// stops reading ends the session (and the relay reconnects) instead of stalling it.
    /// Default 20 s.
    pub send_timeout: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            backoff: Backoff {
                attempts: u32::MAX,
                base: Duration::from_millis(500),
                max: Duration::from_secs(30),
                jitter: true,
            },
            ping_every: Duration::from_secs(20),
            max_in_flight: 32,
            connect_timeout: Duration::from_secs(15),
            send_timeout: Duration::from_secs(20),
        }
    }
}

/// Counters of a running relay.
#[derive(Debug, Default)]
pub struct RelayStats {
    connects: AtomicUsize,
    relayed: AtomicUsize,
    refused: AtomicUsize,
    own_peak: AtomicUsize,
}

impl RelayStats {
    /// Connections opened so far.
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::Relaxed)
    }
    /// Requests dispatched to the router so far.
    pub fn relayed(&self) -> usize {
        self.relayed.load(Ordering::Relaxed)
    }
    /// Requests and frames refused (in-flight cap, a request id already in flight, an invalid
    /// frame) so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
    /// Most frames the relay's sessions had waiting at once of their own answers (503
    /// refusals, cancel answers); at most [`MAX_OWN_QUEUED`] + 2.
    pub fn own_queue_peak(&self) -> usize {
        self.own_peak.load(Ordering::Relaxed)
    }
}

/// A running relay; dropping it closes the socket and stops reconnecting.
pub struct OutboundRelay {
    stats: Arc<RelayStats>,
    task: JoinHandle<()>,
}

impl Drop for OutboundRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OutboundRelay {
    /// Starts relaying for the workspace `platform` speaks for, serving on `router`.
    ///
    /// # Errors
    /// The platform URL is not `http://` or `https://`.
    pub fn spawn(
        platform: PlatformClient,
        router: Router,
        options: RelayOptions,
    ) -> anyhow::Result<OutboundRelay> {
        let url = connect_url(platform.base_url(), platform.workspace_id())?;
        let stats = Arc::new(RelayStats::default());
        let task = tokio::spawn(client::run(client::Relay {
            url,
            platform,
            router,
            options,
            stats: stats.clone(),
        }));
        Ok(OutboundRelay { stats, task })
    }

    /// The relay's counters.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }
}

/// The socket URL for workspace `id` on `platform_url`: `http` → `ws`, `https` → `wss`, path
/// `/workspaces/{id}/connect` (`molecule_platform::relay_frame::CONNECT_PATH`).
///
/// # Errors
/// Another scheme, or an id that is not a plain path segment.
pub fn connect_url(platform_url: &str, id: &str) -> anyhow::Result<String> {
    let base = platform_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        if !inside(base) {
            anyhow::bail!(
                "PLATFORM_URL is plain http:// to a host that may be on the public internet: \
                 the outbound relay would send the workspace token across it unencrypted; use \
                 https:// (plain ws:// is accepted only for hosts that cannot be public names: \
                 single-label names such as `platform`, `*.svc`, `*.svc.cluster.local`, \
                 `*.internal`, `*.local`, `*.home.arpa`, localhost, and loopback, private, \
                 unique-local or link-local IP addresses)"
            );
        }
        format!("ws://{rest}")
    } else {
        anyhow::bail!("PLATFORM_URL must start with http:// or https:// for the outbound relay");
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || !id.chars().all(plain) {
        anyhow::bail!(
            "WORKSPACE_ID must be letters, digits, `-`, `_` or `.` for the outbound relay"
        );
    }
    let path = molecule_platform::relay_frame::CONNECT_PATH.replace("{id}", id);
    Ok(format!("{ws}{path}"))
}

/// Whether `url`'s host cannot be a public internet name or address (the rule
/// `LANGFUSE_HOST` follows too: `molecule_egress::off_the_internet`).
fn inside(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(molecule_egress::off_the_internet))
        .unwrap_or(false)
}

#[cfg(test)]
mod url_tests {
    use super::connect_url;

    #[test]
    fn socket_urls_follow_the_platform_scheme() {
        assert_eq!(
            connect_url("https://p.example/", "ws-1").expect("https"),
            "wss://p.example/workspaces/ws-1/connect"
        );
        assert_eq!(
            connect_url("http://127.0.0.1:8080", "a").expect("http"),
            "ws://127.0.0.1:8080/workspaces/a/connect"
        );
        assert!(connect_url("ftp://x", "a").is_err());
        // The token never goes in the clear to a host that may be on the public internet.
        for public in [
            "http://p.example",
            "http://p.example.com:8080",
            "http://8.8.8.8",
            "http://100.64.0.1",
            "http://platform.",
            "http://evil.svc.example.com",
        ] {
            let err = connect_url(public, "a").expect_err(public).to_string();
            assert!(
                err.contains("PLATFORM_URL") && err.contains("https"),
                "{err}"
            );
        }
        // It goes as plain ws:// to names that cannot be public (the seed's
        // `http://platform:8080`), the rule LANGFUSE_HOST follows.
        for inside in [
            "http://platform:8080",
            "http://platform.molecule.svc.cluster.local:8080",
            "http://platform.corp.internal",
            "http://10.0.0.1:8080",
            "http://[fd00::1]:8080",
            "http://[::1]:8080",
            "http://localhost:8080",
        ] {
            assert!(connect_url(inside, "a").is_ok(), "{inside}");
        }
        assert_eq!(
            connect_url("http://platform:8080", "ws-1").expect("in-cluster"),
            "ws://platform:8080/workspaces/ws-1/connect"
        );
        assert!(connect_url("http://x", "a/../b").is_err());
    }
}
