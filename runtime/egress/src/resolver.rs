//! DNS resolution behind a trait, so the hook resolves each request's host exactly once and
//! tests can substitute a fixed map (and count calls).

//! [`Resolver`]: turns a host name into addresses; [`SystemResolver`] and [`StaticResolver`].

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Resolves a DNS name to the addresses to connect to. The egress hook calls it once per
/// request and connects only to addresses from that one answer.
#[async_trait::async_trait]
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` (a DNS name, never an IP literal). An empty answer counts as
    /// "not found".
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver, through `tokio::net::lookup_host`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((host, port)).await?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        Ok(ips)
    }
}

/// A fixed name → addresses map, for tests. Counts calls; a host may be given a sequence of
/// answers (one per call, the last repeating) to model a DNS server that rebinds.
#[derive(Debug, Default)]
pub struct StaticResolver {
    answers: Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    calls: AtomicUsize,
}

impl StaticResolver {
    /// An empty map: every name is "not found".
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `addrs` for `host` on every call.
    pub fn with(self, host: &str, addrs: &[IpAddr]) -> Self {
        self.with_sequence(host, &[addrs])
    }

    /// Answers `answers[0]` on the first call for `host`, `answers[1]` on the second, and so on,
    /// repeating the last one.
    pub fn with_sequence(self, host: &str, answers: &[&[IpAddr]]) -> Self {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                host.to_ascii_lowercase(),
                answers.iter().rev().map(|a| a.to_vec()).collect(),
            );
        self
    }

    /// How many times [`Resolver::resolve`] has been called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Resolver for StaticResolver {
    async fn resolve(&self, host: &str, _port: u16) -> io::Result<Vec<IpAddr>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut map = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stack) = map.get_mut(&host.to_ascii_lowercase()) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host}: not in the test resolver's map"),
            ));
        };
        // Answers are stored in reverse: pop until one is left, which then repeats.
        let answer = if stack.len() > 1 {
            stack.pop().unwrap_or_default()
        } else {
            stack.last().cloned().unwrap_or_default()
        };
        Ok(answer)
    }
}
