//! Budgets on what a guest makes the host store, send or do for it — log text, wedged
//! reports, `describe` output, memory entries, outgoing HTTP, model requests, task events and
//! bytes (artifacts and messages) — each
//! with a default, the config.yaml key that sets it, the error a guest gets when it is spent,
//! and a `/metrics` counter of hits (`molecule_budget_hits_total{budget}`).
//!
//! A leaf module: capabilities, the sandbox and the workspace all import it; it imports
//! nothing of the crate.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The per-call and per-task budgets of one component (a field of
/// [`crate::limits::SandboxLimits`]). Every count is per call unless it says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Log records (`log.write` calls and stdout/stderr lines) kept per call.
    pub log_records: u64,
    /// `heartbeat.report-wedged` calls per call.
    pub wedged_reports: u64,
    /// Total bytes of one `describe` answer (names, descriptions, schemas).
    pub describe_bytes: u64,
    /// Tools one skill may declare.
    pub describe_tools: u64,
    /// Longest tool name, in bytes (names are also limited to `[a-z0-9_-]`, the rule of
    /// `wit/types.wit`; see [`crate::describe`]).
    pub tool_name_bytes: u64,
    /// Largest input schema of one tool, in bytes of JSON.
    pub schema_bytes: u64,
    /// Largest memory entry (key plus value), in bytes.
    pub memory_entry_bytes: u64,
    /// Bytes one component may keep in the memory store (all its entries).
    pub memory_quota_bytes: u64,
    /// Memory writes (`commit`) per call.
    pub memory_writes: u64,
    /// Outgoing HTTP requests per call.
    pub http_requests: u64,
    /// Outgoing HTTP bytes per call: request bodies sent plus response bodies received.
    pub http_bytes: u64,
    /// Events (status updates, messages, artifact chunks) one task may emit.
    pub task_events: u64,
    /// Bytes one task may emit: its artifacts, messages and status messages together (the
    /// key keeps its historical name `sandbox.task.max_artifact_bytes`).
    pub artifact_bytes: u64,
    /// JSON values in the data parts one task may emit, all events together (the host parses
    /// each into a JSON tree of ~100 bytes a value; see `capabilities::events`).
    pub data_values: u64,
    /// Model requests (`llm.complete` and `llm.stream`) per call.
    pub llm_requests: u64,
    /// Chat streams one call may hold open at once.
    pub llm_streams: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            log_records: 1_000,
            wedged_reports: 10,
            describe_bytes: 1 << 20,
            describe_tools: 256,
            tool_name_bytes: 64,
            schema_bytes: 64 << 10,
            memory_entry_bytes: 256 << 10,
            memory_quota_bytes: 64 << 20,
            memory_writes: 1_000,
            http_requests: 100,
            http_bytes: 64 << 20,
            task_events: 10_000,
            artifact_bytes: 32 << 20,
            data_values: 500_000,
            llm_requests: 100,
            llm_streams: 8,
        }
    }
}

impl Budgets {
    /// The budgets config.yaml's `sandbox` section sets, each absent key at its default.
    pub fn configured(sandbox: &molecule_config::SandboxConfig) -> Budgets {
        let d = Budgets::default();
        let get = |b: Budget, default: u64| sandbox.limit(b.key()).unwrap_or(default);
        Budgets {
            log_records: get(Budget::LogRecords, d.log_records),
            wedged_reports: get(Budget::WedgedReports, d.wedged_reports),
            describe_bytes: get(Budget::DescribeBytes, d.describe_bytes),
            describe_tools: get(Budget::DescribeTools, d.describe_tools),
            tool_name_bytes: get(Budget::ToolNameBytes, d.tool_name_bytes),
            schema_bytes: get(Budget::SchemaBytes, d.schema_bytes),
            memory_entry_bytes: get(Budget::MemoryEntryBytes, d.memory_entry_bytes),
            memory_quota_bytes: get(Budget::MemoryQuota, d.memory_quota_bytes),
            memory_writes: get(Budget::MemoryWrites, d.memory_writes),
            http_requests: get(Budget::HttpRequests, d.http_requests),
            http_bytes: get(Budget::HttpBytes, d.http_bytes),
            task_events: get(Budget::TaskEvents, d.task_events),
            artifact_bytes: get(Budget::ArtifactBytes, d.artifact_bytes),
            data_values: get(Budget::DataValues, d.data_values),
            llm_requests: get(Budget::LlmRequests, d.llm_requests),
            llm_streams: get(Budget::LlmStreams, d.llm_streams),
        }
    }
}

