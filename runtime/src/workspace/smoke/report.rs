//! The smoke report: what was loaded and link-checked, how the one stub execute ended, and the
//! exit code that follows from it (0 = the components load and execute reaches its body).
//! Rendered as JSON for CI (`--json`) or as short human lines.

use std::fmt::Write as _;

use serde::Serialize;

use crate::link_check::LinkProblem;

/// What a component is to the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// The agent loop.
    Adapter,
    /// A skill from the workspace's `skills/` folder.
    Skill,
    /// A skill shipped by a plugin.
    PluginSkill,
}

impl ComponentKind {
    /// `adapter`, `skill` or `plugin skill`.
    pub fn label(self) -> &'static str {
        match self {
            ComponentKind::Adapter => "adapter",
            ComponentKind::Skill => "skill",
            ComponentKind::PluginSkill => "plugin skill",
        }
    }
}

/// One unsatisfied import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    /// The import's name, e.g. `wasi:http/outgoing-handler@0.2.0`.
    pub import: String,
    /// Why it does not link.
    pub reason: String,
}

impl From<&LinkProblem> for ImportProblem {
    fn from(p: &LinkProblem) -> Self {
        ImportProblem {
            import: p.import.clone(),
            reason: p.reason.clone(),
        }
    }
}

/// How loading one component went.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    /// Adapter, skill or plugin skill.
    pub kind: ComponentKind,
    /// The adapter's runtime name or the skill's id.
    pub name: String,
    /// Where it came from (crate folder, skill folder or `.wasm`).
    pub source: Option<String>,
    /// Whether every import is satisfied (false when the check could not run).
    pub link_ok: bool,
    /// Every unsatisfied import.
    pub link_problems: Vec<ImportProblem>,
    /// Whether it was built, compiled, pre-instantiated and described.
    pub loaded: bool,
    /// Skipped on purpose (e.g. a skill whose SKILL.md `runtime` excludes this adapter).
    pub skipped: bool,
    /// Tools: a skill's own; for the adapter, every tool it sees.
    pub tools: Vec<String>,
    /// Why it did not load.
    pub error: Option<String>,
}

impl ComponentReport {
    /// Whether this component makes the smoke fail.
    pub fn failed(&self) -> bool {
        !self.skipped && (!self.loaded || !self.link_ok)
    }
}

/// How the one stub `execute` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `execute` returned Ok within the time limit.
    Clean,
    /// Still running when the smoke time limit passed (PASS: execute reached its body).
    Timeout,
    /// A tool call asked for a human (`request_approval`, or a tool config.yaml's
    /// `approval.tools` gates): the run ended there at once (PASS: execute reached its body).
    Approval,
    /// The adapter returned an error (setup refused, model unreachable, …): PASS.
    Error,
    /// The guest trapped or hit a memory/table limit: the component is broken (FAIL).
    Crash,
    /// The host could not run the stub call at all (FAIL).
    Broken,
    /// Not run, because preflight or loading failed.
    Skipped,
}

impl Outcome {
    /// Whether this outcome fails the smoke.
    pub fn fails(self) -> bool {
        matches!(self, Outcome::Crash | Outcome::Broken)
    }
}

/// The execute step.
#[derive(Debug, Clone, Serialize)]
pub struct ExecuteReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The error, crash or timeout text.
    pub detail: Option<String>,
    /// Wall-clock time of setup + execute, in milliseconds.
    pub elapsed_ms: u64,
    /// The smoke time limit in seconds (`MOLECULE_SMOKE_TIMEOUT_SECS`).
    pub timeout_secs: u64,
}

/// One preflight line.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightLine {
    /// `PASS`, `WARN` or `FAIL`.
    pub status: &'static str,
    /// What was checked.
    pub name: String,
    /// What was found.
    pub detail: String,
}

/// The whole smoke run.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeReport {
    /// The workspace's name.
    pub workspace: String,
    /// The config's `runtime`.
    pub runtime: String,
    /// The preflight checks.
    pub preflight: Vec<PreflightLine>,
    /// Every component, adapter first.
    pub components: Vec<ComponentReport>,
    /// The stub execute.
    pub execute: ExecuteReport,
    /// The reason a component gave when it reported itself wedged.
    pub wedged: Option<String>,
    /// 0 (PASS) or 1 (FAIL).
    pub exit_code: u8,
}

impl SmokeReport {
    /// Sets `exit_code` from the rest: 1 on a preflight FAIL, a component that failed to load
    /// or link, a crashed or broken execute, or a wedged component.
    pub fn finish(mut self) -> Self {
        let failed = self.preflight.iter().any(|l| l.status == "FAIL")
            || self.components.iter().any(ComponentReport::failed)
            || self.execute.outcome.fails()
            || self.wedged.is_some();
        self.exit_code = u8::from(failed);
        self
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Short human lines: one per component, the execute outcome, the verdict.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.components {
            let state = if c.skipped {
                "skipped"
            } else if c.failed() {
                "FAIL"
            } else {
                "ok"
            };
            let _ = writeln!(out, "{} {}: {state}", c.kind.label(), c.name);
            for p in &c.link_problems {
                let _ = writeln!(out, "  missing import `{}`: {}", p.import, p.reason);
            }
            if let Some(err) = c.error.as_ref().filter(|_| c.link_problems.is_empty()) {
                let _ = writeln!(out, "  {err}");
            }
            if !c.tools.is_empty() && c.kind != ComponentKind::Adapter {
                let _ = writeln!(out, "  tools: {}", c.tools.join(", "));
            }
        }
        let e = &self.execute;
        let outcome = serde_json::to_value(e.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            out,
            "execute: {outcome} after {} ms (limit {} s)",
            e.elapsed_ms, e.timeout_secs
        );
        match &e.detail {
            Some(detail) => {
                let _ = writeln!(out, ": {detail}");
            }
            None => out.push('\n'),
        }
        if let Some(reason) = &self.wedged {
            let _ = writeln!(out, "wedged: {reason}");
        }
        let verdict = if self.exit_code == 0 { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "smoke: {verdict} (exit {})", self.exit_code);
        out
    }
}
