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
  task: {max_events: 500, max_artifact_bytes: 4m}
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
            "below the smallest allowed value, 1",
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