/// Each budget a guest can spend, as named in errors, config.yaml and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Budget {
    /// `sandbox.log.max_bytes`
    LogBytes,
    /// `sandbox.log.max_records`
    LogRecords,
    /// `sandbox.heartbeat.max_wedged_reports`
    WedgedReports,
    /// `sandbox.max_output`, which also caps a tool's error text
    ToolErrorBytes,
    /// `sandbox.describe.max_bytes`
    DescribeBytes,
    /// `sandbox.describe.max_tools`
    DescribeTools,
    /// `sandbox.describe.max_name_bytes`
    ToolNameBytes,
    /// `sandbox.describe.max_schema_bytes`
    SchemaBytes,
    /// `sandbox.memory_capability.max_entry_bytes`
    MemoryEntryBytes,
    /// `sandbox.memory_capability.quota`
    MemoryQuota,
    /// `sandbox.memory_capability.max_writes_per_call`
    MemoryWrites,
    /// `sandbox.http.max_requests_per_call`
    HttpRequests,
    /// `sandbox.http.max_bytes_per_call`
    HttpBytes,
    /// `sandbox.task.max_events`
    TaskEvents,
    /// `sandbox.task.max_artifact_bytes`: artifacts, messages and status messages of a task
    ArtifactBytes,
    /// `sandbox.task.max_data_values`
    DataValues,
    /// `sandbox.llm.max_requests_per_call`
    LlmRequests,
    /// `sandbox.llm.max_open_streams`
    LlmStreams,
    /// `sandbox.admission.max_guest_memory` (workspace-wide)
    GuestMemory,
    /// `sandbox.admission.max_waiting` (workspace-wide)
    Waiting,
}

/// Every budget, in `/metrics` order.
pub const ALL: [Budget; 20] = [
    Budget::LogBytes,
    Budget::LogRecords,
    Budget::WedgedReports,
    Budget::ToolErrorBytes,
    Budget::DescribeBytes,
    Budget::DescribeTools,
    Budget::ToolNameBytes,
    Budget::SchemaBytes,
    Budget::MemoryEntryBytes,
    Budget::MemoryQuota,
    Budget::MemoryWrites,
    Budget::HttpRequests,
    Budget::HttpBytes,
    Budget::TaskEvents,
    Budget::ArtifactBytes,
    Budget::DataValues,
    Budget::LlmRequests,
    Budget::LlmStreams,
    Budget::GuestMemory,
    Budget::Waiting,
];

impl Budget {
    /// The config.yaml key that sets this budget.
    pub fn key(self) -> &'static str {
        match self {
            Budget::LogBytes => "sandbox.log.max_bytes",
            Budget::LogRecords => "sandbox.log.max_records",
            Budget::WedgedReports => "sandbox.heartbeat.max_wedged_reports",
            Budget::ToolErrorBytes => "sandbox.max_output",
            Budget::DescribeBytes => "sandbox.describe.max_bytes",
            Budget::DescribeTools => "sandbox.describe.max_tools",
            Budget::ToolNameBytes => "sandbox.describe.max_name_bytes",
            Budget::SchemaBytes => "sandbox.describe.max_schema_bytes",
            Budget::MemoryEntryBytes => "sandbox.memory_capability.max_entry_bytes",
            Budget::MemoryQuota => "sandbox.memory_capability.quota",
            Budget::MemoryWrites => "sandbox.memory_capability.max_writes_per_call",
            Budget::HttpRequests => "sandbox.http.max_requests_per_call",
            Budget::HttpBytes => "sandbox.http.max_bytes_per_call",
            Budget::TaskEvents => "sandbox.task.max_events",
            Budget::ArtifactBytes => "sandbox.task.max_artifact_bytes",
            Budget::DataValues => "sandbox.task.max_data_values",
            Budget::LlmRequests => "sandbox.llm.max_requests_per_call",
            Budget::LlmStreams => "sandbox.llm.max_open_streams",
            Budget::GuestMemory => "sandbox.admission.max_guest_memory",
            Budget::Waiting => "sandbox.admission.max_waiting",
        }
    }

    /// The `budget` label value in `molecule_budget_hits_total`.
    pub fn label(self) -> &'static str {
        match self {
            Budget::LogBytes => "log_bytes",
            Budget::LogRecords => "log_records",
            Budget::WedgedReports => "wedged_reports",
            Budget::ToolErrorBytes => "tool_error_bytes",
            Budget::DescribeBytes => "describe_bytes",
            Budget::DescribeTools => "describe_tools",
            Budget::ToolNameBytes => "tool_name_bytes",
            Budget::SchemaBytes => "schema_bytes",
            Budget::MemoryEntryBytes => "memory_entry_bytes",
            Budget::MemoryQuota => "memory_quota",
            Budget::MemoryWrites => "memory_writes",
            Budget::HttpRequests => "http_requests",
            Budget::HttpBytes => "http_bytes",
            Budget::TaskEvents => "task_events",
            Budget::ArtifactBytes => "artifact_bytes",
            Budget::DataValues => "data_values",
            Budget::LlmRequests => "llm_requests",
            Budget::LlmStreams => "llm_streams",
            Budget::GuestMemory => "guest_memory",
            Budget::Waiting => "waiting",
        }
    }

    /// What is counted, for messages: "log text", "memory writes per call", ….
    pub fn what(self) -> &'static str {
        match self {
            Budget::LogBytes => "log text per call",
            Budget::LogRecords => "log records per call",
            Budget::WedgedReports => "wedged reports per call",
            Budget::ToolErrorBytes => "tool error text",
            Budget::DescribeBytes => "describe output",
            Budget::DescribeTools => "tools per skill",
            Budget::ToolNameBytes => "tool name length",
            Budget::SchemaBytes => "input schema size",
            Budget::MemoryEntryBytes => "memory entry size",
            Budget::MemoryQuota => "memory kept per component",
            Budget::MemoryWrites => "memory writes per call",
            Budget::HttpRequests => "outgoing HTTP requests per call",
            Budget::HttpBytes => "outgoing HTTP bytes per call",
            Budget::TaskEvents => "events per task",
            Budget::ArtifactBytes => "bytes per task (artifacts, messages and status messages)",
            Budget::DataValues => "JSON values in data parts per task",
            Budget::LlmRequests => "model requests per call",
            Budget::LlmStreams => "open model streams per call",
            Budget::GuestMemory => "guest memory across the workspace",
            Budget::Waiting => "calls waiting for a sandbox",
        }
    }

    /// True when the budget is a number of bytes (messages format it as a size).
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            Budget::LogBytes
                | Budget::ToolErrorBytes
                | Budget::DescribeBytes
                | Budget::ToolNameBytes
                | Budget::SchemaBytes
                | Budget::MemoryEntryBytes
                | Budget::MemoryQuota
                | Budget::HttpBytes
                | Budget::ArtifactBytes
                | Budget::GuestMemory
        )
    }

    fn index(self) -> usize {
        ALL.iter().position(|b| *b == self).unwrap_or(0)
    }
}

