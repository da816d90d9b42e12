//! The egress policy of push deliveries, the same rules skills' outgoing HTTP follows
//! (`molecule-egress`): a webhook URL is `http` or `https` with a host; its name is resolved
//! once per request and every address it resolves to must be public unless the operator
//! allowed that host (`a2a.push.allow_hosts`); the request then connects to exactly the
//! address that was checked, and redirects are not followed (see `deliver.rs`).
//!
//! The address classes (loopback, private, link-local incl. the 169.254.169.254 metadata
//! service, CGNAT, multicast, reserved/documentation, unspecified, broadcast; IPv6 forms that
//! embed an IPv4 address judged by that address) follow `molecule-egress`'s `classify`; they
//! are repeated here because molecule-a2a must stay free of the wasmtime stack that crate
//! links.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// A webhook target that passed the policy: the URL, its host as written (lowercase, no
/// brackets) and the one address to connect to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) url: Url,
    pub(crate) host: String,
    pub(crate) addr: SocketAddr,
}

/// Checks a webhook `url` against the policy, resolving its host once. `allow_hosts` are
/// host names or IP literals (lowercase) whose non-public addresses are allowed.
///
/// Errors: a sentence naming the URL's host and the rule it breaks (not http(s), no host,
/// DNS failure, a non-public address not allowed).
pub(crate) async fn check(url: &str, allow_hosts: &[String]) -> Result<Target, String> {
    let parsed = Url::parse(url).map_err(|e| format!("`url` is not a valid URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(format!("`url` must be http or https, got `{other}`")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("`url` must not carry credentials (use `authentication`)".into());
    }
    let host = parsed
        .host_str()
        .ok_or("`url` has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = parsed.port_or_known_default().ok_or("`url` has no port")?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| {
                format!(
                    "cannot resolve the host `{}`: {e}",
                    crate::error::clip(&host)
                )
            })?
            .collect(),
    };
    let first = *addrs.first().ok_or_else(|| {
        format!(
            "the host `{}` resolves to no address",
            crate::error::clip(&host)
        )
    })?;
    let allowed = allow_hosts.iter().any(|h| h == &host);
    if !allowed {
        // Every address must be public: a name that also resolves to a private address is
        // refused, whichever address a resolver would hand out first next time.
        if let Some((addr, why)) = addrs
            .iter()
            .find_map(|a| restricted(a.ip()).map(|why| (a, why)))
        {
            return Err(format!(
                "the host `{}` resolves to {} ({why}), not a public address; allow the host \
                 in `a2a.push.allow_hosts`",
                crate::error::clip(&host),
                addr.ip()
            ));
        }
    }
    Ok(Target {
        url: parsed,
        host,
        addr: first,
    })
}

/// `None` for a public unicast address, else what kind of address it is.
pub(crate) fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => restricted_v6(v6),
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private network",
        (169, 254, _) => "link-local, includes cloud metadata 169.254.169.254",
        (100, 64..=127, _) => "carrier-grade NAT",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _)
        | (192, 0, 0)
        | (192, 0, 2)
        | (198, 51, 100)
        | (203, 0, 113)
        | (198, 18..=19, _) => "reserved or documentation range",
        _ => return None,
    })
}

fn restricted_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return restricted_v4(v4);
    }
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) {
        return restricted_v4(low); // IPv4-compatible, NAT64
    }
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return restricted_v4(v4); // 6to4
    }
    Some(match s[0] {
        0xfc00..=0xfdff | 0xfec0..=0xfeff => "private network",
        0xfe80..=0xfebf => "link-local",
        0xff00..=0xffff => "multicast",
        0x0000 => "reserved",
        0x0100 if s[1..4] == [0, 0, 0] => "reserved",
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "private network",
        0x2001 if s[1] == 0 || s[1] == 0x0db8 || (s[1] == 2 && s[2] == 0) => {
            "reserved or documentation range"
        }
        0x3fff if s[1] < 0x1000 => "reserved or documentation range",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_special_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::ffff:127.0.0.1",
            "fd00::1",
            "fe80::1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
        ] {
            assert!(restricted(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert_eq!(restricted(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn refuses_private_unless_allowed() {
        let e = check("http://127.0.0.1:9/hook", &[]).await.unwrap_err();
        assert!(
            e.contains("a2a.push.allow_hosts") && e.contains("loopback"),
            "{e}"
        );
        let t = check("http://127.0.0.1:9/hook", &["127.0.0.1".into()])
            .await
            .unwrap();
        assert_eq!(t.addr, "127.0.0.1:9".parse().unwrap());
        let e = check("ftp://example.com/x", &[]).await.unwrap_err();
        assert!(e.contains("http or https"), "{e}");
        let e = check("http://u:p@8.8.8.8/x", &[]).await.unwrap_err();
        assert!(e.contains("credentials"), "{e}");
        assert!(check("not a url", &[]).await.is_err());
    }
}
