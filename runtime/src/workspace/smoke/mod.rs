//! Smoke mode (`MOLECULE_SMOKE_MODE`, or `molecule-runtime smoke`): the CI gate that proves a
//! workspace's components load. Preflight runs (missing env only warns; FAIL still fails),
//! then EVERY component — the adapter, each skill, each plugin skill — is built, compiled and
//! link-checked against stub credentials (`sk-fake-smoke-*`, `WORKSPACE_ID=fake-smoke`), and the
//! adapter's `setup` + `execute` run once on a stub "smoke test" request under
//! `MOLECULE_SMOKE_TIMEOUT_SECS`. Nothing registers, heartbeats or listens.
//!
//! Exit 0: clean return, timeout, an approval request (`request_approval` or a tool config.yaml's
//! `approval.tools` gates: the run ends there at once, `execute.rs`), or an ordinary error (the adapter returned `Err`: setup
//! refused, model unreachable, …) — execute reached its body. Exit 1: preflight FAIL, a load or
//! link failure (the ImportError class; the report names the component and each missing
//! import), a guest crash (trap, memory/table limit), a stub the host could not run, or a
//! component that called `heartbeat.report-wedged`.

mod cli;
mod execute;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use molecule_config::{Env, PreflightReport};
use molecule_llm::Credentials;

pub use report::{
    ComponentKind, ComponentReport, ExecuteReport, ImportProblem, Outcome, PreflightLine,
    SmokeReport,
};

use execute::{classify, StubRun, WedgeWatch};

use super::adapter::load_adapter;
use super::approval::Gate;
use super::deps::BootDeps;
use super::prompt::adapter_config;
use super::registry::skill_registry;
use super::skills::SkillSnapshot;
use super::task_tools::builtin_specs;
use crate::builder::ComponentBuilder;
use crate::capabilities::memory::{MemoryBackend, SqliteMemory};
use crate::component::{AdapterComponent, ComponentHost, LinkError};
use crate::plan::Plan;
use crate::redact::redact;
use crate::skill_dir::{ComponentSource, SkillDir};

/// Prefix of every stub credential.
pub const STUB_CREDENTIAL_PREFIX: &str = "sk-fake-smoke-";
/// `WORKSPACE_ID` in smoke mode when none is set.
pub const SMOKE_WORKSPACE_ID: &str = "fake-smoke";
/// The text of the stub request.
pub const SMOKE_TEXT: &str = "smoke test";
/// The credentials that get a stub when unset.
pub const STUB_CREDENTIALS: [&str; 4] = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

/// The environment smoke mode runs with: `vars` plus `MOLECULE_SMOKE_MODE=1`,
/// `WORKSPACE_ID=fake-smoke` and a `sk-fake-smoke-*` stub for each unset credential of
/// [`STUB_CREDENTIALS`]. Only this captured [`Env`] changes, never the process environment.
pub fn smoke_env(vars: impl IntoIterator<Item = (String, String)>) -> Env {
    let mut pairs: Vec<(String, String)> = vars.into_iter().collect();
    let unset = |pairs: &[(String, String)], name: &str| {
        !pairs.iter().any(|(k, v)| k == name && !v.trim().is_empty())
    };
    let mut extra = vec![("MOLECULE_SMOKE_MODE".to_owned(), "1".to_owned())];
    if unset(&pairs, "WORKSPACE_ID") {
        extra.push(("WORKSPACE_ID".into(), SMOKE_WORKSPACE_ID.into()));
    }
    for name in STUB_CREDENTIALS {
        if unset(&pairs, name) {
            let suffix = name.to_ascii_lowercase().replace('_', "-");
            extra.push((name.into(), format!("{STUB_CREDENTIAL_PREFIX}{suffix}")));
        }
    }
    pairs.extend(extra);
    Env::from_pairs(pairs)
}

/// The model gateway's credentials in smoke mode: read from the smoke [`Env`], so the stubs
/// of [`smoke_env`] fill whatever the environment lacks.
pub fn smoke_credentials(env: &Env) -> Credentials {
    Credentials::from_lookup(|k| env.get(k).map(str::to_owned))
}

