//! Hostile-test findings of issue 10 (H1–H2, M1–M6 and the config-side LOW items), each a
//! test whose expected value is the right behaviour: nothing written down as a security
//! setting is dropped or replaced by a default without a preflight FAIL.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{error, no_env, parse, warning, write};
use crate::{preflight, Env, PreflightReport, Status, WorkspaceConfig, MAX_CONFIG_BYTES};

/// `H` of the report: a runnable workspace.
const H: &str = "runtime: langgraph\nmodel: scripted:demo\n";

fn check(config: &WorkspaceConfig) -> PreflightReport {
    preflight(&no_env(), config, &["langgraph"], Path::new("/cfg"))
}

/// Parses `H` + `rest`; lines of `rest` start at 3.
fn parse_h(rest: &str) -> WorkspaceConfig {
    parse(&format!("{H}{rest}"))
}

fn assert_fails(c: &WorkspaceConfig, what: &str) {
    let report = check(c);
    assert!(report.has_failures(), "{what}: {report}");
}

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

// M3: secrets that cannot be used.

fn env_with_secret(value: &str) -> Env {
    Env::from_pairs([("MOLECULE_INBOUND_SECRET", value)])
}

#[test]
fn m3_a_blank_or_unsendable_env_secret_fails_naming_the_variable() {
    let c = parse_h("");
    for value in [
        " ",
        "\t",
        "  \n",
        "abc\n",
        " abc",
        "abc def",
        "pässwörd",
        "a\u{1b}b",
    ] {
        let report = preflight(
            &env_with_secret(value),
            &c,
            &["langgraph"],
            Path::new("/cfg"),
        );
        let fails: Vec<_> = report.with_status(Status::Fail).collect();
        assert_eq!(fails.len(), 1, "{value:?}: {report}");
        assert_eq!(fails[0].name, "MOLECULE_INBOUND_SECRET", "{report}");
        if !value.trim().is_empty() {
            assert!(!fails[0].detail.contains("abc"), "never echo: {report}");
            assert!(!fails[0].detail.contains("ss"), "never echo: {report}");
        }
    }
    for value in ["", "s3cret-token_~.+/="] {
        let report = preflight(
            &env_with_secret(value),
            &c,
            &["langgraph"],
            Path::new("/cfg"),
        );
        assert!(!report.has_failures(), "{value:?}: {report}");
    }
}

#[test]
fn m3_an_unsendable_config_secret_fails() {
    for yaml in [
        "a2a: {inbound_secret: \"  abc  \"}\n",
        "a2a: {inbound_secret: \"abc\\n\"}\n",
        "a2a: {inbound_secret: \"abc\\t\"}\n",
        "a2a: {inbound_secret: pässwörd}\n",
        "a2a:\n  inbound_secret: |\n    abc\n",
    ] {
        let c = parse_h(yaml);
        assert_eq!(c.a2a.inbound_secret, None, "{yaml}");
        let e = error(&c, "a2a.inbound_secret");
        assert!(e.message.contains("Authorization header"), "{e}");
        assert!(
            !e.message.contains("abc") && !e.message.contains("ss"),
            "{e}"
        );
    }
    let c = parse_h("a2a: {inbound_secret: \"s3cret/+=\"}\n");
    assert_eq!(c.a2a.inbound_secret.as_deref(), Some("s3cret/+="));
}

// M4: a dangling symlink and a missing config folder.

#[test]
fn m4_a_dangling_config_symlink_fails_naming_link_and_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("config.yaml");
    std::os::unix::fs::symlink("/nonexistent/config.yaml", &link).expect("symlink");
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let e = c.errors[0].to_string();
    assert!(e.starts_with(&link.display().to_string()), "{e}");
    assert!(
        e.contains("symbolic link to /nonexistent/config.yaml"),
        "{e}"
    );
    assert!(preflight(&no_env(), &c, &["langgraph"], dir.path()).has_failures());
}

#[test]
fn m4_a_config_folder_that_does_not_exist_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("typo-dir");
    let c = WorkspaceConfig::load(&missing, &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let e = c.errors[0].to_string();
    assert!(
        e.contains(&format!(
            "config folder {} does not exist",
            missing.display()
        )),
        "{e}"
    );
    assert!(preflight(&no_env(), &c, &["langgraph"], &missing).has_failures());
    // A folder without config.yaml is still defaults plus a warning.
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert!(c.errors.is_empty() && c.warnings.len() == 1, "{c:?}");
}

// M5: integers beyond 64 bits.

#[test]
fn m5_integers_beyond_64_bits_are_valid_yaml() {
    let c = parse_h(
        "version: 99999999999999999999\nname: -99999999999999999999\n\
         build_number: 123456789012345678901234567890\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.version, "99999999999999999999");
    assert_eq!(c.name, "-99999999999999999999");
    warning(&c, "build_number");
    // In a list and a flow mapping too.
    let c = parse_h("skills: [99999999999999999999]\nrole: {x: 1}\n");
    assert_eq!(c.skills, ["99999999999999999999"]);
    // A number key reports it out of range and keeps its default.
    for yaml in [
        "tier: 99999999999999999999\n",
        "tier: -99999999999999999999\n",
    ] {
        let c = parse_h(yaml);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.tier, 1);
        assert!(
            warning(&c, "tier").message.contains("out of range"),
            "{yaml}"
        );
    }
    // A limit that large is unusable: an error, as for any unreadable limit.
    let c = parse_h("sandbox: {memory_limit: 99999999999999999999}\n");
    error(&c, "sandbox.memory_limit");
}

