//! Tests for the `sandbox` section's budgets and admission keys (issue 14): every limit is
//! read by its full key, and an unreadable value, a null or a near-miss key name is an error
//! (fail closed) rather than a default.

use std::time::Duration;

use super::{error, parse};
use crate::SandboxConfig;

#[test]
fn every_budget_key_is_read_by_its_full_key() {
    let yaml = "sandbox:
  memory_limit: 64m
  max_output: 2m
  table_elements: 5000
  log: {max_bytes: 16k, max_records: 50}
  heartbeat: {max_wedged_reports: 3}
  describe: {max_bytes: 512k, max_tools: 40, max_name_bytes: 32, max_schema_bytes: 8k}
  memory_capability: {max_entry_bytes: 4k, quota: 1m, max_writes_per_call: 7}
  http: {max_requests_per_call: 0, max_bytes_per_call: 10m}
  task: {max_events: 500, max_artifact_bytes: 4m, max_data_values: 900}
  llm: {max_requests_per_call: 12, max_open_streams: 3}
  admission: {max_concurrent_calls: 8, max_guest_memory: 1g, max_waiting: 100, max_wait: 5s}
";
    let c = parse(yaml);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let s = &c.sandbox;
    assert_eq!(s.memory_limit, 64 << 20);
    for (key, want) in [
        ("sandbox.max_output", 2 << 20),
        ("sandbox.table_elements", 5000),
        ("sandbox.log.max_bytes", 16 << 10),
        ("sandbox.log.max_records", 50),
        ("sandbox.heartbeat.max_wedged_reports", 3),
        ("sandbox.describe.max_bytes", 512 << 10),
        ("sandbox.describe.max_tools", 40),
        ("sandbox.describe.max_name_bytes", 32),
        ("sandbox.describe.max_schema_bytes", 8 << 10),
        ("sandbox.memory_capability.max_entry_bytes", 4 << 10),
        ("sandbox.memory_capability.quota", 1 << 20),
        ("sandbox.memory_capability.max_writes_per_call", 7),
        ("sandbox.http.max_requests_per_call", 0),
        ("sandbox.http.max_bytes_per_call", 10 << 20),
        ("sandbox.task.max_events", 500),
        ("sandbox.task.max_artifact_bytes", 4 << 20),
        ("sandbox.task.max_data_values", 900),
        ("sandbox.llm.max_requests_per_call", 12),
        ("sandbox.llm.max_open_streams", 3),
        ("sandbox.admission.max_concurrent_calls", 8),
        ("sandbox.admission.max_guest_memory", 1 << 30),
        ("sandbox.admission.max_waiting", 100),
    ] {
        assert_eq!(s.limit(key), Some(want), "{key}");
    }
    assert_eq!(
        s.duration("sandbox.admission.max_wait"),
        Some(Duration::from_secs(5))
    );
    assert_eq!(SandboxConfig::known_keys().len(), s.limits.len() + 1);
}

