//! A fake Molecule platform for tests and local experiments (feature `fake`). It serves every
//! endpoint the runtime uses from in-memory state on `127.0.0.1`, checks auth the way the real
//! platform does (bearer token of the calling workspace, admin token for creation), records
//! every call (method, path, headers, body, status, time) and can be told to misbehave: fail
//! the next N calls, go down (connections cut), forget a workspace or everything (a restart
//! with empty state: calls answer 401 "register first"), answer one status to every call,
//! hang or slow down every call ([`Fault`]), queue or refuse A2A messages. It proxies `POST /workspaces/{peer}/a2a` to the peer's registered URL, so two
//! real workspaces can delegate through it, or through the socket a workspace behind NAT opened
//! (`GET /workspaces/{id}/connect`, the outbound relay: `relay.rs`). The server stops when the [`FakePlatform`] drops.

mod auth;
mod faults;
mod net;
mod relay;
mod routes;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use faults::Fault;
pub use state::RecordedCall;
use state::{PeerMode, State, WsRecord};

/// Default admin token of a fake platform (override with [`FakePlatform::start_with`]).
pub const DEFAULT_ADMIN_TOKEN: &str = "fake-admin-token";

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: faults::Faults,
    pub admin_token: String,
    pub http: reqwest::Client,
    pub base_url: String,
    pub relays: relay::Relays,
}

/// A running fake platform.
pub struct FakePlatform {
    shared: Arc<Shared>,
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakePlatform {
    fn drop(&mut self) {
        self.down.store(true, Ordering::SeqCst);
        // Release hung calls so their connection tasks end.
        self.shared.faults.now.send_replace(Fault::None);
        self.task.abort();
    }
}

impl FakePlatform {
    /// Starts on `127.0.0.1:0` with [`DEFAULT_ADMIN_TOKEN`].
    pub async fn start() -> FakePlatform {
        FakePlatform::start_with("127.0.0.1:0", DEFAULT_ADMIN_TOKEN)
            .await
            .expect("bind 127.0.0.1:0 for the fake platform")
    }

