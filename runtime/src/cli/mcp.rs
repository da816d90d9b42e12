//! `molecule-runtime mcp --stdio SKILL_DIR…`: the tools and `skill://` resources of skill
//! folders served over MCP's stdio transport (newline-delimited JSON-RPC on stdin/stdout, MCP
//! spec "Transports"), for desktop MCP clients that start a server as a subprocess. stdout
//! carries the protocol only; logs go to stderr. Each skill gets only `log` and the limits of
//! the flags (no memory, config, secrets, HTTP or folders); each call is sandboxed as in a
//! workspace, through the same `SkillRegistry` path. With `--config`, a workspace's
//! config.yaml `approval.tools` applies as at `/mcp`: a call of a listed tool (or an alias of
//! one) is refused with an error result naming `approval.tools` (there is no task that could
//! wait for a human), and `tools/list` notes it; a config.yaml with errors, or a listed name
//! that is no tool (a served one or a built-in), stops the command naming the file and key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use molecule_config::{Env, WorkspaceConfig};
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::{parse_bytes, parse_duration, LimitKeys, SandboxLimits};
use molecule_runtime::mcp::McpServer;
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::approval::Gate;
use molecule_runtime::workspace::skills::{GrantPolicy, SkillRegistry, BUILTIN_TOOL_NAMES};
use rmcp::ServiceExt as _;

use super::Context;

/// The file `--config` names (or that its folder holds).
const CONFIG_FILE: &str = "config.yaml";

/// Arguments of `mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve over stdin/stdout (the only transport of this command; a workspace serves
    /// Streamable HTTP at /mcp on its A2A port when config.yaml has `mcp: {enabled: true}`).
    #[arg(long, required = true)]
    pub stdio: bool,
    /// Skill folders (each with a SKILL.md) whose tools to serve.
    #[arg(required = true, value_name = "SKILL_DIR")]
    pub skills: Vec<PathBuf>,
    /// Memory limit of each call, e.g. 256m.
    #[arg(long, default_value = "256m")]
    pub memory_limit: String,
    /// Time limit of each call, e.g. 30s or 500ms.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Largest tool output accepted, e.g. 1m.
    #[arg(long, default_value = "1m")]
    pub max_output: String,
    /// A workspace's config.yaml (or the folder holding it) whose `approval.tools` apply:
    /// calls of the listed tools are refused, as at a workspace's /mcp.
    #[arg(long, value_name = "CONFIG_YAML")]
    pub config: Option<PathBuf>,
}

/// The approval gate of `--config`: config.yaml's `approval.tools`, and the file's path.
/// Errors: a path that is neither config.yaml nor a folder holding one, a missing file, or a
/// config.yaml with errors (each naming the file and key).
fn config_gate(path: &Path) -> anyhow::Result<(Gate, PathBuf)> {
    let dir = if path.is_dir() {
        path.to_owned()
    } else if path.file_name().is_some_and(|n| n == CONFIG_FILE) {
        // A bare `config.yaml` has the parent "": the working folder.
        match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        }
    } else {
        anyhow::bail!(
            "--config {}: expected a workspace's {CONFIG_FILE} or the folder holding it",
            path.display()
        );
    };
    let file = dir.join(CONFIG_FILE);
    anyhow::ensure!(file.is_file(), "--config: {} not found", file.display());
    let config = WorkspaceConfig::load(&dir, &Env::from_process());
    if !config.errors.is_empty() {
        let errors: Vec<String> = config.errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("--config: {}", errors.join("; "));
    }
    for warning in &config.warnings {
        tracing::warn!(%warning, "config.yaml");
    }
    Ok((Gate::new(config.approval.tools.clone()), file))
}

/// Grants `log` and the flags' limits to every skill.
struct FlagPolicy(SandboxLimits);

impl GrantPolicy for FlagPolicy {
    fn grants_for(&self, skill: &SkillDir) -> anyhow::Result<Arc<Grants>> {
        Ok(Grants::builder(format!("skill {}", skill.id))
            .grant_hint("a workspace's config.yaml `grants:` (`mcp --stdio` grants only `log`)")
            .limits(self.0)
            .build())
    }
}

/// Runs `mcp --stdio`: loads the skills, then serves until stdin closes.
pub async fn run(ctx: &Context, args: McpArgs) -> anyhow::Result<ExitCode> {
    let limits = SandboxLimits {
        memory_bytes: parse_bytes(&args.memory_limit)
            .map_err(|e| anyhow::anyhow!("--memory-limit: {e}"))?,
        timeout: parse_duration(&args.timeout).map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
        max_output_bytes: parse_bytes(&args.max_output)
            .map_err(|e| anyhow::anyhow!("--max-output: {e}"))?,
        ..SandboxLimits::default()
    };
    let gate = args.config.as_deref().map(config_gate).transpose()?;
    let mut dirs = Vec::new();
    for dir in &args.skills {
        anyhow::ensure!(
            dir.join("SKILL.md").is_file(),
            "{}: not a skill folder (no SKILL.md)",
            dir.display()
        );
        dirs.push(std::path::absolute(dir)?);
    }
    let registry = SkillRegistry::new(
        ctx.host.clone(),
        ctx.builder.clone(),
        Arc::new(FlagPolicy(limits)),
        Vec::new(),
    )
    .with_extra_dirs(dirs);
    let snapshot = registry.load_all().await;
    for (skill, problem) in &snapshot.problems {
        let problem = molecule_runtime::redact::escape(problem);
        tracing::warn!(%skill, %problem, "skill not served");
    }
    anyhow::ensure!(
        !snapshot.skills.is_empty(),
        "none of the skill folders loaded (see the warnings above)"
    );
    let mut server_gate = Gate::default();
    if let Some((gate, file)) = gate {
        let mut known: Vec<&str> = BUILTIN_TOOL_NAMES.to_vec();
        known.extend(snapshot.tool_specs_ref().iter().map(|s| s.name.as_str()));
        gate.check(&file, &known).map_err(anyhow::Error::msg)?;
        server_gate = gate;
    }
    tracing::info!(tools = snapshot.tools.len(), "serving MCP over stdio");
    drop(snapshot);
    let server = McpServer::new(Arc::new(registry), LimitKeys::CALL_FLAGS).with_gate(server_gate);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("MCP over stdio: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| anyhow::anyhow!("MCP over stdio: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
