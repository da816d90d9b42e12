//! The egress allowlist: origins parsed from `scheme://host[:port]` strings, the component they
//! belong to, and the limits (timeouts, response size) every outgoing request runs under.

//! [`EgressPolicy`]: which origins a component may reach, and under which limits.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

/// URL scheme of an origin. Only plain HTTP and HTTPS exist for skills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http://`, default port 80.
    Http,
    /// `https://`, default port 443.
    Https,
}

impl Scheme {
    /// The port used when an origin or URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Parses a scheme name (case-insensitive); `None` for anything but http and https.
    pub fn parse(name: &str) -> Option<Scheme> {
        match name.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

/// The host part of an allowlist entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// An IP address written literally (`http://10.0.0.5:8080`, `http://[::1]:80`).
    Ip(IpAddr),
    /// One exact DNS name, lowercase, without a trailing dot (`api.example.com`, `localhost`).
    Name(String),
    /// `*.example.com`: any name strictly below `example.com` (stored as `example.com`).
    /// A wildcard never grants private or loopback addresses.
    Subdomains(String),
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Name(name) => f.write_str(name),
            HostPattern::Subdomains(base) => write!(f, "*.{base}"),
        }
    }
}

/// One allowlist entry: scheme, host (or host pattern) and port, all of which must match.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host, IP or `*.` pattern.
    pub host: HostPattern,
    /// The port; the scheme's default when the entry names none.
    pub port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// The host a request names, normalized for comparison with [`HostPattern`]s.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestHost {
    /// An IP literal (IPv6 given in brackets in the URL).
    Ip(IpAddr),
    /// A DNS name, lowercase, without a trailing dot.
    Name(String),
}

impl RequestHost {
    /// Parses the host of a URL authority (`example.com`, `10.0.0.1`, `[::1]`).
    pub fn parse(host: &str) -> Option<RequestHost> {
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return inner.parse().ok().map(RequestHost::Ip);
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(RequestHost::Ip(ip));
        }
        let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        valid_dns_name(&name).then_some(RequestHost::Name(name))
    }
}

impl fmt::Display for RequestHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            RequestHost::Ip(ip) => write!(f, "{ip}"),
            RequestHost::Name(name) => f.write_str(name),
        }
    }
}

/// How a request's origin matched the allowlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// No entry matches: the request is denied.
    Denied,
    /// Matched only through a `*.` wildcard: private addresses stay refused.
    Pattern,
    /// The exact host (IP or name) is granted: any address it resolves to is allowed,
    /// including loopback and private ones.
    Literal,
}

/// Per-request time limits. A guest may ask for shorter ones through `request-options`,
/// never for longer ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Bound on the one DNS resolution of a request.
    pub dns: Duration,
    /// Bound on TCP connect plus TLS and HTTP handshakes.
    pub connect: Duration,
    /// Bound from sending the request to receiving the response head.
    pub first_byte: Duration,
    /// Bound on the silence between two chunks of the response body.
    pub between_bytes: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            dns: Duration::from_secs(5),
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(30),
            between_bytes: Duration::from_secs(30),
        }
    }
}

/// Default cap on one response body: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// An allowlist entry that could not be parsed. The message names the config key, the entry
/// and what to write instead.
#[derive(Debug, thiserror::Error)]
#[error("{key}: entry {entry:?} is not a valid origin: {reason}")]
pub struct PolicyError {
    /// The config key the entry came from (`grants.skills.<id>.hosts`).
    pub key: String,
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it and how to write it.
    pub reason: String,
}

/// What one component may reach over outgoing HTTP, and the limits of each request.
///
/// Build it with [`EgressPolicy::new`] from the `hosts` grant of the component; an empty list
/// denies every request.
#[derive(Clone, Debug)]
pub struct EgressPolicy {
    component: String,
    grant_key: String,
    origins: Vec<Origin>,
    timeouts: Timeouts,
    max_response_bytes: u64,
    extra_roots: Vec<CertificateDer<'static>>,
    offline: Option<String>,
}

impl EgressPolicy {
    /// Parses `hosts` (`scheme://host[:port]`, optionally `scheme://*.domain[:port]`) for the
    /// skill `component`; errors name the key `grants.skills.<component>.hosts` and the entry.
    pub fn new<S: AsRef<str>>(component: &str, hosts: &[S]) -> Result<Self, PolicyError> {
        Self::with_key(
            component,
            &format!("grants.skills.{component}.hosts"),
            hosts,
        )
    }

