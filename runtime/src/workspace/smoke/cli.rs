//! Smoke mode for `runtime: cli`: there is no component to link, so the adapter's line is the
//! granted program (resolved from `runtime_config.command`, a FAIL when it cannot be), and the
//! stub request runs it once — in a scratch working folder, with the smoke environment's
//! stub credentials, under `MOLECULE_SMOKE_TIMEOUT_SECS`. Exit 0 is clean, another exit code
//! an ordinary error (PASS), the time limit a PASS ("timeout"); a program that cannot start
//! fails the smoke. Skills are not checked: a CLI agent does not call them.

use tokio::sync::watch;

use super::report::{ComponentKind, ComponentReport, Outcome, SmokeReport};
use super::SMOKE_TEXT;
use crate::cli_agent::{files, history, run_task, CliSpec, Ended, TaskFolder};
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
    let vars = match stub_vars(folder.path()).await {
        Ok(vars) => vars,
        Err(err) => return (Outcome::Broken, Some(err)),
    };
    let (_cancel, rx) = watch::channel(false);
    let ran = run_task(spec, folder.path(), SMOKE_TEXT, &vars, rx, |_| {}).await;
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

/// The task variables a real run sets, for the stub task: `MOLECULE_TASK_ID` and
/// `MOLECULE_CONTEXT_ID` of the fake task, and empty history and files lists in `folder`, so a
/// program that reads them behaves as on a first message. `Err` names the file not written.
async fn stub_vars(folder: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let write = |name: &str| {
        let path = folder.join(name);
        async move {
            tokio::fs::write(&path, b"")
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok::<_, String>(path.to_string_lossy().into_owned())
        }
    };
    Ok(vec![
        ("MOLECULE_TASK_ID".into(), "fake-smoke-task".into()),
        ("MOLECULE_CONTEXT_ID".into(), "fake-smoke-context".into()),
        (
            "MOLECULE_HISTORY_FILE".into(),
            write(history::HISTORY_FILE).await?,
        ),
        (
            "MOLECULE_FILES_FILE".into(),
            write(files::FILES_FILE).await?,
        ),
    ])
}
