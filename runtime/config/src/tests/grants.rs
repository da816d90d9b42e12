//! Tests for the `grants:` section, SKILL.md capability requests and [`effective`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{error, parse, warning};
use crate::{
    effective, CapabilityKind, CapabilityRequest, DirAccess, DirMode, HostOrigin, Interface,
};

const GRANTS: &str = r#"
sandbox: {memory_limit: 128m, timeout: 20}
grants:
  default: {interfaces: [log]}
  skills:
    web-fetch:
      hosts: ["https://api.github.com", "http://localhost:8080"]
      env: [GITHUB_API]
      secrets: [GITHUB_TOKEN]
      dirs: [{path: ./data, mode: ro}, {path: out/, mode: rw}]
      interfaces: [memory, a2a]
      memory_limit: 64m
      timeout: 10s
    quiet:
"#;

fn host(s: &str) -> HostOrigin {
    HostOrigin::parse(s).expect("valid host")
}

fn request(yaml: &str) -> CapabilityRequest {
    let (req, warnings) =
        CapabilityRequest::from_frontmatter_str("web-fetch", yaml, Path::new("SKILL.md"));
    assert!(warnings.is_empty(), "{warnings:?}");
    req
}

#[test]
fn parses_the_grants_section() {
    let c = parse(GRANTS);
    // The one warning: the list-form secrets are placeholders now, with the migration.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = warning(&c, "grants.skills.web-fetch.secrets");
    assert!(
        w.message.contains("placeholders, not values")
            && w.message
                .contains("`secrets: {GITHUB_TOKEN: {expose: true}}`"),
        "{w:?}"
    );
    assert_eq!(c.grants.default.interfaces, [Interface::Log]);
    let g = &c.grants.skills["web-fetch"];
    assert_eq!(
        g.hosts,
        [
            host("https://api.github.com"),
            host("http://localhost:8080")
        ]
    );
    assert_eq!(g.hosts[1].port, 8080);
    assert_eq!(g.env, ["GITHUB_API"]);
    assert_eq!(g.secrets, ["GITHUB_TOKEN"]);
    assert_eq!(
        g.dirs,
        [
            DirAccess {
                path: PathBuf::from("data"),
                mode: DirMode::Ro
            },
            DirAccess {
                path: PathBuf::from("out"),
                mode: DirMode::Rw
            },
        ]
    );
    assert_eq!(g.dirs[0].resolve(Path::new("/cfg")), Path::new("/cfg/data"));
    assert_eq!(g.interfaces, [Interface::Memory, Interface::A2a]);
    assert_eq!(g.memory_limit, Some(64 << 20));
    assert_eq!(g.timeout, Some(Duration::from_secs(10)));
    assert!(c.grants.skills["quiet"].is_empty());
}

#[test]
fn bad_grant_items_warn_with_their_key_path_and_are_skipped() {
    let c = parse(
        "grants:\n  default: {interfaces: [log, telepathy]}\n  skills:\n    web-fetch:\n      \
         hosts: [\"api.github.com\", \"ftp://x.com\", \"https://x.com/path\", \"https://ok.com\"]\n      \
         env: [\"BAD-NAME\", OK]\n      dirs: [{path: d, mode: wx}, {mode: ro}, 5]\n      \
         memory_limit: lots\n      timeout: never\n    other: 3\n",
    );
    let w = warning(&c, "grants.skills.web-fetch.hosts[0]");
    assert!(
        w.message.contains("no scheme") && w.message.contains("scheme://host[:port]"),
        "{w}"
    );
    assert!(warning(&c, "grants.skills.web-fetch.hosts[1]")
        .message
        .contains("ftp"));
    assert!(warning(&c, "grants.skills.web-fetch.hosts[2]")
        .message
        .contains("path"));
    warning(&c, "grants.skills.web-fetch.env[0]");
    assert!(warning(&c, "grants.skills.web-fetch.dirs[0].mode")
        .message
        .contains("ro nor rw"));
    warning(&c, "grants.skills.web-fetch.dirs[1]");
    warning(&c, "grants.skills.web-fetch.dirs[2]");
    // Limits are security settings: unreadable ones are errors, not a fall-through.
    assert!(error(&c, "grants.skills.web-fetch.memory_limit")
        .message
        .contains("lots"));
    error(&c, "grants.skills.web-fetch.timeout");
    assert!(warning(&c, "grants.default.interfaces[1]")
        .message
        .contains("telepathy"));
    assert!(warning(&c, "grants.skills.other")
        .message
        .contains("nothing but log"));
    assert!(c.grants.skills["other"].is_empty());
    assert_eq!(c.errors.len(), 2, "{:#?}", c.errors);
    let g = &c.grants.skills["web-fetch"];
    assert_eq!(g.hosts, [host("https://ok.com")]);
    assert_eq!(g.env, ["OK"]);
    assert!(g.dirs.is_empty());
    assert_eq!(g.memory_limit, None);
}

