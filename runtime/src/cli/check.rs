//! `molecule-runtime check [PATH…]`: link-check components before anything runs, and list the
//! tools each skill offers. Without paths it checks the workspace (see `workspace_check.rs`):
//! the adapter, and per skill what it requests, what is granted and what is effective.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_runtime::grants::Grants;
use molecule_runtime::skill_dir::{ComponentSource, SkillDir};

use super::{label_for, Context};

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Skill folders, crates or .wasm files to check; none checks the workspace.
    pub paths: Vec<PathBuf>,
    /// The workspace's config folder (overrides WORKSPACE_CONFIG_PATH) when no paths are given.
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

/// Runs `check`; exits 1 when any component fails.
pub async fn run(ctx: &Context, args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.paths.is_empty() {
        return super::workspace_check::run(ctx, args.config_dir).await;
    }
    let mut failed = false;
    for path in &args.paths {
        let label = label_for(path);
        match check_one(ctx, path, &label).await {
            Ok(lines) => {
                println!("{label}: ok");
                for line in lines {
                    println!("  {line}");
                }
            }
            Err(err) => {
                failed = true;
                println!("{label}: FAIL");
                for line in format!("{err:#}").lines() {
                    println!("  {line}");
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn check_one(
    ctx: &Context,
    path: &std::path::Path,
    label: &str,
) -> anyhow::Result<Vec<String>> {
    let source = path
        .join("SKILL.md")
        .is_file()
        .then(|| SkillDir::load(path).map(|d| d.source))
        .transpose()?;
    if matches!(
        source,
        Some(
            ComponentSource::Python(_)
                | ComponentSource::JavaScript(_)
                | ComponentSource::Instructions
        )
    ) {
        // The shared interpreter is link-checked as it is pre-instantiated.
        let grants = Grants::builder(label).build();
        return Ok(match ctx.load_skill(path, grants).await? {
            Some(skill) => tool_lines(&skill.tools),
            None => vec!["instructions only: no tools".to_owned()],
        });
    }
    let wasm = ctx.component_bytes(path)?;
    let (component, _) = ctx.host.compile(&wasm, label)?;
    let problems = ctx.host.link_check(&component);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::bail!("unsatisfied imports:\n{}", list.join("\n"));
    }
    let skill = ctx
        .host
        .load_skill(&wasm, Grants::builder(label).build())
        .await?;
    Ok(tool_lines(&skill.tools))
}

fn tool_lines(tools: &[molecule_runtime::bindings::ToolSpec]) -> Vec<String> {
    tools
        .iter()
        // Guest text: escaped, so a description cannot drive the terminal or forge lines.
        .map(|t| {
            let escape = molecule_runtime::redact::escape;
            format!("tool {}: {}", escape(&t.name), escape(&t.description))
        })
        .collect()
}
