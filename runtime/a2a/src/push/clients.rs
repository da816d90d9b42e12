//! The webhook HTTP clients, one per (host as written, resolved address): a reqwest client
//! pins a name to the address the egress policy checked (`resolve`), so a client is only
//! reusable for that same pair — and reusing it keeps its connection pool (no new TCP/TLS
//! handshake per notification). Every client follows no redirects, ignores proxies and has
//! the push timeout. At most [`MAX_CLIENTS`] are kept; past that the cache starts over.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Clients kept at most (distinct webhook host/address pairs).
pub(super) const MAX_CLIENTS: usize = 256;

/// The cache.
#[derive(Default)]
pub(super) struct Clients {
    map: Mutex<HashMap<(String, SocketAddr), reqwest::Client>>,
    built: AtomicU64,
}

impl Clients {
    /// The client for `host` pinned to `addr` (built on first use).
    ///
    /// Errors: reqwest cannot build a client (TLS backend failure), as a sentence.
    pub(super) fn get(
        &self,
        host: &str,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<reqwest::Client, String> {
        let key = (host.to_string(), addr);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout);
        if host.parse::<IpAddr>().is_err() {
            builder = builder.resolve(host, addr);
        }
        let client = builder.build().map_err(|e| format!("http client: {e}"))?;
        if map.len() >= MAX_CLIENTS {
            map.clear();
        }
        map.insert(key, client.clone());
        self.built.fetch_add(1, Ordering::Relaxed);
        Ok(client)
    }

    /// Clients built so far.
    pub(super) fn built(&self) -> u64 {
        self.built.load(Ordering::Relaxed)
    }
}
