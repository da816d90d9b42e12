//! `runtime: cli`: the adapter that is NOT a wasm component — the one place a workspace runs a
//! native program, and only the one the operator granted in `runtime_config` (see
//! `molecule_config::CliConfig`). Each A2A task runs it once ([`process::run_task`]): no
//! shell, a scrubbed environment, a working folder of its own outside the data dir (removed
//! afterwards; `workdir.rs`) holding the context's history (`history.rs`), under a per-task
//! shepherd that contains and ends every process of the task (`shepherd.rs`, started by
//! `spawn.rs`; the runtime's own fallback in `guard.rs`, its zombie reaper in `reaper.rs`),
//! the task's text on stdin or as the last argument, stdout (the granted values masked,
//! `mask.rs`) streamed as chunks of one artifact (`TaskArtifactUpdateEvent` with `append`),
//! exit code 0 → COMPLETED, any other → FAILED naming the code, cancel → SIGTERM then SIGKILL
//! after `kill_grace`, the time limit → stopped the same way and FAILED naming the limit. At
//! most `max_concurrent` programs run at once; more tasks wait (cancelable) for a slot,
//! within `sandbox.admission.max_waiting` and `max_wait` like wasm tasks, else they fail
//! "busy". File parts are stored at intake as for wasm adapters (`crate::uploads`) and listed
//! for the program (`files.rs`); every task gets a receipt (`receipt.rs`).

pub mod files;
pub mod guard;
pub mod history;
mod mask;
pub mod output;
pub mod process;
pub mod reaper;
pub mod receipt;
pub mod shepherd;
mod spawn;
pub mod stderr;
mod workdir;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use molecule_a2a::types::{Artifact, Message, Part, TaskState};
use molecule_a2a::{AgentExecutor, EventSink, IntakeError, RequestContext, TaskStore};
use molecule_config::{CliConfig, CliInput, Env, WorkspaceConfig};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::uploads::Uploads;
use files::ContextFiles;

pub use mask::{Mask, MIN_MASKED};
pub use process::{run_program, run_task, Ended, RunReport};
pub use workdir::TaskFolder;

/// The id of the artifact a task's stdout streams into.
pub const OUTPUT_ARTIFACT: &str = "output";

/// Everything needed to run the granted program, resolved once at boot.
#[derive(Debug, Clone)]
pub struct CliSpec {
    /// The program (an absolute or config-relative path, resolved from `runtime_config.command`).
    pub program: PathBuf,
    /// `runtime_config.args`.
    pub args: Vec<String>,
    /// `runtime_config.input`.
    pub input: CliInput,
    /// The environment the program gets: each name of `runtime_config.env` and of the
    /// workspace's `required_env` that is set in the host environment, with its value.
    pub env: Vec<(String, String)>,
    /// The time limit of one run (`runtime_config.timeout`, else `sandbox.timeout`).
    pub timeout: Duration,
    /// SIGTERM → SIGKILL (`runtime_config.kill_grace`).
    pub kill_grace: Duration,
    /// Stdout bytes streamed per run (`runtime_config.max_output`).
    pub max_output: u64,
    /// Programs running at once (`runtime_config.max_concurrent`).
    pub max_concurrent: u32,
    /// Tasks that may wait for a program slot; one more fails "busy" at once
    /// (`sandbox.admission.max_waiting`, as for wasm adapters).
    pub max_waiting: u64,
    /// Longest wait for a slot before the task fails "busy" (`sandbox.admission.max_wait`).
    pub max_wait: Duration,
    /// Where each task's working folder is made (`runtime_config.work_root`, else
    /// `<system temp dir>/molecule-cli-tasks-<uid>`; never under the data dir).
    pub work_root: PathBuf,
    /// `runtime_config.argument_separator`: `--` before an argument input.
    pub argument_separator: bool,
    /// The binary run as each task's shepherd (`<it> __cli-shepherd …`, see `shepherd.rs`):
    /// [`SHEPHERD_ENV`] when set, else the running binary (`/proc/self/exe`).
    pub shepherd: PathBuf,
    /// Bytes of the context's earlier messages written for the program per task
    /// (`runtime_config.history_max_bytes`).
    pub history_max_bytes: u64,
}

