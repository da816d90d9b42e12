//! Smoke mode for `runtime: cli`: there is no component to link, so the adapter's line is the
//! granted program (resolved from `runtime_config.command`, a FAIL when it cannot be), and the
//! stub request runs it once — in a scratch working folder, with the smoke environment's
//! stub credentials, under `MOLECULE_SMOKE_TIMEOUT_SECS`. Exit 0 is clean, another exit code
//! an ordinary error (PASS), the time limit a PASS ("timeout"); a program that cannot start
//! fails the smoke. Skills are not checked: a CLI agent does not call them.

use tokio::sync::watch;

use super::report::{ComponentKind, ComponentReport, Outcome, SmokeReport};
use super::SMOKE_TEXT;
use crate::cli_agent::{run_program, CliSpec, Ended, TaskFolder};
use crate::plan::Plan;
use crate::redact::redact;

/// Runs the stub request through the granted program and finishes `report`.
pub(super) async fn smoke_cli(
    plan: &Plan,
    cli: &molecule_config::CliConfig,
    mut report: SmokeReport,
) -> SmokeReport {
    let root = std::env::temp_dir().join(format!("molecule-smoke-cli-{}", std::process::id()));
    let spec = CliSpec::new(cli, &plan.config, &plan.env).map(|spec| CliSpec {
        work_root: root.join("cli-tasks"),
        timeout: plan.env.smoke_timeout,
        kill_grace: spec.kill_grace.min(std::time::Duration::from_secs(1)),
        ..spec
    });
    let mut line = ComponentReport {
        kind: ComponentKind::Adapter,
        name: plan.adapter.runtime.clone(),
        source: spec.as_ref().ok().map(|s| s.program.display().to_string()),
        link_ok: true,
        link_problems: Vec::new(),
        loaded: spec.is_ok(),
        skipped: false,
        tools: Vec::new(),
        error: spec.as_ref().err().cloned(),
    };
    let spec = match spec {
        Ok(spec) => spec,
        Err(_) => {
            line.link_ok = false;
            report.components.push(line);
            report.execute.detail = Some("the granted program cannot be run".into());
            return report.finish();
        }
    };
    report.components.push(line);
    let started = std::time::Instant::now();
    let (outcome, detail) = run_once(&spec).await;
    let _ = std::fs::remove_dir_all(&root);
    report.execute.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.execute.outcome = outcome;
    report.execute.detail = detail.map(|d| redact(&d));
    report.finish()
}

async fn run_once(spec: &CliSpec) -> (Outcome, Option<String>) {
    let folder = match TaskFolder::create(&spec.work_root, "fake-smoke-task") {
        Ok(folder) => folder,
        Err(err) => return (Outcome::Broken, Some(err)),
    };
    let (_cancel, rx) = watch::channel(false);
    let ran = run_program(spec, folder.path(), SMOKE_TEXT, rx, |_| {}).await;
    folder.remove().await;
    match ran {
        Err(err) => (Outcome::Broken, Some(err)),
        Ok(run) => match run.ended {
            Ended::Exited(0) => (Outcome::Clean, None),
            Ended::TimedOut => (
                Outcome::Timeout,
                Some(format!(
                    "still running after {:?} (MOLECULE_SMOKE_TIMEOUT_SECS)",
                    spec.timeout
                )),
            ),
            _ => (Outcome::Error, spec.failure_of(&run)),
        },
    }
}
