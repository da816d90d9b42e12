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
/// refused); or a name ending in one of [`PRIVATE_SUFFIXES`] (case-insensitive, one trailing
/// dot allowed). Anything else — public names and addresses, CGNAT, `0.0.0.0`, empty labels —
/// is false.
pub fn off_the_internet(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return matches!(
            classify(ip),
            Some(Restricted::Loopback | Restricted::Private | Restricted::LinkLocal)
        );
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
        ] {
            assert!(!off_the_internet(public), "{public}");
        }
    }
}