/// The variable naming another binary with the `__cli-shepherd` subcommand (an absolute
/// path), for a host embedding the runtime as a library (its own binary has none).
pub const SHEPHERD_ENV: &str = "MOLECULE_CLI_SHEPHERD";

/// The shepherd binary: [`SHEPHERD_ENV`] (absolute, a file) or `/proc/self/exe`.
fn shepherd(env: &Env) -> Result<PathBuf, String> {
    let Some(path) = env.get(SHEPHERD_ENV) else {
        return Ok(PathBuf::from("/proc/self/exe"));
    };
    let path = PathBuf::from(path);
    if path.is_absolute() && path.is_file() {
        return Ok(path);
    }
    Err(format!(
        "{SHEPHERD_ENV} is `{}`: expected the absolute path of a molecule-runtime binary \
         (or unset it)",
        molecule_config::escape_text(&path.display().to_string())
    ))
}

impl CliSpec {
    /// The spec for `cli` of `config`, reading granted variables from `env`; `Err` names
    /// `runtime_config.command` when the program cannot be found, or `required_env` when it
    /// names one of the runtime's own credentials.
    pub fn new(cli: &CliConfig, config: &WorkspaceConfig, env: &Env) -> Result<CliSpec, String> {
        let program = cli.resolve_command(env.get("PATH"), &config.config_dir)?;
        let mut names: Vec<&String> = cli.env.iter().chain(&config.required_env).collect();
        names.sort();
        names.dedup();
        if let Some(name) = names.iter().find(|n| molecule_config::is_runtime_secret(n)) {
            return Err(format!(
                "{}: required_env names `{}`, one of the runtime's own credentials; it is \
                 never given to a `runtime: cli` program",
                config.config_dir.join("config.yaml").display(),
                molecule_config::escape_text(name)
            ));
        }
        let shepherd = shepherd(env)?;
        let env: Vec<(String, String)> = names
            .into_iter()
            .filter_map(|n| env.get(n).map(|v| (n.clone(), v.to_owned())))
            .collect();
        for (name, _) in env.iter().filter(|(_, v)| v.len() < MIN_MASKED) {
            tracing::warn!(
                variable = %name,
                "a granted variable's value is shorter than {MIN_MASKED} bytes: it is not \
                 masked in the program's output"
            );
        }
        let admission = crate::scheduler::AdmissionConfig::configured(&config.sandbox);
        Ok(CliSpec {
            max_waiting: admission.max_waiting,
            max_wait: admission.max_wait,
            program,
            args: cli.args.clone(),
            input: cli.input,
            env,
            timeout: cli.timeout.unwrap_or(config.sandbox.timeout),
            kill_grace: cli.kill_grace,
            max_output: cli.max_output,
            max_concurrent: cli.max_concurrent,
            work_root: cli.work_root.clone().unwrap_or_else(default_work_root),
            argument_separator: cli.argument_separator,
            shepherd,
            history_max_bytes: cli.history_max_bytes,
        })
    }

    /// The FAILED reason for a run that did not exit 0 (`None`: it did, or it was canceled).
    pub fn failure(&self, ended: Ended) -> Option<String> {
        let program = self.program.display();
        match ended {
            Ended::Exited(0) | Ended::Canceled => None,
            Ended::Exited(code) => Some(format!("`{program}` exited with code {code}")),
            Ended::Signaled(sig) => Some(format!("`{program}` was killed by signal {sig}")),
            Ended::ShepherdKilled(sig) => Some(format!(
                "the shepherd of `{program}` was killed by signal {sig} (by the program or \
                 another process of the runtime's user); the task's processes were ended"
            )),
            Ended::TimedOut => Some(format!(
                "`{program}` ran past its time limit of {:?} (runtime_config.timeout, else \
                 sandbox.timeout) and was stopped",
                self.timeout
            )),
        }
    }

    /// [`CliSpec::failure`] of a whole run: one stopped at its time limit also says how it
    /// ended — SIGTERM was enough, or SIGKILL after `kill_grace` was needed (from
    /// [`RunReport::program`], what the shepherd saw).
    pub fn failure_of(&self, report: &RunReport) -> Option<String> {
        let reason = self.failure(report.ended)?;
        if report.ended != Ended::TimedOut {
            return Some(reason);
        }
        Some(format!("{reason}: {}", self.stopped_how(report.program)))
    }

