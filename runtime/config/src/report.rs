//! The preflight report: one [`Check`] per line, PASS/WARN/FAIL, rendered as aligned text.

use std::fmt;

use crate::warning::escape_text;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Fine.
    Pass,
    /// The workspace starts, but something is likely wrong.
    Warn,
    /// The workspace must not start (the runtime exits 1).
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One preflight check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `runtime`, `a2a.port`, `skill web-fetch`.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found and, for WARN/FAIL, what to do about it.
    pub detail: String,
}

/// All checks, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreflightReport {
    /// The checks.
    pub checks: Vec<Check>,
}

impl PreflightReport {
    pub(crate) fn push(
        &mut self,
        status: Status,
        name: impl Into<String>,
        detail: impl Into<String>,
    ) {
        // Names and details carry text from files and the environment: escape it, so that
        // no value can start a line of its own (a forged `PASS`) or restyle the terminal.
        self.checks.push(Check {
            name: escape_text(&name.into()),
            status,
            detail: escape_text(&detail.into()),
        });
    }

    /// Whether any check failed (the runtime must exit 1).
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The checks with `status`.
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(move |c| c.status == status)
    }

    /// The report as text: one aligned line per check, then a summary line.
    pub fn render(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let detail = c.detail.replace('\n', " ");
            let line = format!("{}  {:<width$}  {detail}", c.status.label(), c.name);
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let count = |s| self.with_status(s).count();
        out.push_str(&format!(
            "preflight: {} passed, {} warnings, {} failed\n",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail)
        ));
        out
    }
}

impl fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}
