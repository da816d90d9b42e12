//! H1, H2, M1 and M2: security keys that are merged in, misplaced, in the wrong case,
//! misspelt or left empty fail preflight; other unknown keys only warn.

use std::path::Path;

use super::{assert_fails, parse_h};
use crate::tests::{error, no_env, warning};
use crate::WorkspaceConfig;

// H1: merge keys are refused (never silently dropped).

#[test]
fn h1_a_merge_key_under_a2a_fails_naming_file_line_and_key() {
    let c = parse_h("base: &b {inbound_secret: s}\na2a:\n  <<: *b\n");
    let e = error(&c, "a2a.<<");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("merge key"), "{e}");
    assert!(e.message.contains("write the keys out"), "{e}");
    assert!(
        e.to_string().starts_with("/cfg/config.yaml:5: a2a.<<: "),
        "{e}"
    );
    assert_fails(&c, "a2a merge");
}

#[test]
fn h1_a_top_level_merge_key_fails() {
    let c = parse_h("<<: {a2a: {inbound_secret: s}}\n");
    let e = error(&c, "<<");
    assert_eq!(e.line, Some(3), "{e}");
    assert_fails(&c, "top-level merge");
}

#[test]
fn h1_merged_limits_fail_in_sandbox_and_grants() {
    let c = parse_h(
        "lim: &lim {memory_limit: 16m, timeout: 1s}\nsandbox: {<<: *lim}\n\
         grants:\n  skills:\n    notes: {<<: *lim, interfaces: [memory]}\n",
    );
    // The first merge key found stops the parse: nothing from the file is used.
    let e = error(&c, "sandbox.<<");
    assert_eq!(e.line, Some(4), "{e}");
    assert_fails(&c, "sandbox merge");
    let c =
        parse_h("lim: &lim {memory_limit: 16m}\ngrants:\n  skills:\n    notes:\n      <<: *lim\n");
    let e = error(&c, "grants.skills.notes.<<");
    assert_eq!(e.line, Some(7), "{e}");
}

// H2: security keys at the wrong level or in the wrong case.

#[test]
fn h2_a_security_section_in_the_wrong_case_fails() {
    let c = parse_h("A2A: {inbound_secret: abc}\n");
    let e = error(&c, "A2A");
    assert!(e.message.contains("did you mean `a2a`"), "{e}");
    assert_eq!(e.line, Some(3), "{e}");
    assert_fails(&c, "A2A");
    for (yaml, key) in [
        ("Sandbox: {timeout: 1s}\n", "Sandbox"),
        ("Grants: {default: {interfaces: [log]}}\n", "Grants"),
        ("grant: {default: {interfaces: [log]}}\n", "grant"),
    ] {
        let c = parse_h(yaml);
        error(&c, key);
        assert_fails(&c, yaml);
    }
}

#[test]
fn h2_a_top_level_inbound_secret_fails_naming_where_it_belongs() {
    let c = parse_h("inbound_secret: abc\n");
    let e = error(&c, "inbound_secret");
    assert!(e.message.contains("a2a.inbound_secret"), "{e}");
    assert!(!e.message.contains("abc"), "never echo a secret: {e}");
    assert_fails(&c, "top-level secret");
    // The classic mis-indentation: `a2a` is null, the secret is at the top level.
    let c = parse_h("a2a:\ninbound_secret: abc\n");
    assert_eq!(error(&c, "inbound_secret").line, Some(4));
    assert!(warning(&c, "a2a").message.contains("is empty"));
    assert_fails(&c, "mis-indented secret");
    // Limits at the top level too.
    for key in ["memory_limit", "timeout", "Memory-Limit"] {
        let c = parse_h(&format!("{key}: 1s\n"));
        assert!(error(&c, key).message.contains("sandbox."), "{key}");
    }
}