// M6: a byte-order mark.

#[test]
fn m6_a_leading_byte_order_mark_is_accepted() {
    let c = parse("\u{feff}name: bom\nversion: 1.10\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.name, "bom");
    assert_eq!(c.version, "1.10");
    // Lines still count from the first line.
    let c = parse("\u{feff}name: a\nname: b\n");
    assert_eq!(error(&c, "name").line, Some(2));
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "config.yaml", "\u{feff}name: bom\n");
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.name, "bom");
}

// LOW: forged preflight lines, deep nesting, huge files, FIFOs.

#[test]
fn low_keys_with_line_breaks_or_escapes_cannot_forge_preflight_lines() {
    let c = parse_h(
        "a2a: {\"x\\nPASS  auth          inbound secret set\": 1}\n\
         \"\\e[31mred\": 1\n",
    );
    let report = check(&c);
    let text = report.render();
    assert_eq!(text.lines().count(), report.checks.len() + 1, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("PASS  auth")), "{text}");
    assert!(text.contains("x\\nPASS"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\u{1b}[31mred"), "{text}");
    // Errors are escaped too.
    let c = parse_h("a2a: {\"inbound_secret\\n\": 1}\n");
    let e = error(&c, "a2a.inbound_secret\\n");
    assert!(!e.to_string().contains('\n'), "{e}");
}

#[test]
fn low_deep_flow_nesting_fails_fast_naming_the_line() {
    let depth = 100_000;
    let yaml = format!(
        "name: x\nskills: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let start = Instant::now();
    let c = parse(&yaml);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert_eq!(c.errors[0].line, Some(2));
    assert!(
        c.errors[0].message.contains("deeper than 128"),
        "{}",
        c.errors[0]
    );
    // Moderate nesting, and brackets in text, are fine.
    let yaml = format!("role: {}x{}\n", "[".repeat(20), "]".repeat(20));
    assert!(parse(&yaml).errors.is_empty());
    let prompt = "initial_prompt: |\n".to_string() + &"  [ { [ unbalanced\n".repeat(200);
    let c = parse(&prompt);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(c.initial_prompt.is_some_and(|p| p.starts_with("[ { [")));
    let c = parse("description: a[b {c '[\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
}

#[test]
fn low_a_huge_config_fails_naming_its_size_and_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = format!(
        "name: x\ndescription: \"{}\"\n",
        "a".repeat(MAX_CONFIG_BYTES)
    );
    write(dir.path(), "config.yaml", &big);
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let m = &c.errors[0].message;
    assert!(m.contains(&format!("is {} bytes", big.len())), "{m}");
    assert!(
        m.contains(&format!("limit of {MAX_CONFIG_BYTES} bytes")),
        "{m}"
    );
    assert_eq!(c.name, "Workspace");
    assert_eq!(parse(&big).errors.len(), 1);
}

#[test]
fn low_a_fifo_as_config_fails_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("config.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable; skipping");
        return;
    }
    let c = WorkspaceConfig::load(dir.path(), &no_env());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert!(
        c.errors[0].message.contains("not a regular file"),
        "{}",
        c.errors[0]
    );
}

#[test]
fn runtime_config_is_kept_whole_for_adapters() {
    let c = parse(
        "\u{feff}runtime_config: {command: x, custom: {deep: [1, 2]}}\nbig: 99999999999999999999\n",
    );
    assert_eq!(
        c.runtime_config.raw["custom"]["deep"][1],
        serde_yaml::Value::from(2)
    );
    assert_eq!(c.runtime_config.command.as_deref(), Some("x"));
    assert!(parse("name: x\n").runtime_config.raw.is_null());
}

#[test]
fn low_the_nesting_scan_is_linear_and_knows_block_scalars() {
    // Many indicator-like characters on one line stay fast.
    let yaml = format!("description: x {}\n", "| ".repeat(400_000));
    let start = Instant::now();
    let _ = parse(&yaml);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Brackets in block scalars of any style are text.
    for header in ["|", ">-", "|2", "|+ # keep"] {
        let yaml = format!(
            "idle_prompt: {header}\n{}name: after\n",
            "  [[[[[[[[\n".repeat(40)
        );
        let c = parse(&yaml);
        assert!(c.errors.is_empty(), "{header}: {:?}", c.errors);
        assert_eq!(c.name, "after", "{header}");
    }
    // A list item's block scalar too.
    let yaml = format!("skills:\n  - |\n{}  - b\n", "    {{{{{{{{\n".repeat(40));
    assert!(parse(&yaml).errors.is_empty());
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
