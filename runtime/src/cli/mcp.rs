//! `molecule-runtime mcp --stdio SKILL_DIR…`: the tools and `skill://` resources of skill
//! folders served over MCP's stdio transport (newline-delimited JSON-RPC on stdin/stdout, MCP
//! spec "Transports"), for desktop MCP clients that start a server as a subprocess. stdout
//! carries the protocol only; logs go to stderr. Each skill gets only `log` and the limits of
//! the flags (no memory, config, secrets, HTTP or folders); each call is sandboxed as in a
//! workspace, through the same `SkillRegistry` path.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::{parse_bytes, parse_duration, LimitKeys, SandboxLimits};
use molecule_runtime::mcp::McpServer;
use molecule_runtime::skill_dir::SkillDir;
use molecule_runtime::workspace::skills::{GrantPolicy, SkillRegistry};
use rmcp::ServiceExt as _;

use super::Context;

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
    tracing::info!(tools = snapshot.tools.len(), "serving MCP over stdio");
    drop(snapshot);
    let server = McpServer::new(Arc::new(registry), LimitKeys::CALL_FLAGS);
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
