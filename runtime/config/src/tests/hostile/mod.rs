//! Hostile-test findings of issue 10 (H1–H2, M1–M6 and the config-side LOW items), each a
//! test whose expected value is the right behaviour: nothing written down as a security
//! setting is dropped or replaced by a default without a preflight FAIL.
//!
//! By topic: `keys` (security keys merged, misplaced, misspelt or empty: H1, H2, M1, M2),
//! `secrets` (unusable inbound secrets: M3), `files` (the config file itself: M4 and the
//! LOW items on size and FIFOs) and `text` (what the YAML text holds: M5, M6 and the LOW
//! items on escapes and nesting).

mod files;
mod keys;
mod secrets;
mod text;

use std::path::Path;

use super::{no_env, parse};
use crate::{preflight, PreflightReport, WorkspaceConfig};

/// `H` of the report: a runnable workspace.
const H: &str = "runtime: langgraph\nmodel: scripted:demo\n";

/// Preflight of `config` with no environment and the `langgraph` adapter available.
fn check(config: &WorkspaceConfig) -> PreflightReport {
    preflight(&no_env(), config, &["langgraph"], Path::new("/cfg"))
}

/// Parses `H` + `rest`; lines of `rest` start at 3.
fn parse_h(rest: &str) -> WorkspaceConfig {
    parse(&format!("{H}{rest}"))
}

/// Asserts that preflight FAILs `c`; `what` labels the assertion.
fn assert_fails(c: &WorkspaceConfig, what: &str) {
    let report = check(c);
    assert!(report.has_failures(), "{what}: {report}");
}
