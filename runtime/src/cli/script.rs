//! `molecule-runtime script SKILL_DIR scripts/NAME.py [ARGS…]`: runs an Agent Skills script of
//! a Python skill folder in the sandboxed interpreter, like `python scripts/NAME.py ARGS…`.
//!
//! The process's stdin (at most [`MAX_STDIN`]; nothing when it is a terminal) is the script's
//! stdin; the script's stdout and stderr are printed to ours, and its exit code is ours (taken
//! modulo 256, as a shell sees it). A failure of the sandbox itself (a limit, a crash, an
//! unknown script) is printed as `error: …` with exit code 1. The skill folder is read-only at
//! `/skill`; a scratch folder in the system temp folder is mounted writable at `/scratch` (the
//! working directory) and removed afterwards. The script gets no capability beyond `log`.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::{parse_bytes, parse_duration, LimitKeys, SandboxLimits};
use molecule_runtime::python::run::{self, RunError, Scratch};
use molecule_runtime::sandbox::Sandbox;
use molecule_runtime::skill_dir::{ComponentSource, SkillDir};
use tracing::Instrument as _;

use super::{label_for, Context};

/// The most stdin passed to a script: 1 MiB.
pub const MAX_STDIN: usize = 1 << 20;

/// Arguments of `script`.
#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// Memory limit of the sandbox, e.g. 256m.
    #[arg(long, default_value = "256m")]
    pub memory_limit: String,
    /// Time limit of the run, e.g. 30s or 500ms.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// The skill folder (SKILL.md plus scripts/*.py).
    pub skill: PathBuf,
    /// The script (`NAME.py` or `scripts/NAME.py`) and its arguments: everything after
    /// SKILL_DIR goes to the script as written, options such as `--timeout` included (give
    /// this command's own options before SKILL_DIR).
    #[arg(
        value_name = "SCRIPT [ARGS]...",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

impl ScriptArgs {
    /// The script name as given.
    fn script(&self) -> &str {
        self.command.first().map_or("", String::as_str)
    }

    /// The script's arguments.
    fn script_args(&self) -> &[String] {
        self.command.get(1..).unwrap_or_default()
    }
}

/// Runs `script`.
pub async fn run(ctx: &Context, args: ScriptArgs) -> anyhow::Result<ExitCode> {
    let limits = SandboxLimits {
        memory_bytes: parse_bytes(&args.memory_limit)
            .map_err(|e| anyhow::anyhow!("--memory-limit: {e}"))?,
        timeout: parse_duration(&args.timeout).map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
        // Room for the interpreter's capped stdout and stderr, JSON-escaped.
        max_output_bytes: 8 << 20,
        ..SandboxLimits::default()
    };
    let dir = SkillDir::load(&args.skill)?;
    let ComponentSource::Python(folder) = &dir.source else {
        anyhow::bail!(
            "{} has no scripts/*.py (and no app.py): `script` runs the Python scripts of an \
             Agent Skills folder",
            args.skill.display()
        );
    };
    let available = run::scripts(folder);
    let Some(script) = run::script_name(args.script()) else {
        anyhow::bail!(
            "`{}` is not a file inside {}/scripts; its scripts: {}",
            args.script(),
            args.skill.display(),
            listed(&available)
        );
    };
    if !available.contains(&script) {
        anyhow::bail!(
            "{} has no script `scripts/{script}`; its scripts: {}",
            args.skill.display(),
            listed(&available)
        );
    }
    let stdin = read_stdin()?;
    let grants = Grants::builder(label_for(&args.skill))
        .grant_hint("nowhere: `script` grants no capabilities beyond log")
        .limits(limits)
        .build();
    let Some(skill) = ctx.load_skill(&args.skill, grants).await? else {
        anyhow::bail!("{} has no scripts to run", args.skill.display());
    };
    let scratch = Scratch::new(None);
    let sandbox = Sandbox::new(ctx.host.engine().clone());
    let span =
        tracing::info_span!("tool_call", tool = "script", skill = %skill.label, script = %script);
    let result = run::run_script(
        &sandbox,
        &skill,
        &scratch,
        &script,
        args.script_args(),
        &stdin,
    )
    .instrument(span)
    .await;
    drop(scratch);
    let output = match result {
        Ok(output) => output,
        Err(err) => {
            let text = match err {
                RunError::Call(err) => err.message(&LimitKeys::CALL_FLAGS),
                other => other.to_string(),
            };
            eprintln!("error: {} scripts/{script}: {text}", skill.label);
            return Ok(ExitCode::FAILURE);
        }
    };
    let output: RunOutput = serde_json::from_str(&output)
        .with_context(|| format!("the interpreter answered something unexpected: {output}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(output.stdout.as_bytes())?;
    out.flush()?;
    let mut err = std::io::stderr().lock();
    err.write_all(output.stderr.as_bytes())?;
    err.flush()?;
    Ok(ExitCode::from(output.exit_code.rem_euclid(256) as u8))
}

/// What the interpreter answers for a script.
#[derive(serde::Deserialize)]
struct RunOutput {
    exit_code: i64,
    stdout: String,
    stderr: String,
}

fn listed(scripts: &[String]) -> String {
    if scripts.is_empty() {
        "none".into()
    } else {
        scripts.join(", ")
    }
}

/// Our stdin as text: empty when it is a terminal; an error past [`MAX_STDIN`] or when it is
/// not UTF-8.
fn read_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(String::new());
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_STDIN as u64 + 1)
        .read_to_end(&mut bytes)
        .context("reading stdin")?;
    anyhow::ensure!(
        bytes.len() <= MAX_STDIN,
        "stdin is larger than {} MiB, the most a script may be given",
        MAX_STDIN >> 20
    );
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("stdin is not UTF-8 text: {e}"))
}
