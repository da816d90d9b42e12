//! Tests for failing closed (issue 10): a config.yaml that exists but cannot be used, and
//! security settings that are present but unusable, are errors and preflight FAILs; nothing
//! falls back to a default that would weaken authentication or widen a grant.

use std::path::Path;

use super::{error, no_env, parse, warning, write};
use crate::{preflight, Interface, PreflightReport, Status, WorkspaceConfig};

fn check(config: &WorkspaceConfig, dir: &Path) -> PreflightReport {
    preflight(&no_env(), config, &["langgraph"], dir)
}

/// The detail of the single `config` FAIL.
fn config_fail(report: &PreflightReport) -> String {
    let fails: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.name == "config" && c.status == Status::Fail)
        .collect();
    assert_eq!(fails.len(), 1, "{report}");
    fails[0].detail.clone()
}

#[test]
fn a_duplicate_top_level_key_fails_naming_file_key_and_line() {
    let yaml = "name: first\ntier: 2\nname: second\na2a: {inbound_secret: s3cret}\n";
    let c = parse(yaml);
    let e = error(&c, "name");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("duplicate key `name`"), "{e}");
    assert!(
        e.to_string().starts_with("/cfg/config.yaml:3: name: "),
        "{e}"
    );
    // Nothing from the file is used: in particular no half-read secret or grants.
    assert_eq!(c.name, "Workspace");
    assert_eq!(c.tier, 1);
    assert_eq!(c.a2a.inbound_secret, None);
    let report = check(&c, Path::new("/cfg"));
    assert!(report.has_failures(), "{report}");
    let detail = config_fail(&report);
    assert!(
        detail.starts_with("/cfg/config.yaml:3: name: ") && detail.contains("duplicate key"),
        "{detail}"
    );
}

#[test]
fn duplicate_nested_keys_fail_in_block_and_flow_mappings() {
    for (yaml, key, line) in [
        (
            "a2a:\n  port: 1\n  streaming: true\n  port: 2\n",
            "a2a.port",
            4,
        ),
        (
            "model: x\na2a: {inbound_secret: a, inbound_secret: b}\n",
            "a2a.inbound_secret",
            2,
        ),
        (
            "grants:\n  skills:\n    web-fetch: {}\n    notes: {}\n    web-fetch: {}\n",
            "grants.skills.web-fetch",
            5,
        ),
        (
            "runtime_config:\n  models:\n    - {id: a, id: b}\n",
            "runtime_config.models[0].id",
            3,
        ),
    ] {
        let c = parse(yaml);
        let e = error(&c, key);
        assert_eq!(e.line, Some(line), "{yaml}: {e}");
        assert!(e.message.contains(&format!("`{key}`")), "{e}");
    }
}

#[test]
fn invalid_yaml_drops_nothing_silently() {
    // Before issue 10 this parsed as "defaults + a warning", and the secret was lost.
    let c = parse("a2a: {inbound_secret: s3cret\nname: x\n");
    assert!(!c.errors.is_empty());
    assert!(check(&c, Path::new("/cfg")).has_failures());
    assert!(c.errors[0].line.is_some(), "{:?}", c.errors);
    let two_docs = parse("name: a\n---\nname: b\n");
    assert!(two_docs.errors[0]
        .message
        .contains("more than one document"));
}

#[test]
fn a_top_level_that_is_not_a_mapping_fails() {
    for yaml in ["- a\n- b\n", "just text\n", "42\n"] {
        let c = parse(yaml);
        let e = &c.errors[0];
        assert!(e.message.contains("top level must be a mapping"), "{e}");
        assert_eq!(e.line, Some(1));
    }
    // An empty file (or only comments) is simply all defaults.
    for yaml in ["", "# nothing yet\n"] {
        let c = parse(yaml);
        assert!(c.errors.is_empty() && c.warnings.is_empty(), "{c:?}");
    }
}

#[test]
fn a_config_file_that_exists_but_cannot_be_read_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory where the file should be (permissions cannot be tested as root).
    std::fs::create_dir(dir.path().join("config.yaml")).expect("mkdir");
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert!(
        c.errors[0].message.contains("cannot be read"),
        "{:?}",
        c.errors
    );
    assert!(check(&c, dir.path()).has_failures());
    // Bytes that are not UTF-8.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.yaml"), b"name: \xff\xfe\n").expect("write");
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    let detail = config_fail(&check(&c, dir.path()));
    assert!(
        detail.starts_with(&dir.path().join("config.yaml").display().to_string()),
        "{detail}"
    );
}

#[test]
fn a_missing_config_file_is_a_warning_that_says_what_defaults_mean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert!(c.errors.is_empty());
    let w = &c.warnings[0];
    assert!(
        w.message.contains("every setting is its default")
            && w.message.contains("inbound_secret")
            && w.message.contains("unauthenticated"),
        "{w}"
    );
    assert!(!check(&c, dir.path()).has_failures());
}