    /// Like [`EgressPolicy::new`], for a grant stored under another config key (an adapter's,
    /// for example). `grant_key` appears in errors and in every denial logged.
    pub fn with_key<S: AsRef<str>>(
        component: &str,
        grant_key: &str,
        hosts: &[S],
    ) -> Result<Self, PolicyError> {
        let origins = hosts
            .iter()
            .map(|entry| {
                parse_origin(entry.as_ref()).map_err(|reason| PolicyError {
                    key: grant_key.to_owned(),
                    entry: entry.as_ref().to_owned(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(EgressPolicy {
            component: component.to_owned(),
            grant_key: grant_key.to_owned(),
            origins,
            timeouts: Timeouts::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            extra_roots: Vec::new(),
            offline: None,
        })
    }

    /// A policy that denies everything, for a component granted no hosts.
    pub fn deny_all(component: &str) -> Self {
        Self::new::<&str>(component, &[]).expect("an empty list always parses")
    }

    /// Replaces the per-request time limits.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Replaces the cap on one response body (bytes); a longer body ends in
    /// `HTTP-response-body-size` for the guest.
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Trusts one more root certificate (DER) for HTTPS, besides the public web roots: an
    /// internal CA, or a test CA.
    pub fn extra_root(mut self, der: CertificateDer<'static>) -> Self {
        self.extra_roots.push(der);
        self
    }

    /// Takes the policy offline (smoke mode): every request is refused before any DNS lookup
    /// or connection, and the guest receives `internal-error(reason)`, granted origin or not.
    pub fn offline(mut self, reason: impl Into<String>) -> Self {
        self.offline = Some(reason.into());
        self
    }

    /// Why every request is refused, when the policy is offline.
    pub fn offline_reason(&self) -> Option<&str> {
        self.offline.as_deref()
    }

    /// The component label used in messages.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The config key that grants hosts to this component.
    pub fn grant_key(&self) -> &str {
        &self.grant_key
    }

    /// The parsed allowlist.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// The per-request time limits.
    pub fn limits(&self) -> Timeouts {
        self.timeouts
    }

    /// The cap on one response body.
    pub fn response_cap(&self) -> u64 {
        self.max_response_bytes
    }

    /// Extra trusted roots given with [`EgressPolicy::extra_root`].
    pub fn extra_roots(&self) -> &[CertificateDer<'static>] {
        &self.extra_roots
    }

    /// How `scheme://host:port` matches the allowlist; a literal grant wins over a wildcard.
    pub fn check(&self, scheme: Scheme, host: &RequestHost, port: u16) -> Grant {
        let mut best = Grant::Denied;
        for origin in self
            .origins
            .iter()
            .filter(|o| o.scheme == scheme && o.port == port)
        {
            match (&origin.host, host) {
                (HostPattern::Ip(a), RequestHost::Ip(b)) if same_ip(*a, *b) => {
                    return Grant::Literal
                }
                (HostPattern::Name(a), RequestHost::Name(b)) if a == b => return Grant::Literal,
                (HostPattern::Subdomains(base), RequestHost::Name(name))
                    if name.len() > base.len() + 1
                        && name.ends_with(base.as_str())
                        && name.as_bytes()[name.len() - base.len() - 1] == b'.' =>
                {
                    best = Grant::Pattern
                }
                _ => {}
            }
        }
        best
    }
}

/// IP equality that treats `::ffff:a.b.c.d` and `a.b.c.d` as the same host.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// Parses one `scheme://host[:port]` entry; the error says what is wrong and what to write.
fn parse_origin(entry: &str) -> Result<Origin, String> {
    let trimmed = entry.trim();
    let (scheme_name, rest) = trimmed.split_once("://").ok_or_else(|| {
        format!("write it as scheme://host[:port], for example \"https://{trimmed}\"")
    })?;
    let scheme = Scheme::parse(scheme_name).ok_or_else(|| {
        format!("scheme `{scheme_name}` is not supported; use http:// or https://")
    })?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(pos) = rest.find(['/', '?', '#']) {
        return Err(format!(
            "an origin has no path, query or fragment; drop `{}` and write \"{}://{}\"",
            &rest[pos..],
            scheme.as_str(),
            &rest[..pos]
        ));
    }
    if rest.contains('@') {
        return Err("an origin has no user name or password; remove the `user@` part".into());
    }
    let (host, port) = split_host_port(rest)?;
    let port = match port {
        None => scheme.default_port(),
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port `{p}` is not a number from 1 to 65535"))?,
    };
    let host = parse_host_pattern(host)?;
    Ok(Origin { scheme, host, port })
}

/// Splits `host[:port]`, with IPv6 hosts in brackets (`[::1]:8080`).
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(after) = s.strip_prefix('[') {
        let (ip, tail) = after
            .split_once(']')
            .ok_or("an IPv6 address needs a closing `]`, as in [::1]:8080")?;
        return match tail {
            "" => Ok((ip, None)),
            t => match t.strip_prefix(':') {
                Some(port) => Ok((ip, Some(port))),
                None => Err(format!("unexpected `{t}` after the IPv6 address")),
            },
        };
    }
    match s.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            Err("an IPv6 address must be in brackets, as in http://[::1]:8080".into())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((s, None)),
    }
}

/// Parses the host of an entry: an IP, a DNS name or `*.domain`.
fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip));
    }
    let lower = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if let Some(base) = lower.strip_prefix("*.") {
        if !valid_dns_name(base) || !base.contains('.') {
            return Err(format!(
                "`{host}`: a wildcard must cover a domain with at least two labels, as in *.example.com"
            ));
        }
        return Ok(HostPattern::Subdomains(base.to_owned()));
    }
    if lower.contains('*') {
        return Err(format!(
            "`{host}`: `*` is only allowed as the whole first label, as in *.example.com"
        ));
    }
    if !valid_dns_name(&lower) {
        return Err(format!(
            "`{host}` is neither an IP address nor a DNS name (letters, digits, `-` and `.`)"
        ));
    }
    Ok(HostPattern::Name(lower))
}

/// A DNS name of letters, digits, `-` and `_`, in dot-separated labels of 1..=63 characters.
fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
