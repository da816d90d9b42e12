//! [`off_the_internet`]: whether a URL's host cannot be a public internet name or address, so
//! plain `http://` / `ws://` to it keeps a credential (a workspace token, a Langfuse secret key)
//! off the public internet. Shared by every place that allows plain HTTP only "inside":
//! `LANGFUSE_HOST` (`cli/langfuse.rs`) and the outbound relay's `PLATFORM_URL`
//! (`outbound/mod.rs`).

use crate::classify::{classify, Restricted};

/// Name suffixes reserved for networks that are not the public internet (RFC 6761/6762
/// `local`, `localhost`; RFC 8375 `home.arpa`; ICANN's reserved `internal`; Kubernetes'
/// `svc` and `svc.cluster.local`, which `local` already covers).
pub const PRIVATE_SUFFIXES: [&str; 5] = ["svc", "local", "localhost", "internal", "home.arpa"];

/// Whether `host` (a URL's host: a name, an IPv4 literal or a bracketed IPv6 literal) cannot be
/// reached across the public internet: a loopback, private (10/8, 172.16/12, 192.168/16,
/// fc00::/7) or link-local (169.254/16, fe80::/10) address as [`classify`] judges it;
/// `localhost`; a single-label name (a compose or Kubernetes service name such as `platform`,
/// resolved through the local search domains; a trailing dot makes it a top-level domain,
/// refused — a deliberate trust: a single label that no search domain resolves may fall back
/// to a public top-level domain with an address of its own, such as `ai`, so name in-cluster
/// hosts fully, e.g. `langfuse-web.ns.svc`, where that matters); or a name ending in one of [`PRIVATE_SUFFIXES`] (case-insensitive, one trailing
/// dot allowed). Anything else — public names and addresses, CGNAT, `0.0.0.0`, empty labels —
/// is false.
pub fn off_the_internet(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => return v4_inside(ip),
        Ok(std::net::IpAddr::V6(ip)) => return v6_inside(ip),
        Err(_) => {}
    }
    let name = host.to_ascii_lowercase();
    if !name.contains('.') {
        return !name.is_empty(); // a single label without a trailing dot
    }
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name.split('.').any(str::is_empty) {
        return false;
    }
    name == "localhost"
        || PRIVATE_SUFFIXES
            .iter()
            .any(|suffix| name.ends_with(&format!(".{suffix}")))
}

/// An IPv4 address on a loopback, private or link-local network ([`classify`]).
fn v4_inside(ip: std::net::Ipv4Addr) -> bool {
    matches!(
        classify(ip.into()),
        Some(Restricted::Loopback | Restricted::Private | Restricted::LinkLocal)
    )
}

/// An IPv6 address that is itself loopback (`::1`), unique-local (fc00::/7) or link-local
/// (fe80::/10), or an IPv4-mapped address (`::ffff:a.b.c.d`, which the socket reaches over
/// IPv4) of an inside IPv4 address. Unlike [`classify`], which looks inside 6to4
/// (2002::/16), NAT64 (64:ff9b::/96) and IPv4-compatible (`::a.b.c.d`) forms to *block* them,
/// those are not inside here: their packets leave by the default IPv6 route or a translator.
fn v6_inside(ip: std::net::Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_inside(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::off_the_internet;

    #[test]
    fn inside_names_and_addresses() {
        for inside in [
            "platform",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "p.ns.svc",
            "p.ns.svc.cluster.local",
            "p.corp.internal",
            "p.local.",
            "P.HOME.ARPA",
            "10.1.2.3",
            "172.20.0.5",
            "192.168.1.9",
            "169.254.1.1",
            "[fd00::5]",
            "[fe80::1]",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(off_the_internet(inside), "{inside}");
        }
        for public in [
            "p.example.com",
            "ai.",
            "svc.",
            "evil.svc.example.com",
            "local.example",
            "a..local",
            "",
            "8.8.8.8",
            "100.64.0.1",
            "0.0.0.0",
            "[2606:4700::1111]",
            "[2002:a00:1::1]",
            "[::10.0.0.1]",
            "[64:ff9b::10.0.0.1]",
            "[::ffff:8.8.8.8]",
        ] {
            assert!(!off_the_internet(public), "{public}");
        }
    }
}