    /// How a program sent SIGTERM ended (`program`: as its shepherd told).
    fn stopped_how(&self, program: Option<Ended>) -> String {
        let grace = self.kill_grace;
        match program {
            Some(Ended::Signaled(libc::SIGTERM)) => "SIGTERM ended it".to_owned(),
            Some(Ended::Signaled(libc::SIGKILL)) => format!(
                "it was sent SIGTERM, did not exit within {grace:?} (runtime_config.kill_grace) \
                 and was killed with SIGKILL"
            ),
            Some(Ended::Exited(code)) => {
                format!("it was sent SIGTERM and exited with code {code}")
            }
            Some(Ended::Signaled(sig)) => {
                format!("it was sent SIGTERM and was ended by signal {sig}")
            }
            _ => format!(
                "it was sent SIGTERM; its shepherd did not report within {grace:?} \
                 (runtime_config.kill_grace) and a margin, so every process of the task \
                 was killed with SIGKILL"
            ),
        }
    }
}

/// `<system temp dir>/molecule-cli-tasks-<uid>`: outside the data dir (which holds the inbound
/// secret and uploads), one per user.
pub fn default_work_root() -> PathBuf {
    let uid = rustix::process::getuid().as_raw();
    std::env::temp_dir().join(format!("molecule-cli-tasks-{uid}"))
}

/// Runs each A2A task as one run of the granted program.
pub struct CliExecutor {
    spec: Arc<CliSpec>,
    slots: Arc<Semaphore>,
    waiting: AtomicU64,
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
    store: Option<TaskStore>,
    uploads: Option<Uploads>,
}

impl CliExecutor {
    /// An executor for `spec`.
    pub fn new(spec: CliSpec) -> CliExecutor {
        let slots = Arc::new(Semaphore::new(spec.max_concurrent as usize));
        CliExecutor {
            spec: Arc::new(spec),
            slots,
            waiting: AtomicU64::new(0),
            running: Mutex::default(),
            store: None,
            uploads: None,
        }
    }

    /// This executor reading each context's earlier tasks from `store` for the program's
    /// history file (`history.rs`); without it only the current task's history is written.
    pub fn with_history(mut self, store: TaskStore) -> CliExecutor {
        self.store = Some(store);
        self
    }

    /// This executor storing the file parts of incoming messages in `uploads` (before their
    /// task is stored; the same limits and errors as for wasm adapters) and listing them for
    /// the program (`files.rs`).
    pub fn with_uploads(mut self, uploads: Uploads) -> CliExecutor {
        self.uploads = Some(uploads);
        self
    }

    /// The spec it runs.
    pub fn spec(&self) -> &CliSpec {
        &self.spec
    }