    /// Starts on `bind` (e.g. `127.0.0.1:8080`) with the given admin token.
    pub async fn start_with(bind: &str, admin_token: &str) -> std::io::Result<FakePlatform> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let down = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            faults: faults::Faults::new(),
            admin_token: admin_token.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("HTTP client"),
            base_url: format!("http://{addr}"),
            relays: relay::Relays::default(),
        });
        let app = routes::router(shared.clone());
        let gated = net::GatedListener {
            inner: listener,
            down: down.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(gated, app).await;
        });
        Ok(FakePlatform {
            shared,
            addr,
            down,
            task,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (use as `PLATFORM_URL`).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The admin token `POST /workspaces` expects.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.shared.state.lock().expect("fake state"))
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.with(|s| s.calls.clone())
    }
    /// Calls with this method whose path (without query) equals `path`.
    pub fn calls_to(&self, method: &str, path: &str) -> Vec<RecordedCall> {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| c.method == method && c.path == path)
                .cloned()
                .collect()
        })
    }
    /// Forgets recorded calls.
    pub fn clear_calls(&self) {
        self.with(|s| s.calls.clear())
    }

    /// The next `n` calls (any endpoint) answer 503.
    pub fn fail_next(&self, n: usize) {
        self.fail_next_with(n, 503)
    }
    /// The next `n` calls (any endpoint) answer `status`.
    pub fn fail_next_with(&self, n: usize, status: u16) {
        self.with(|s| s.fail_next = Some((n, status)))
    }
    /// Sets the fault every call meets from now on ([`Fault::None`] lifts it; hung calls are
    /// then served).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.faults.now.send_replace(fault);
    }
    /// Calls hanging now ([`Fault::Hang`]).
    pub fn hanging_calls(&self) -> usize {
        self.shared.faults.hanging()
    }
    /// Hung calls whose client gave up before the hang was lifted.
    pub fn abandoned_calls(&self) -> usize {
        self.shared.faults.abandoned()
    }
    /// Every call that ever hung.
    pub fn hung_calls_total(&self) -> usize {
        self.shared.faults.hung_total()
    }
    /// The platform restarted with empty state: every workspace, token and inbound secret is
    /// gone, so authenticated calls answer 401 "workspace has no token: register first" until
    /// the workspace registers again (which mints a new token). Recorded calls, secrets,
    /// memories and activity stay for the test to inspect.
    pub fn forget_everything(&self) {
        self.with(|s| {
            s.workspaces.clear();
            s.forgotten.clear();
        })
    }
    /// Down: connections are cut (transport errors). Up again with `set_down(false)`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst)
    }

    /// Pre-creates a workspace (as the platform's provisioner would) with a minted token,
    /// returned (hand it to the workspace as `MOLECULE_WORKSPACE_TOKEN`).
    pub fn provision(&self, id: &str, name: &str, parent_id: Option<&str>) -> String {
        self.with(|s| {
            let rec = s
                .workspaces
                .entry(id.to_string())
                .or_insert_with(|| WsRecord::new(id));
            rec.name = name.to_string();
            rec.parent_id = parent_id.map(str::to_string);
            rec.token.get_or_insert_with(state::mint).clone()
        })
    }
    /// Sets a workspace's parent (creating the record if needed).
    pub fn set_parent(&self, id: &str, parent_id: Option<&str>) {
        self.with(|s| {
            s.workspaces
                .entry(id.to_string())
                .or_insert_with(|| WsRecord::new(id))
                .parent_id = parent_id.map(str::to_string)
        })
    }
    /// The platform forgets `id`: heartbeats answer 404 "unknown workspace" until it registers
    /// again (its token stays valid).
    pub fn forget(&self, id: &str) {
        self.with(|s| {
            s.forgotten.insert(id.to_string());
        })
    }
    /// The token minted for `id`.
    pub fn token_of(&self, id: &str) -> Option<String> {
        self.with(|s| s.workspaces.get(id).and_then(|w| w.token.clone()))
    }
    /// The inbound secret the platform presents to `id` (and returns in its answers).
    pub fn inbound_secret_of(&self, id: &str) -> Option<String> {
        self.with(|s| s.workspaces.get(id).map(|w| w.inbound_secret.clone()))
    }
    /// Rotates `id`'s inbound secret; the next heartbeat answer carries the new one.
    pub fn rotate_inbound_secret(&self, id: &str) -> Option<String> {
        self.with(|s| {
            s.workspaces.get_mut(id).map(|w| {
                w.inbound_secret = state::mint();
                w.inbound_secret.clone()
            })
        })
    }
    /// Registration state of `id`: `{id, name, parent_id, url, agent_card, registered,
    /// last_heartbeat}`.
    pub fn workspace(&self, id: &str) -> Option<Value> {
        self.with(|s| s.workspaces.get(id).map(WsRecord::to_json))
    }
    /// Secrets served to `id` by `GET /workspaces/{id}/secrets`.
    pub fn set_secrets(&self, id: &str, secrets: BTreeMap<String, String>) {
        self.with(|s| {
            s.secrets.insert(id.to_string(), secrets);
        })
    }
    /// Activity bodies posted by `id`.
    pub fn activities(&self, id: &str) -> Vec<Value> {
        self.with(|s| {
            s.activities
                .iter()
                .filter(|(w, _)| w == id)
                .map(|(_, b)| b.clone())
                .collect()
        })
    }
    /// Notify bodies posted by `id`.
    pub fn notifications(&self, id: &str) -> Vec<Value> {
        self.with(|s| {
            s.notifications
                .iter()
                .filter(|(w, _)| w == id)
                .map(|(_, b)| b.clone())
                .collect()
        })
    }
    /// All stored memories.
    pub fn memories(&self) -> Vec<Value> {
        self.with(|s| s.memories.clone())
    }

    /// A2A to `peer` answers 202 `{queued:true, queue_id}` from now on.
    pub fn queue_a2a(&self, peer: &str) {
        self.with(|s| s.a2a_mode.insert(peer.to_string(), PeerMode::Queue));
    }
    /// The next `n` A2A messages to `peer` answer 503 with `Retry-After` (when given); then
    /// the peer's mode (proxy, queue or echo) applies again.
    pub fn busy_a2a(&self, peer: &str, n: usize, retry_after: Option<Duration>) {
        self.with(|s| s.a2a_busy.insert(peer.to_string(), (n, retry_after)));
    }
    /// A2A to `peer` is answered by the platform itself with
    /// `{jsonrpc, id, result: {echo: <request>}}` (no real peer needed).
    pub fn echo_a2a(&self, peer: &str) {
        self.with(|s| s.a2a_mode.insert(peer.to_string(), PeerMode::Echo));
    }
    /// A2A to `peer` is proxied to its registered URL again (the default).
    pub fn proxy_a2a(&self, peer: &str) {
        self.with(|s| s.a2a_mode.remove(peer));
    }

    /// WebSockets `id` has opened to the relay so far (`GET /workspaces/{id}/connect`).
    pub fn relay_connections(&self, id: &str) -> usize {
        self.shared.relays.opened(id)
    }
    /// Whether `id` has a live relay socket.
    pub fn relay_connected(&self, id: &str) -> bool {
        self.shared.relays.connected(id)
    }
    /// Cuts `id`'s relay socket without a close frame (requests on it break off); false when
    /// it has none.
    pub fn cut_relay(&self, id: &str) -> bool {
        self.shared.relays.cut(id)
    }
    /// Sends `text` as one raw text message on `id`'s relay socket; false when it has none.
    pub fn relay_send_raw(&self, id: &str, text: String) -> bool {
        self.shared.relays.send_raw(id, text)
    }
}