#[test]
fn h2_a_null_a2a_warns_and_other_unknown_top_level_keys_warn_with_a_suggestion() {
    for yaml in ["a2a: null\n", "a2a:\n", "a2a: ~\n"] {
        let c = parse_h(yaml);
        assert!(c.errors.is_empty(), "{yaml}: {:?}", c.errors);
        assert!(
            warning(&c, "a2a").message.contains("inbound_secret"),
            "{yaml}"
        );
    }
    let c = parse_h("Name: x\nsomething_else: 1\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let w = warning(&c, "Name");
    assert!(w.message.contains("did you mean `name`"), "{w}");
    assert_eq!(w.line, Some(3), "{w}");
    assert!(!warning(&c, "something_else")
        .message
        .contains("did you mean"));
}

#[test]
fn h2_a_secret_nested_where_it_is_never_read_fails() {
    for (yaml, key) in [
        (
            "observability: {inbound_secret: abc}\n",
            "observability.inbound_secret",
        ),
        (
            "delegation: {Inbound-Secret: abc}\n",
            "delegation.Inbound-Secret",
        ),
        (
            "runtime_config: {inbound_secret: abc}\n",
            "runtime_config.inbound_secret",
        ),
        (
            "delegation: {memory_limit: 1k}\n",
            "delegation.memory_limit",
        ),
    ] {
        let c = parse_h(yaml);
        assert!(error(&c, key).message.contains("belongs at"), "{yaml}");
    }
}

// M1: misspelt or null limit keys.

#[test]
fn m1_misspelt_limit_keys_fail() {
    for (yaml, key) in [
        ("sandbox: {Timeout: 1s}\n", "sandbox.Timeout"),
        ("sandbox: {memory-limit: 1k}\n", "sandbox.memory-limit"),
        (
            "grants: {default: {Timeout: 1s}}\n",
            "grants.default.Timeout",
        ),
        (
            "grants: {skills: {notes: {Memory_Limit: 1k}}}\n",
            "grants.skills.notes.Memory_Limit",
        ),
        ("grants: {Skills: {notes: {}}}\n", "grants.Skills"),
    ] {
        let c = parse_h(yaml);
        let e = error(&c, key);
        assert!(e.message.contains("did you mean"), "{e}");
        assert_fails(&c, yaml);
    }
    // Other unknown keys there only warn.
    let c = parse_h("sandbox: {colour: red}\ngrants: {default: {colour: red}}\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    warning(&c, "sandbox.colour");
    warning(&c, "grants.default.colour");
}

#[test]
fn m1_a_null_limit_fails() {
    for (yaml, key) in [
        ("sandbox: {memory_limit: ~}\n", "sandbox.memory_limit"),
        ("sandbox: {timeout: null}\n", "sandbox.timeout"),
        ("sandbox:\n  timeout:\n", "sandbox.timeout"),
        (
            "grants: {default: {timeout: ~}}\n",
            "grants.default.timeout",
        ),
        (
            "grants: {skills: {notes: {memory_limit: null}}}\n",
            "grants.skills.notes.memory_limit",
        ),
    ] {
        let c = parse_h(yaml);
        let e = error(&c, key);
        assert!(e.message.contains("is empty"), "{e}");
        assert!(e.line.is_some(), "{e}");
        assert_fails(&c, yaml);
    }
    // A SKILL.md request may leave a limit empty: it never exceeds the grant.
    let (req, _) = crate::CapabilityRequest::from_frontmatter_str(
        "s",
        "capabilities: {timeout: ~}\n",
        Path::new("SKILL.md"),
    );
    assert_eq!(req.caps.timeout, None);
}

// M2: a misspelt inbound_secret.

#[test]
fn m2_a_near_miss_of_inbound_secret_fails() {
    for (yaml, key) in [
        ("a2a: {Inbound_Secret: abc}\n", "a2a.Inbound_Secret"),
        ("a2a: {inbound-secret: abc}\n", "a2a.inbound-secret"),
        ("a2a: {INBOUND_SECRET: abc}\n", "a2a.INBOUND_SECRET"),
        ("a2a: {inbound_secrets: abc}\n", "a2a.inbound_secrets"),
    ] {
        let c = parse_h(yaml);
        assert_eq!(c.a2a.inbound_secret, None);
        let e = error(&c, key);
        assert!(e.message.contains("a2a.inbound_secret"), "{e}");
        assert!(!e.message.contains("abc"), "{e}");
        assert_fails(&c, yaml);
    }
    // Other unknown a2a keys still only warn.
    let c = parse_h("a2a: {Port: 9000}\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(warning(&c, "a2a.Port")
        .message
        .contains("did you mean `port`"));
}

#[test]
fn the_demo_config_has_no_unknown_keys() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo");
    if !demo.join("config.yaml").is_file() {
        return;
    }
    let c = WorkspaceConfig::load(&demo, &no_env());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}
