//! Tests for `grants.<…>.secrets`: the list form (placeholder, headers, the entry's hosts)
//! and the mapping form (named origins, body, expose), which fails closed on every problem.

use super::{error, parse, warning};
use crate::{HostOrigin, SecretUse};

fn host(s: &str) -> HostOrigin {
    HostOrigin::parse(s).expect("valid host")
}

#[test]
fn the_list_form_is_a_placeholder_for_the_entrys_hosts_in_headers() {
    let c = parse(
        "grants:\n  skills:\n    gh:\n      hosts: [\"https://api.github.com\"]\n      secrets: [TOKEN]\n",
    );
    assert!(c.errors.is_empty() && c.warnings.len() == 1, "{c:#?}");
    // The migration warning (shown at boot and by `check`): placeholders now, and the fix.
    let w = warning(&c, "grants.skills.gh.secrets");
    assert!(
        w.message.contains("placeholders, not values")
            && w.message.contains("`secrets: {TOKEN: {expose: true}}`")
            && w.message.contains("{TOKEN: {hosts: [...], body: true}}"),
        "{w:?}"
    );
    let g = &c.grants.skills["gh"];
    assert_eq!(g.secrets, ["TOKEN"]);
    assert_eq!(
        g.secret_uses["TOKEN"],
        SecretUse {
            hosts: vec![host("https://api.github.com")],
            body: false,
            expose: false,
            list_form: true
        }
    );
}

#[test]
fn the_mapping_form_names_origins_body_and_expose() {
    let c = parse(concat!(
        "grants:\n  skills:\n    gh:\n",
        "      hosts: [\"https://api.github.com\", \"https://uploads.github.com\"]\n",
        "      secrets:\n",
        "        TOKEN: {hosts: [\"https://api.github.com\"], body: true}\n",
        "        DEBUG_KEY: {expose: true}\n",
    ));
    assert!(c.errors.is_empty() && c.warnings.is_empty(), "{c:#?}");
    let g = &c.grants.skills["gh"];
    assert_eq!(g.secrets, ["DEBUG_KEY", "TOKEN"]);
    let token = &g.secret_uses["TOKEN"];
    assert_eq!(token.hosts, [host("https://api.github.com")]);
    assert!(token.body && !token.expose && !token.list_form);
    assert!(g.secret_uses["DEBUG_KEY"].expose);
    assert_eq!(
        token.describe(),
        "placeholder → https://api.github.com (headers, body)"
    );
}

#[test]
fn every_problem_in_the_mapping_form_is_an_error_and_grants_nothing() {
    let cases = [
        ("A: ~", "grants.skills.s.secrets.A", "expected a mapping"),
        ("A: [x]", "grants.skills.s.secrets.A", "expected a mapping"),
        ("A: {}", "grants.skills.s.secrets.A", "names no origin"),
        (
            "A: {body: true}",
            "grants.skills.s.secrets.A",
            "names no origin",
        ),
        (
            "A: {host: [\"https://a.com\"]}",
            "grants.skills.s.secrets.A.host",
            "unknown key",
        ),
        (
            "A: {hosts: []}",
            "grants.skills.s.secrets.A.hosts",
            "empty list",
        ),
        (
            "A: {hosts: https://a.com}",
            "grants.skills.s.secrets.A.hosts",
            "list of origins",
        ),
        (
            "A: {hosts: [\"a.com\"]}",
            "grants.skills.s.secrets.A.hosts[0]",
            "no scheme",
        ),
        (
            "A: {hosts: [\"https://a.com\"], body: yes}",
            "grants.skills.s.secrets.A.body",
            "true or false",
        ),
        (
            "A: {hosts: [\"https://a.com\"], body: ~}",
            "grants.skills.s.secrets.A.body",
            "true or false",
        ),
        (
            "A: {expose: \"true\"}",
            "grants.skills.s.secrets.A.expose",
            "true or false",
        ),
        (
            "A: {expose: true, hosts: [\"https://a.com\"]}",
            "grants.skills.s.secrets.A",
            "cannot be set with it",
        ),
        (
            "A: {expose: true, body: false}",
            "grants.skills.s.secrets.A",
            "cannot be set with it",
        ),
        (
            "bad-name: {expose: true}",
            "grants.skills.s.secrets.bad-name",
            "not a secret name",
        ),
    ];
    for (entry, key, text) in cases {
        let yaml = format!(
            "grants:\n  skills:\n    s:\n      hosts: [\"https://a.com\"]\n      secrets: {{{entry}}}\n"
        );
        let c = parse(&yaml);
        let e = error(&c, key);
        assert!(e.message.contains(text), "{entry}: {e}");
        assert!(e.to_string().contains("config.yaml"), "names the file: {e}");
        assert!(
            c.grants.skills["s"].secrets.is_empty(),
            "{entry}: nothing granted"
        );
        let name = entry.split(':').next().unwrap_or_default();
        assert_eq!(
            c.grants.skills["s"].refused_secrets,
            [name],
            "{entry}: the name stays a secret's name"
        );
    }
}

#[test]
fn a_secret_origin_outside_the_entrys_hosts_warns() {
    let c = parse(
        "grants:\n  skills:\n    s:\n      hosts: [\"https://a.com\"]\n      secrets: {A: {hosts: [\"https://b.com\"]}}\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let w = warning(&c, "grants.skills.s.secrets.A.hosts");
    assert!(w.message.contains("https://b.com"), "{w}");
}
