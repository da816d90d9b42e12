//! `molecule-runtime call SKILL_DIR TOOL --args JSON`: one tool call from the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::{parse_bytes, parse_duration, LimitKeys, SandboxLimits};
use molecule_runtime::sandbox::Sandbox;
use tracing::Instrument as _;

use super::{label_for, Context};

/// Arguments of `call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The skill folder (SKILL.md plus tool.wasm, a crate, app.py or app.js), a crate, or a
    /// .wasm file.
    pub skill: PathBuf,
    /// The tool to call.
    pub tool: String,
    /// The tool input, a JSON object.
    #[arg(long, default_value = "{}")]
    pub args: String,
    /// Grant a host interface to the skill (repeatable): memory.
    #[arg(long = "grant", value_name = "INTERFACE")]
    pub grants: Vec<String>,
    /// Grant a config value to the skill (repeatable): KEY=VALUE.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Allow outgoing HTTP to an origin (repeatable): scheme://host[:port].
    #[arg(long = "allow-host", value_name = "ORIGIN")]
    pub allow_hosts: Vec<String>,
    /// Grant a host folder, read-only, at /data (then /data1, ...) (repeatable).
    #[arg(long = "allow-dir", value_name = "DIR")]
    pub allow_dirs: Vec<PathBuf>,
    /// The SQLite file behind the memory interface.
    #[arg(long, value_name = "FILE")]
    pub memory_db: Option<PathBuf>,
    /// Memory limit of the sandbox, e.g. 256m.
    #[arg(long, default_value = "256m")]
    pub memory_limit: String,
    /// Time limit of the call, e.g. 30s or 500ms.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Largest output accepted, e.g. 1m.
    #[arg(long, default_value = "1m")]
    pub max_output: String,
}

/// Runs `call`.
pub async fn run(ctx: &Context, args: CallArgs) -> anyhow::Result<ExitCode> {
    let limits = SandboxLimits {
        memory_bytes: parse_bytes(&args.memory_limit)
            .map_err(|e| anyhow::anyhow!("--memory-limit: {e}"))?,
        timeout: parse_duration(&args.timeout).map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
        max_output_bytes: parse_bytes(&args.max_output)
            .map_err(|e| anyhow::anyhow!("--max-output: {e}"))?,
        ..SandboxLimits::default()
    };
    let mut grants = Grants::builder(label_for(&args.skill))
        .grant_hint("`--grant <interface>` (or `--config KEY=VALUE` for config keys)")
        .hosts_key("`--allow-host`")
        .limits(limits);
    for kv in &args.config {
        let (key, value) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--config `{kv}`: write KEY=VALUE"))?;
        grants = grants.config(key, Some(value.to_owned()));
    }
    if !args.allow_hosts.is_empty() {
        grants = grants.http_hosts(&args.allow_hosts)?;
    }
    for (i, dir) in args.allow_dirs.iter().enumerate() {
        anyhow::ensure!(dir.is_dir(), "--allow-dir {}: not a folder", dir.display());
        grants = grants.dir(
            dir,
            molecule_runtime::workspace::policy::guest_dir(i),
            false,
        );
    }
    for interface in &args.grants {
        grants = match interface.as_str() {
            "memory" => {
                let path = match &args.memory_db {
                    Some(p) => p.clone(),
                    None => ctx.cache_root.join("memory.sqlite"),
                };
                grants.memory(Arc::new(SqliteMemory::open(&path)?))
            }
            other => anyhow::bail!(
                "--grant `{other}`: `call` can grant `memory`; the other interfaces need a \
                 running workspace"
            ),
        };
    }
    let Some(skill) = ctx.load_skill(&args.skill, grants.build()).await? else {
        anyhow::bail!(
            "{} is an instructions-only skill (SKILL.md, no app.py, scripts/*.py, app.js, tool.wasm or \
             Cargo.toml): it has no tools to call",
            args.skill.display()
        );
    };
    // A Python skill also answers the interpreter's internal tools (scripts, code), which
    // `describe` never lists; the skill folder decides, the guest checks the input.
    let internal = [
        molecule_runtime::python::RUN_SCRIPT_TOOL,
        molecule_runtime::python::RUN_CODE_TOOL,
    ];
    let python = molecule_runtime::python::is_python_skill(&args.skill);
    let listed = skill.tools.iter().any(|t| t.name == args.tool);
    let internal_ok = python && internal.contains(&args.tool.as_str());
    if !(listed || internal_ok) {
        let names: Vec<&str> = skill.tools.iter().map(|t| t.name.as_str()).collect();
        anyhow::bail!(
            "{} has no tool `{}`; it offers: {}",
            skill.label,
            args.tool,
            names.join(", ")
        );
    }
    let receipts = molecule_runtime::receipt::Receipts::new();
    let sandbox = Sandbox::new(ctx.host.engine().clone()).with_receipts(receipts.clone());
    let span = molecule_runtime::receipt::tool_call_span(&args.tool, &skill.label);
    let result = sandbox
        .call_tool(&skill, &args.tool, &args.args)
        .instrument(span.clone())
        .await;
    receipts.total().record(&span);
    match result {
        Ok(output) => {
            println!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            // Limits here come from flags, so the hint names the flag.
            let err = err.message(&LimitKeys::CALL_FLAGS);
            eprintln!("error: {} `{}`: {err}", skill.label, args.tool);
            Ok(ExitCode::FAILURE)
        }
    }
}