    /// A program slot: at once when one is free, else after waiting (at most `max_wait`,
    /// among at most `max_waiting` tasks); `None` when canceled meanwhile.
    async fn slot(
        &self,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Option<OwnedSemaphorePermit>, String> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(Some(permit));
        }
        let s = &self.spec;
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _left = Waiting(&self.waiting);
        if before >= s.max_waiting {
            return Err(format!(
                "busy: {before} tasks already wait for one of the {} program slots \
                 (runtime_config.max_concurrent; sandbox.admission.max_waiting)",
                s.max_concurrent
            ));
        }
        let wait = tokio::time::timeout(s.max_wait, self.slots.clone().acquire_owned());
        tokio::select! {
            got = wait => match got {
                Ok(permit) => permit.map(Some).map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "busy: no program slot came free within {:?} (sandbox.admission.max_wait; \
                     runtime_config.max_concurrent)",
                    s.max_wait
                )),
            },
            _ = cancel.wait_for(|c| *c) => Ok(None),
        }
    }

    /// The task's own variables: `MOLECULE_TASK_ID`, `MOLECULE_CONTEXT_ID`,
    /// `MOLECULE_HISTORY_FILE` (the history written into `folder`), `MOLECULE_FILES_FILE`
    /// (the current message's files, `files.rs`) and, when the context holds uploads,
    /// `MOLECULE_UPLOADS_DIR`.
    async fn task_vars(
        &self,
        ctx: &RequestContext,
        folder: &std::path::Path,
    ) -> Result<Vec<(String, String)>, String> {
        let max = self.spec.history_max_bytes;
        let uploads = ContextFiles::read(self.uploads.as_ref(), &ctx.context_id).await;
        let file = history::write_history(self.store.as_ref(), ctx, folder, max, &uploads).await?;
        let message = uploads.of(&ctx.task_id, &ctx.message.message_id);
        let listed = files::write_files(folder, &message).await?;
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let mut vars = vec![
            ("MOLECULE_TASK_ID".into(), ctx.task_id.clone()),
            ("MOLECULE_CONTEXT_ID".into(), ctx.context_id.clone()),
            ("MOLECULE_HISTORY_FILE".into(), path(&file)),
            ("MOLECULE_FILES_FILE".into(), path(&listed)),
        ];
        if let Some(dir) = uploads.dir() {
            vars.push(("MOLECULE_UPLOADS_DIR".into(), path(dir)));
        }
        Ok(vars)
    }

    /// Runs the admitted task's program; returns its report and wall time, or why it could
    /// not run.
    async fn run(
        &self,
        ctx: &RequestContext,
        events: &EventSink,
        cancel: watch::Receiver<bool>,
    ) -> Result<(RunReport, Duration), String> {
        let _ = events.status(TaskState::Working, None);
        let folder = TaskFolder::create(&self.spec.work_root, &ctx.task_id)?;
        let vars = match self.task_vars(ctx, folder.path()).await {
            Ok(vars) => vars,
            Err(err) => {
                folder.remove().await;
                return Err(err);
            }
        };
        let mut first = true;
        let started = Instant::now();
        let report = run_task(
            &self.spec,
            folder.path(),
            &ctx.user_text(),
            &vars,
            cancel,
            |text| {
                let _ = events.artifact(chunk(text), !first, false);
                first = false;
            },
        )
        .await;
        let wall = started.elapsed();
        folder.remove().await;
        let report = report?;
        if !first {
            let _ = events.artifact(chunk(String::new()), true, true);
        }
        Ok((report, wall))
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl AgentExecutor for CliExecutor {
    async fn execute(&self, ctx: RequestContext, events: EventSink) -> Result<(), String> {
        let (tx, mut cancel) = watch::channel(false);
        self.running().insert(ctx.task_id.clone(), tx);
        let _forget = Forget(self, ctx.task_id.clone());
        let queued = Instant::now();
        let slot = self.slot(&mut cancel).await;
        let waited = queued.elapsed();
        let receipt = |run| {
            let json = receipt::receipt_json(waited, run);
            let _ = events.metadata(crate::receipt::METADATA_KEY, json);
        };
        let permit = match slot {
            Ok(Some(permit)) => permit,
            Ok(None) | Err(_) => {
                // Busy, or canceled while waiting: a receipt of the wait alone.
                receipt(None);
                return slot.map(|_| ());
            }
        };
        let ran = self.run(&ctx, &events, cancel).await;
        drop(permit);
        match ran {
            Ok((report, wall)) => {
                receipt(Some((wall, &report)));
                self.spec.failure_of(&report).map_or(Ok(()), Err)
            }
            Err(err) => {
                receipt(None);
                Err(err)
            }
        }
    }

    async fn intake(&self, message: &mut Message) -> Result<(), IntakeError> {
        match &self.uploads {
            Some(uploads) => uploads.take_in(message).await,
            None => Ok(()),
        }
    }

    async fn cancel(&self, task_id: &str) -> Result<(), String> {
        if let Some(tx) = self.running().get(task_id) {
            let _ = tx.send(true);
        }
        Ok(())
    }
}

/// One chunk of the output artifact.
fn chunk(text: String) -> Artifact {
    Artifact {
        artifact_id: OUTPUT_ARTIFACT.into(),
        name: Some(OUTPUT_ARTIFACT.into()),
        description: None,
        parts: vec![Part::text(text)],
        metadata: None,
        extensions: None,
    }
}

/// Counts a task out of the waiting ones when its wait ends.
struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Drops a task's cancel handle when its `execute` ends.
struct Forget<'a>(&'a CliExecutor, String);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.0.running().remove(&self.1);
    }
}