#[test]
fn inbound_secret_must_be_a_non_empty_string() {
    let c = parse("a2a: {inbound_secret: s3cret}\n");
    assert_eq!(c.a2a.inbound_secret.as_deref(), Some("s3cret"));
    assert!(c.errors.is_empty());
    assert!(!format!("{c:?}").contains("s3cret"), "Debug must redact");
    for (yaml, what) in [
        ("a2a: {inbound_secret: 987654}", "a number"),
        ("a2a: {inbound_secret: true}", "a boolean"),
        ("a2a: {inbound_secret: [1, 2]}", "a list"),
        ("a2a: {inbound_secret: {a: b}}", "a mapping"),
        ("a2a: {inbound_secret: \"\"}", "empty"),
        ("a2a: {inbound_secret: \"  \"}", "empty"),
        ("a2a:\n  inbound_secret:\n", "empty"),
    ] {
        let c = parse(yaml);
        assert_eq!(c.a2a.inbound_secret, None, "{yaml}");
        let e = error(&c, "a2a.inbound_secret");
        assert!(e.message.contains(what), "{yaml}: {e}");
        assert!(!e.message.contains("987654"), "never echo a secret: {e}");
        assert!(check(&c, Path::new("/cfg")).has_failures(), "{yaml}");
    }
}

#[test]
fn an_unreadable_a2a_section_fails_and_a_misspelt_secret_fails() {
    let c = parse("a2a: s3cret\n");
    assert!(error(&c, "a2a").message.contains("inbound_secret"));
    // A near miss of `inbound_secret` would leave A2A unauthenticated: an error, not a warning.
    let c = parse("a2a: {inbound_secert: s3cret}\n");
    let e = error(&c, "a2a.inbound_secert");
    assert!(
        e.message.contains("did you mean `a2a.inbound_secret`"),
        "{e}"
    );
    assert_eq!(e.line, Some(1), "{e}");
    assert!(!e.message.contains("s3cret"), "{e}");
}

#[test]
fn unreadable_limits_of_untrusted_code_fail_instead_of_rising() {
    for (yaml, key) in [
        ("sandbox: {memory_limit: 16 megs}", "sandbox.memory_limit"),
        ("sandbox: {timeout: soon}", "sandbox.timeout"),
        ("sandbox: 64m", "sandbox"),
        (
            "grants: {default: {memory_limit: [1]}}",
            "grants.default.memory_limit",
        ),
        (
            "grants: {skills: {notes: {timeout: -1}}}",
            "grants.skills.notes.timeout",
        ),
        ("grants: {skills: [notes]}", "grants.skills"),
    ] {
        let c = parse(yaml);
        error(&c, key);
        assert!(check(&c, Path::new("/cfg")).has_failures(), "{yaml}");
    }
    // A request (SKILL.md) cannot exceed its grant, so there a bad limit only warns.
    let (request, warnings) = crate::CapabilityRequest::from_frontmatter_str(
        "notes",
        "capabilities: {memory_limit: lots}",
        Path::new("SKILL.md"),
    );
    assert_eq!(request.caps.memory_limit, None);
    assert_eq!(warnings[0].key, "capabilities.memory_limit");
}

#[test]
fn an_unreadable_skill_grant_grants_nothing_rather_than_the_default() {
    let c = parse("grants:\n  default: {interfaces: [memory, llm]}\n  skills:\n    locked: none\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    warning(&c, "grants.skills.locked");
    let grant = c.grant_for("locked");
    assert!(grant.listed);
    assert!(grant.caps.interfaces.is_empty(), "{grant:?}");
    // Another skill still gets the default.
    assert_eq!(
        c.grant_for("other").caps.interfaces,
        [Interface::Memory, Interface::Llm]
    );
}

#[test]
fn preflight_lists_every_config_error_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "system-prompt.md", "x");
    let yaml = "a2a: {inbound_secret: 1}\nsandbox: {timeout: soon}\n";
    let c = WorkspaceConfig::from_yaml_str(yaml, dir.path(), &no_env());
    let report = check(&c, dir.path());
    let first: Vec<_> = report.checks.iter().take(2).collect();
    assert!(
        first
            .iter()
            .all(|c| c.name == "config" && c.status == Status::Fail),
        "{report}"
    );
    assert!(
        first[0].detail.contains(": a2a.inbound_secret: "),
        "{report}"
    );
    assert!(first[1].detail.contains(": sandbox.timeout: "), "{report}");
}

#[test]
fn errors_about_keys_carry_the_line_of_the_value() {
    let c = parse(
        "name: x\na2a:\n  port: 8000\n  inbound_secret: [1, 2]\nsandbox:\n  timeout: soon\n\
         grants: {skills: {notes: {memory_limit: lots}}}\n",
    );
    assert_eq!(error(&c, "a2a.inbound_secret").line, Some(4));
    assert_eq!(error(&c, "sandbox.timeout").line, Some(6));
    assert_eq!(error(&c, "grants.skills.notes.memory_limit").line, Some(7));
    let e = error(&c, "a2a.inbound_secret").to_string();
    assert!(
        e.starts_with("/cfg/config.yaml:4: a2a.inbound_secret: "),
        "{e}"
    );
    let c = parse("a2a:\n  inbound_secret:\nname: x\n");
    assert!(error(&c, "a2a.inbound_secret").line.is_some());
}