/// Runs smoke mode for `plan` (whose env should come from [`smoke_env`]) and reports.
pub async fn smoke(plan: Plan, host: Arc<ComponentHost>, builder: ComponentBuilder) -> SmokeReport {
    let timeout = plan.env.smoke_timeout;
    let mut report = SmokeReport {
        workspace: plan.config.name.clone(),
        runtime: plan.adapter.runtime.clone(),
        preflight: preflight_lines(&plan.preflight),
        components: Vec::new(),
        execute: ExecuteReport {
            outcome: Outcome::Skipped,
            detail: None,
            elapsed_ms: 0,
            timeout_secs: timeout.as_secs(),
        },
        wedged: None,
        exit_code: 0,
    };
    if plan.preflight.has_failures() {
        report.execute.detail = Some("preflight failed".into());
        return report.finish();
    }
    if let Some(cli) = plan.config.cli.clone() {
        return cli::smoke_cli(&plan, &cli, report).await;
    }
    let memory: Arc<dyn MemoryBackend> = match SqliteMemory::in_memory() {
        Ok(memory) => Arc::new(memory),
        Err(err) => {
            report.execute.outcome = Outcome::Broken;
            report.execute.detail = Some(format!("in-memory memory store: {err:#}"));
            return report.finish();
        }
    };
    // Smoke runs are offline: stub credentials never leave the machine.
    let gateway = plan.offline_gateway(smoke_credentials(&plan.env));
    if let Err(reason) = &gateway {
        tracing::warn!(%reason, "smoke: no model; the adapter's model calls fail at once");
    }
    let deps = BootDeps {
        host,
        builder,
        gateway,
        in_memory_tasks: true,
    };

    let skills = Arc::new(skill_registry(&plan, &deps, &memory));
    let snapshot = skills.load_all().await;
    let adapter = load_adapter(&plan, &deps, &memory).await;
    let mut visible: Vec<String> = builtin_specs().into_iter().map(|s| s.name).collect();
    visible.extend(snapshot.tool_specs().into_iter().map(|s| s.name));
    report
        .components
        .push(adapter_report(&plan, &adapter, visible));
    for (id, dir, kind) in skill_folders(&plan) {
        report
            .components
            .push(skill_report(&deps, &snapshot, &id, &dir, kind).await);
    }
    let adapter = match adapter {
        Ok(adapter) if !report.components.iter().any(ComponentReport::failed) => adapter,
        _ => {
            report.execute.detail = Some("a component failed to load".into());
            return report.finish();
        }
    };

    let config = adapter_config(&plan, &snapshot);
    let watch = Arc::new(WedgeWatch::default());
    let started = Instant::now();
    let run = StubRun {
        deps: &deps,
        adapter: &adapter,
        skills,
        memory,
        config: &config,
        timeout,
        watch: watch.clone(),
        gate: Gate::new(plan.config.approval.tools.clone()),
    };
    let result = run.run().await;
    report.execute.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (outcome, detail) = classify(result);
    report.execute.outcome = outcome;
    report.execute.detail = detail.map(|d| redact(&d));
    report.wedged = watch.reason();
    report.finish()
}

fn preflight_lines(report: &PreflightReport) -> Vec<PreflightLine> {
    report
        .checks
        .iter()
        .map(|c| PreflightLine {
            status: c.status.label(),
            name: c.name.clone(),
            detail: c.detail.clone(),
        })
        .collect()
}

fn adapter_report(
    plan: &Plan,
    adapter: &anyhow::Result<AdapterComponent>,
    tools: Vec<String>,
) -> ComponentReport {
    let mut report = ComponentReport {
        kind: ComponentKind::Adapter,
        name: plan.adapter.runtime.clone(),
        source: plan.adapter.path.as_ref().map(|p| p.display().to_string()),
        link_ok: true,
        link_problems: Vec::new(),
        loaded: true,
        skipped: false,
        tools,
        error: None,
    };
    if let Err(err) = adapter {
        report.loaded = false;
        report.tools.clear();
        report.error = Some(redact(&format!("{err:#}")));
        report.link_ok = false;
        if let Some(link) = err.downcast_ref::<LinkError>() {
            report.link_problems = link.problems.iter().map(ImportProblem::from).collect();
        }
    }
    report
}

