//! Connections open per client IP address, so one address cannot take every connection slot
//! of `listen` (`ServeOptions::max_connections_per_client`); the gRPC listener
//! (`grpc/incoming.rs`) counts its connections the same way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Open connections by client address, capped per address.
pub(crate) struct Clients {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    cap: usize,
}

impl Clients {
    /// No connections yet; each address may hold `cap` at once.
    pub(crate) fn new(cap: usize) -> Self {
        Clients {
            open: Arc::default(),
            cap,
        }
    }

    /// A slot for one more connection from `ip`, or `None` when it already holds `cap`.
    pub(crate) fn admit(&self, ip: IpAddr) -> Option<ClientSlot> {
        let mut open = lock(&self.open);
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            open: self.open.clone(),
            ip,
        })
    }
}

fn lock(m: &Mutex<HashMap<IpAddr, usize>>) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One open connection of a client; its count drops when this does.
pub(crate) struct ClientSlot {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_capped_and_freed_on_close() {
        let clients = Clients::new(2);
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let first = clients.admit(a).expect("first");
        let _second = clients.admit(a).expect("second");
        assert!(
            clients.admit(a).is_none(),
            "third from the same address refused"
        );
        assert!(clients.admit(b).is_some(), "another address still served");
        drop(first);
        assert!(
            clients.admit(a).is_some(),
            "a closed connection frees its place"
        );
    }
}
