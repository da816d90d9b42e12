//! Tests of allowlist parsing and matching: what entries parse to, what errors say, and which
//! requests an allowlist grants (literally, by pattern, or not at all).

use std::net::IpAddr;

use molecule_egress::{EgressPolicy, Grant, HostPattern, Origin, RequestHost, Scheme};

fn policy(hosts: &[&str]) -> EgressPolicy {
    EgressPolicy::new("web-fetch", hosts).unwrap_or_else(|e| panic!("{e}"))
}

fn error(entry: &str) -> String {
    EgressPolicy::new("web-fetch", &[entry])
        .map(|_| ())
        .expect_err(entry)
        .to_string()
}

fn host(text: &str) -> RequestHost {
    RequestHost::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
}

#[test]
fn entries_parse_with_default_ports_and_normalized_hosts() {
    let p = policy(&[
        "https://api.example.com",
        "http://localhost:8080",
        "http://[::1]:9000",
        "HTTPS://API.Example.COM./",
        "https://*.example.org",
        "http://10.0.0.1",
    ]);
    let want = [
        Origin {
            scheme: Scheme::Https,
            host: HostPattern::Name("api.example.com".into()),
            port: 443,
        },
        Origin {
            scheme: Scheme::Http,
            host: HostPattern::Name("localhost".into()),
            port: 8080,
        },
        Origin {
            scheme: Scheme::Http,
            host: HostPattern::Ip("::1".parse().unwrap()),
            port: 9000,
        },
        Origin {
            scheme: Scheme::Https,
            host: HostPattern::Name("api.example.com".into()),
            port: 443,
        },
        Origin {
            scheme: Scheme::Https,
            host: HostPattern::Subdomains("example.org".into()),
            port: 443,
        },
        Origin {
            scheme: Scheme::Http,
            host: HostPattern::Ip("10.0.0.1".parse().unwrap()),
            port: 80,
        },
    ];
    assert_eq!(p.origins(), &want);
    assert_eq!(p.origins()[2].to_string(), "http://[::1]:9000");
    assert_eq!(p.origins()[4].to_string(), "https://*.example.org:443");
    assert_eq!(p.grant_key(), "grants.skills.web-fetch.hosts");
    assert_eq!(p.component(), "web-fetch");
}

#[test]
fn errors_name_the_key_the_entry_and_the_fix() {
    let cases = [
        ("ftp://files.example.com", "use http:// or https://"),
        ("example.com", "\"https://example.com\""),
        ("https://a.example.com/v1/x", "drop `/v1/x`"),
        ("https://a.example.com?q=1", "no path, query or fragment"),
        ("https://a.example.com:99999", "from 1 to 65535"),
        ("https://a.example.com:0", "from 1 to 65535"),
        ("https://*.com", "at least two labels"),
        ("https://a*.example.com", "whole first label"),
        ("http://::1:80", "in brackets"),
        ("http://[::1", "closing `]`"),
        ("https://user:pw@a.example.com", "user name or password"),
        ("https://", "host is missing"),
        (
            "https://exa mple.com",
            "neither an IP address nor a DNS name",
        ),
    ];
    for (entry, hint) in cases {
        let text = error(entry);
        assert!(
            text.contains("grants.skills.web-fetch.hosts"),
            "{entry}: {text}"
        );
        assert!(text.contains(&format!("{entry:?}")), "{entry}: {text}");
        assert!(text.contains(hint), "{entry}: `{text}` lacks `{hint}`");
    }
    let custom =
        EgressPolicy::with_key("planner", "grants.adapters.planner.hosts", &["gopher://x"])
            .expect_err("gopher")
            .to_string();
    assert!(
        custom.starts_with("grants.adapters.planner.hosts: "),
        "{custom}"
    );
}

#[test]
fn scheme_host_and_port_must_all_match() {
    let p = policy(&["https://api.example.com", "http://127.0.0.1:8080"]);
    let api = host("api.example.com");
    assert_eq!(p.check(Scheme::Https, &api, 443), Grant::Literal);
    assert_eq!(p.check(Scheme::Http, &api, 443), Grant::Denied);
    assert_eq!(p.check(Scheme::Https, &api, 8443), Grant::Denied);
    assert_eq!(
        p.check(Scheme::Https, &host("API.EXAMPLE.COM."), 443),
        Grant::Literal
    );
    assert_eq!(
        p.check(Scheme::Https, &host("evil.example.com"), 443),
        Grant::Denied
    );
    assert_eq!(
        p.check(Scheme::Https, &host("api.example.com.evil.net"), 443),
        Grant::Denied
    );
    let local = host("127.0.0.1");
    assert_eq!(p.check(Scheme::Http, &local, 8080), Grant::Literal);
    assert_eq!(p.check(Scheme::Http, &local, 8081), Grant::Denied);
    // The IPv4-mapped form of a granted IPv4 address is the same host.
    assert_eq!(
        p.check(Scheme::Http, &host("[::ffff:127.0.0.1]"), 8080),
        Grant::Literal
    );
    // A name that resolves to a granted IP is not that IP: names and IPs are granted apart.
    assert_eq!(
        p.check(Scheme::Http, &host("localhost"), 8080),
        Grant::Denied
    );
}

#[test]
fn wildcards_cover_subdomains_only_and_literal_grants_win() {
    let p = policy(&["https://*.example.com", "https://pinned.example.com"]);
    assert_eq!(
        p.check(Scheme::Https, &host("a.example.com"), 443),
        Grant::Pattern
    );
    assert_eq!(
        p.check(Scheme::Https, &host("a.b.example.com"), 443),
        Grant::Pattern
    );
    assert_eq!(
        p.check(Scheme::Https, &host("example.com"), 443),
        Grant::Denied
    );
    assert_eq!(
        p.check(Scheme::Https, &host("badexample.com"), 443),
        Grant::Denied
    );
    assert_eq!(
        p.check(Scheme::Https, &host("pinned.example.com"), 443),
        Grant::Literal
    );
}

#[test]
fn empty_and_deny_all_policies_grant_nothing() {
    let p = EgressPolicy::deny_all("quiet");
    assert!(p.origins().is_empty());
    assert_eq!(p.grant_key(), "grants.skills.quiet.hosts");
    let ip: IpAddr = "8.8.8.8".parse().unwrap();
    assert_eq!(
        p.check(Scheme::Https, &RequestHost::Ip(ip), 443),
        Grant::Denied
    );
}

#[test]
fn request_hosts_parse_like_url_authorities() {
    assert_eq!(host("[::1]"), RequestHost::Ip("::1".parse().unwrap()));
    assert_eq!(
        host("10.1.2.3"),
        RequestHost::Ip("10.1.2.3".parse().unwrap())
    );
    assert_eq!(
        host("Example.COM."),
        RequestHost::Name("example.com".into())
    );
    assert!(RequestHost::parse("[not-an-ip]").is_none());
    assert!(RequestHost::parse("bad host").is_none());
    assert!(RequestHost::parse("").is_none());
}