/// Skill folders the registry considers, with their kind: `skills/` first, then plugin
/// skills; the first folder of an id wins; config.yaml `skills:` filters.
fn skill_folders(plan: &Plan) -> Vec<(String, PathBuf, ComponentKind)> {
    let mut out: Vec<(String, PathBuf, ComponentKind)> = Vec::new();
    let mut roots: Vec<PathBuf> = plan
        .skill_roots
        .iter()
        .filter_map(|root| std::fs::read_dir(root).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .collect();
    roots.sort();
    let plugin_dirs = plan
        .plugins
        .plugins
        .iter()
        .flat_map(|p| p.skill_dirs.iter().cloned());
    let listed = roots
        .into_iter()
        .map(|p| (p, ComponentKind::Skill))
        .chain(plugin_dirs.map(|p| (p, ComponentKind::PluginSkill)));
    for (path, kind) in listed {
        let Some(id) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let wanted = plan.config.skills.is_empty() || plan.config.skills.contains(&id);
        if wanted && path.join("SKILL.md").is_file() && !out.iter().any(|(i, _, _)| *i == id) {
            out.push((id, path, kind));
        }
    }
    out
}

async fn skill_report(
    deps: &BootDeps,
    snapshot: &SkillSnapshot,
    id: &str,
    dir: &Path,
    kind: ComponentKind,
) -> ComponentReport {
    let mut report = ComponentReport {
        kind,
        name: id.to_owned(),
        source: Some(dir.display().to_string()),
        link_ok: true,
        link_problems: Vec::new(),
        loaded: false,
        skipped: false,
        tools: Vec::new(),
        error: None,
    };
    if let Some(skill) = snapshot.skills.get(id) {
        report.loaded = true;
        report.tools = skill
            .component
            .tools
            .iter()
            .map(|t| t.name.clone())
            .collect();
    } else if snapshot
        .listed
        .get(id)
        .is_some_and(|d| d.source == ComponentSource::Instructions)
    {
        // Instructions only: nothing to load, nothing that can fail.
        report.loaded = true;
    }
    let clashes: Vec<&String> = snapshot
        .problems
        .iter()
        .filter(|(key, _)| key.strip_prefix(id).is_some_and(|r| r.starts_with('/')))
        .map(|(_, text)| text)
        .collect();
    if let Some(problem) = snapshot.problems.get(id) {
        report.error = Some(redact(problem));
        if problem.starts_with("skipped:") {
            report.skipped = true;
        } else if problem.contains("does not link") {
            report.link_ok = false;
            report.link_problems = probe_link(deps, dir).await;
        }
    } else if !clashes.is_empty() {
        let texts: Vec<&str> = clashes.iter().map(|s| s.as_str()).collect();
        report.error = Some(texts.join("; "));
    }
    report
}

/// Link-checks a skill folder's component again to list its missing imports (the registry
/// keeps only the error text). Everything it needs is in the build and compile caches.
async fn probe_link(deps: &BootDeps, dir: &Path) -> Vec<ImportProblem> {
    let probe = async {
        let skill = SkillDir::load(dir)?;
        let wasm = match skill.source {
            ComponentSource::Prebuilt(path) => path,
            ComponentSource::Crate(crate_dir) => {
                let builder = deps.builder.clone();
                tokio::task::spawn_blocking(move || builder.build(&crate_dir))
                    .await??
                    .wasm
            }
            ComponentSource::Python(_) => crate::python::ensure(deps.builder.python()).await?.wasm,
            ComponentSource::JavaScript(_) => crate::javascript::ensure(&deps.builder).await?.wasm,
            ComponentSource::Instructions => return Ok(Vec::new()),
        };
        let bytes = tokio::fs::read(&wasm).await?;
        let (component, _) = deps.host.compile(&bytes, &format!("skill {}", skill.id))?;
        anyhow::Ok(deps.host.link_check(&component))
    };
    match probe.await {
        Ok(problems) => problems.iter().map(ImportProblem::from).collect(),
        Err(err) => {
            tracing::warn!(dir = %dir.display(), error = %format!("{err:#}"), "smoke: link probe failed");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_env_adds_stubs_only_where_unset() {
        let env = smoke_env([
            ("OPENAI_API_KEY".to_owned(), "real".to_owned()),
            ("GEMINI_API_KEY".to_owned(), " ".to_owned()),
        ]);
        assert!(env.smoke_mode);
        assert_eq!(env.workspace_id.as_deref(), Some(SMOKE_WORKSPACE_ID));
        assert_eq!(env.get("OPENAI_API_KEY"), Some("real"));
        for name in [
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "CLAUDE_CODE_OAUTH_TOKEN",
        ] {
            assert!(env.get(name).unwrap().starts_with(STUB_CREDENTIAL_PREFIX));
        }
        let creds = smoke_credentials(&env);
        assert!(creds
            .anthropic_api_key
            .unwrap()
            .starts_with(STUB_CREDENTIAL_PREFIX));
        assert_eq!(creds.openai_api_key.as_deref(), Some("real"));
    }

    #[test]
    fn smoke_env_keeps_a_real_workspace_id() {
        let env = smoke_env([("WORKSPACE_ID".to_owned(), "ws-1".to_owned())]);
        assert_eq!(env.workspace_id.as_deref(), Some("ws-1"));
    }
}