#[test]
fn host_origins_compare_by_scheme_host_and_port() {
    assert_eq!(
        host("https://API.github.com/"),
        host("https://api.github.com:443")
    );
    assert_ne!(
        host("http://api.github.com"),
        host("https://api.github.com")
    );
    assert_ne!(host("http://localhost:8080"), host("http://localhost"));
    assert_eq!(host("https://a.com:443").to_string(), "https://a.com");
    assert_eq!(host("http://[::1]:9000").to_string(), "http://[::1]:9000");
    assert!(HostOrigin::parse("https://a.com:0").is_err());
    assert!(HostOrigin::parse("https://user@a.com").is_err());
    // Subdomain patterns, as skills-examples/web-fetch requests and the egress layer matches.
    assert_eq!(host("https://*.Wikipedia.org").host, "*.wikipedia.org");
    for bad in [
        "https://*.com",
        "https://*.",
        "https://a.*.com",
        "https://*x.com",
    ] {
        assert!(HostOrigin::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn grant_for_a_skill_falls_back_to_default_then_sandbox() {
    let c = parse(GRANTS);
    let listed = c.grant_for("web-fetch");
    assert!(listed.listed);
    assert_eq!(listed.memory_limit, 64 << 20);
    assert_eq!(listed.timeout, Duration::from_secs(10));
    let other = c.grant_for("notes");
    assert!(!other.listed);
    assert_eq!(other.caps.interfaces, [Interface::Log]);
    assert_eq!(other.memory_limit, 128 << 20);
    assert_eq!(other.timeout, Duration::from_secs(20));
    let c = parse("grants: {default: {memory_limit: 32m}}");
    assert_eq!(c.grant_for("x").memory_limit, 32 << 20);
    assert_eq!(c.grant_for("x").timeout, Duration::from_secs(30));
}

#[test]
fn parses_a_capability_request_from_frontmatter() {
    let req = request(
        "name: web-fetch\ndescription: fetch pages\ncapabilities:\n  hosts: [\"https://api.github.com\"]\n  \
         env: [GITHUB_API]\n  secrets: [GITHUB_TOKEN]\n  dirs: [data]\n  interfaces: [memory]\n  \
         memory_limit: 32m\n  timeout: 5\n",
    );
    assert_eq!(req.skill, "web-fetch");
    assert_eq!(
        req.caps.dirs,
        [DirAccess {
            path: PathBuf::from("data"),
            mode: DirMode::Ro
        }]
    );
    assert_eq!(req.caps.memory_limit, Some(32 << 20));
    assert_eq!(req.caps.timeout, Some(Duration::from_secs(5)));
    assert!(request("name: x\n").caps.is_empty());
}

#[test]
fn request_warnings_name_the_skill_file_and_key() {
    let file = Path::new("/cfg/skills/web-fetch/SKILL.md");
    let yaml = "capabilities:\n  hosts: [nope]\n";
    let (req, warnings) = CapabilityRequest::from_frontmatter_str("web-fetch", yaml, file);
    assert!(req.caps.hosts.is_empty());
    assert_eq!(warnings[0].key, "capabilities.hosts[0]");
    assert_eq!(warnings[0].file.as_deref(), Some(file));
    let (_, warnings) = CapabilityRequest::from_frontmatter_str("x", "a: [", file);
    assert!(warnings[0].line.is_some());
}

#[test]
fn effective_is_requested_intersect_granted_with_denials() {
    let c = parse(GRANTS);
    let req = request(
        "capabilities:\n  hosts: [\"https://api.github.com:443\", \"https://x.com\"]\n  \
         env: [GITHUB_API, HOME]\n  secrets: [GITHUB_TOKEN]\n  \
         dirs: [{path: data, mode: ro}, {path: out, mode: ro}, {path: ./data/, mode: rw}]\n  \
         interfaces: [log, memory, llm]\n  memory_limit: 32m\n  timeout: 1m\n",
    );
    let e = effective(&req, &c.grant_for("web-fetch"));
    assert_eq!(e.hosts, [host("https://api.github.com")]);
    assert_eq!(e.env, ["GITHUB_API"]);
    assert_eq!(e.secrets, ["GITHUB_TOKEN"]);
    // rw grant covers a ro request (the skill gets ro); ro grant does not cover rw.
    assert_eq!(
        e.dirs,
        [
            DirAccess {
                path: PathBuf::from("data"),
                mode: DirMode::Ro
            },
            DirAccess {
                path: PathBuf::from("out"),
                mode: DirMode::Ro
            },
        ]
    );
    assert_eq!(e.interfaces, [Interface::Log, Interface::Memory]);
    assert_eq!(e.memory_limit, 32 << 20);
    assert_eq!(e.timeout, Duration::from_secs(10));
    let messages: Vec<String> = e.denials.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "skill `web-fetch` requests host https://x.com but it is not granted; add it under grants.skills.web-fetch.hosts in config.yaml",
            "skill `web-fetch` requests env var HOME but it is not granted; add it under grants.skills.web-fetch.env in config.yaml",
            "skill `web-fetch` requests dir data (rw) but it is not granted; add it under grants.skills.web-fetch.dirs in config.yaml",
            "skill `web-fetch` requests interface llm but it is not granted; add it under grants.skills.web-fetch.interfaces in config.yaml",
            "skill `web-fetch` requests timeout 60s but only 10s is granted; raise grants.skills.web-fetch.timeout in config.yaml",
        ]
    );
    assert_eq!(e.denials[0].kind, CapabilityKind::Host);
    assert_eq!(e.denials[0].config_key, "grants.skills.web-fetch.hosts");
    // Granted but never requested: localhost:8080 and the a2a interface.
    let unrequested: Vec<(CapabilityKind, &str)> = e
        .unrequested
        .iter()
        .map(|u| (u.kind, u.capability.as_str()))
        .collect();
    assert_eq!(
        unrequested,
        [
            (CapabilityKind::Host, "http://localhost:8080"),
            (CapabilityKind::Interface, "a2a")
        ]
    );
    assert!(e.unrequested[0]
        .to_string()
        .contains("remove it from config.yaml"));
}

#[test]
fn limits_default_to_the_grant_when_not_requested() {
    let c = parse(GRANTS);
    let e = effective(&request("name: x"), &c.grant_for("web-fetch"));
    assert_eq!(e.memory_limit, 64 << 20);
    assert_eq!(e.timeout, Duration::from_secs(10));
    assert_eq!(e.interfaces, [Interface::Log]);
    let req = request("capabilities: {memory_limit: 1g}");
    let e = effective(&req, &c.grant_for("web-fetch"));
    assert_eq!(e.memory_limit, 64 << 20);
    assert_eq!(e.denials[0].kind, CapabilityKind::MemoryLimit);
    assert_eq!(e.denials[0].granted.as_deref(), Some("64m"));
}

#[test]
fn default_grants_are_never_reported_unrequested() {
    let c = parse("grants: {default: {env: [TZ], interfaces: [memory]}}");
    let e = effective(
        &request("capabilities: {env: [TZ, LANG]}"),
        &c.grant_for("notes"),
    );
    assert_eq!(e.env, ["TZ"]);
    assert!(e.unrequested.is_empty());
    assert_eq!(e.denials.len(), 1);
    assert_eq!(e.denials[0].config_key, "grants.skills.notes.env");
}