/// A spent budget: the error a guest (or a caller) gets, and what `/metrics` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetHit {
    /// Which budget.
    pub budget: Budget,
    /// Its limit, in bytes or a count (see [`Budget::is_bytes`]).
    pub limit: u64,
}

impl BudgetHit {
    /// Counts a hit of `budget` in `/metrics` and returns the error to report.
    pub fn record(budget: Budget, limit: u64) -> BudgetHit {
        HITS[budget.index()].fetch_add(1, Ordering::Relaxed);
        BudgetHit { budget, limit }
    }
}

impl fmt::Display for BudgetHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = if self.budget.is_bytes() {
            format_size(self.limit)
        } else {
            self.limit.to_string()
        };
        write!(
            f,
            "budget spent: {} is limited to {limit} (raise {})",
            self.budget.what(),
            self.budget.key()
        )
    }
}

impl std::error::Error for BudgetHit {}

static HITS: [AtomicU64; ALL.len()] = [const { AtomicU64::new(0) }; ALL.len()];

/// Hits of each budget since the process started, in [`ALL`] order.
pub fn hits() -> impl Iterator<Item = (Budget, u64)> {
    ALL.iter()
        .map(|b| (*b, HITS[b.index()].load(Ordering::Relaxed)))
}

fn format_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n.is_multiple_of(1 << 30) => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_budget_has_a_distinct_key_and_label() {
        let keys: std::collections::BTreeSet<_> = ALL.iter().map(|b| b.key()).collect();
        let labels: std::collections::BTreeSet<_> = ALL.iter().map(|b| b.label()).collect();
        assert_eq!(keys.len(), ALL.len());
        assert_eq!(labels.len(), ALL.len());
        for (i, b) in ALL.iter().enumerate() {
            assert_eq!(b.index(), i);
        }
    }

    #[test]
    fn every_budget_key_is_one_config_yaml_reads() {
        let known = molecule_config::SandboxConfig::known_keys();
        for b in ALL {
            assert!(
                known.iter().any(|k| k == b.key()),
                "{} is not read",
                b.key()
            );
        }
        let yaml = "sandbox: {http: {max_requests_per_call: 3}, task: {max_events: 9}}\n";
        let config = molecule_config::WorkspaceConfig::from_yaml_str(
            yaml,
            std::path::Path::new("/cfg"),
            &molecule_config::Env::from_pairs(Vec::<(String, String)>::new()),
        );
        let b = Budgets::configured(&config.sandbox);
        assert_eq!(b.http_requests, 3);
        assert_eq!(b.task_events, 9);
        assert_eq!(b.log_records, Budgets::default().log_records);
    }

    #[test]
    fn a_hit_names_the_limit_and_the_key_and_is_counted() {
        let before = hits().find(|(b, _)| *b == Budget::MemoryQuota).unwrap().1;
        let hit = BudgetHit::record(Budget::MemoryQuota, 64 << 20);
        assert_eq!(
            hit.to_string(),
            "budget spent: memory kept per component is limited to 64 MiB \
             (raise sandbox.memory_capability.quota)"
        );
        let after = hits().find(|(b, _)| *b == Budget::MemoryQuota).unwrap().1;
        assert!(after > before);
        let count = BudgetHit::record(Budget::HttpRequests, 100);
        assert!(count
            .to_string()
            .contains("limited to 100 (raise sandbox.http"));
    }
}
