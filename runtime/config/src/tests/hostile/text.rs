//! M5, M6 and LOW: what the YAML text holds. Integers beyond 64 bits, a byte-order mark,
//! keys with line breaks or escapes, and deep or bracket-heavy nesting are each handled
//! without losing or forging anything, and fast.

use std::time::{Duration, Instant};

use super::{check, parse_h};
use crate::tests::{error, no_env, parse, warning, write};
use crate::WorkspaceConfig;

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