#[test]
fn absent_budgets_are_absent_so_the_runtime_default_applies() {
    let c = parse("sandbox: {timeout: 5s}\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(c.sandbox.limits.is_empty());
    assert_eq!(c.sandbox.limit("sandbox.log.max_records"), None);
}

#[test]
fn an_unreadable_budget_fails_closed_naming_the_key() {
    for (yaml, key, says) in [
        (
            "sandbox: {log: {max_records: lots}}\n",
            "sandbox.log.max_records",
            "expected a whole number, found lots",
        ),
        (
            "sandbox: {http: {max_requests_per_call: -1}}\n",
            "sandbox.http.max_requests_per_call",
            "expected a whole number",
        ),
        (
            "sandbox: {memory_capability: {quota: ~}}\n",
            "sandbox.memory_capability.quota",
            "null",
        ),
        (
            "sandbox: {admission: {max_concurrent_calls: 0}}\n",
            "sandbox.admission.max_concurrent_calls",
            "`0` is below the minimum 1",
        ),
        (
            "sandbox: {admission: {max_wait: forever}}\n",
            "sandbox.admission.max_wait",
            "not replaced by a default",
        ),
        (
            "sandbox: {describe: 12}\n",
            "sandbox.describe",
            "expected a mapping",
        ),
    ] {
        let c = parse(yaml);
        let e = error(&c, key);
        assert!(e.message.contains(says), "{yaml}: {e}");
        assert!(c.sandbox.limits.is_empty(), "{yaml}: nothing half-read");
    }
}

#[test]
fn a_near_miss_budget_key_is_an_error_not_ignored() {
    let c = parse("sandbox: {http: {max_request_per_call: 5}}\n");
    let e = error(&c, "sandbox.http.max_request_per_call");
    assert!(e.message.contains("max_requests_per_call"), "{e}");
    let c = parse("sandbox: {admision: {max_waiting: 5}}\n");
    let e = error(&c, "sandbox.admision");
    assert!(e.message.contains("admission"), "{e}");
}

#[test]
fn a_near_miss_of_a_leaf_says_it_is_a_setting_and_of_a_section_that_it_holds_them() {
    let c = parse("sandbox: {http: {max_request_per_call: 5}}\n");
    let e = error(&c, "sandbox.http.max_request_per_call");
    assert!(
        e.message
            .contains("`max_requests_per_call` is a security setting"),
        "{e}"
    );
    let c = parse("sandbox: {admision: {max_waiting: 5}}\n");
    let e = error(&c, "sandbox.admision");
    assert!(
        e.message.contains("`admission` holds security settings"),
        "{e}"
    );
}

#[test]
fn a_value_out_of_range_names_the_minimum_or_maximum() {
    for (yaml, key, says) in [
        (
            "sandbox: {describe: {max_tools: 0}}\n",
            "sandbox.describe.max_tools",
            "`0` is below the minimum 1; a limit out of range is not clamped",
        ),
        (
            "sandbox: {admission: {max_concurrent_calls: 100000000}}\n",
            "sandbox.admission.max_concurrent_calls",
            "`100000000` is above the maximum 100000",
        ),
        (
            "sandbox: {admission: {max_guest_memory: 1m}}\n",
            "sandbox.admission.max_guest_memory",
            "`1m` is below the minimum 16m",
        ),
    ] {
        let c = parse(yaml);
        let e = error(&c, key);
        assert!(e.message.contains(says), "{yaml}: {e}");
        assert!(!e.message.contains("cannot be read"), "{yaml}: {e}");
        assert_eq!(e.line, Some(1), "{e}");
        assert!(c.sandbox.limits.is_empty(), "{yaml}");
    }
    let c = parse("sandbox: {admission: {max_concurrent_calls: 100000, max_guest_memory: 16m}}\n");
    assert!(
        c.errors.is_empty(),
        "the bounds themselves are allowed: {:?}",
        c.errors
    );
}

#[test]
fn errors_echo_the_value_as_written() {
    let c = parse("sandbox: {log: {max_records: 1e3}}\n");
    let e = error(&c, "sandbox.log.max_records");
    assert!(e.message.contains("found 1e3"), "{e}");
    let c = parse("sandbox: {max_output: 1e3}\n");
    let e = error(&c, "sandbox.max_output");
    assert!(
        e.message.contains("`1e3` is not a whole number of bytes"),
        "{e}"
    );
    let c = parse("sandbox: {max_output: 1.5m}\n");
    let e = error(&c, "sandbox.max_output");
    assert!(
        e.message
            .contains("fractional sizes are not accepted; write `1536k`"),
        "{e}"
    );
}

#[test]
fn table_elements_above_the_pool_warns_once_naming_the_key_and_the_cap() {
    let c = parse("name: x\nsandbox:\n  table_elements: 200000\n");
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.sandbox.limit("sandbox.table_elements"), Some(200_000));
    let warnings: Vec<_> = c
        .warnings
        .iter()
        .filter(|w| w.key == "sandbox.table_elements")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0];
    assert!(
        w.message.contains("table pool of 100000 elements")
            && w.message.contains("the limit in force is 100000"),
        "{w}"
    );
    assert_eq!(w.line, Some(3));
    assert!(parse("sandbox: {table_elements: 100000}\n")
        .warnings
        .is_empty());
}
