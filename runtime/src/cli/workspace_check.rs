//! `molecule-runtime check` on a whole workspace: the adapter links, and for every skill what
//! it requests (SKILL.md `capabilities:`), what config.yaml grants, and what is effective.
//! Fails on a component that does not load or link, and on a grant the skill never requested
//! (an operator granting more than asked is a mistake worth stopping for).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use molecule_config::{CapabilitySet, Effective, Env};
use molecule_runtime::capabilities::memory::SqliteMemory;
use molecule_runtime::grants::Grants;
use molecule_runtime::limits::format_bytes;
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::redact::escape;
use molecule_runtime::workspace::packages::pull_packages;
use molecule_runtime::workspace::policy::ConfigPolicy;
use molecule_runtime::workspace::registry::plan_registry;

use super::inspect_oci::unrequested_text;
use super::Context;

/// Checks the workspace in `config_dir` (or `WORKSPACE_CONFIG_PATH`).
pub async fn run(ctx: &Context, config_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_dir,
        ..Overrides::default()
    };
    let mut plan = Plan::new(Env::from_process(), &overrides);
    let mut failed = plan.preflight.has_failures();
    if failed {
        println!("{}", plan.preflight.render());
    }
    failed |= !check_packages(&mut plan).await;
    failed |= !check_adapter(ctx, &plan).await;

    let memory = Arc::new(SqliteMemory::in_memory()?);
    let policy = Arc::new(ConfigPolicy::new(
        plan.config.clone(),
        Some(memory),
        std::env::vars().collect(),
    ));
    let registry = plan_registry(&plan, ctx.host.clone(), ctx.builder.clone(), policy.clone());
    let snapshot = registry.load_all().await;
    for (id, skill) in &snapshot.skills {
        let eff = policy.effective_for(&skill.dir);
        let grant = plan.config.grant_for(id);
        let ok = eff.unrequested.is_empty();
        failed |= !ok;
        println!("skill {id}: {}", if ok { "ok" } else { "FAIL" });
        println!(
            "  requests:  {}",
            describe_request(&skill.dir.frontmatter, id)
        );
        println!("  granted:   {}", describe(&grant.caps));
        println!("  effective: {}", describe_effective(&eff));
        for denial in &eff.denials {
            println!("  denied:    {denial}");
        }
        for extra in &eff.unrequested {
            let extra = unrequested_text(&plan.packages, &skill.dir.dir, extra);
            println!("  FAIL:      {extra}");
        }
        for tool in &skill.component.tools {
            println!("  tool {}: {}", tool.name, first_line(&tool.description));
        }
    }
    for (id, problem) in &snapshot.problems {
        failed = true;
        println!("skill {id}: FAIL\n  {problem}");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Pulls and verifies the skill packages; prints each one's digest (what a tag resolved to)
/// and signature status, or why it was refused.
async fn check_packages(plan: &mut Plan) -> bool {
    match pull_packages(plan).await {
        Ok(pulled) => {
            for skill in &pulled {
                let origin = &skill.origin;
                let reference = escape(&origin.reference);
                println!("package {reference}: ok (skill {})", skill.id);
                if origin.pinned {
                    println!("  digest:    {}", origin.digest);
                } else {
                    println!(
                        "  WARN:      a tag, not a digest: resolved to {}; pin it in skills:",
                        origin.digest
                    );
                }
                println!("  signature: {}", origin.signature);
            }
            plan.packages = pulled;
            true
        }
        Err(err) => {
            println!("packages: FAIL\n  {}", escape(&err.to_string()));
            false
        }
    }
}

/// Builds, compiles and link-checks the adapter; prints the outcome.
async fn check_adapter(ctx: &Context, plan: &Plan) -> bool {
    let runtime = &plan.adapter.runtime;
    if let Some(cli) = &plan.config.cli {
        let dir = &plan.config.config_dir;
        return match cli.resolve_command(plan.env.get("PATH"), dir) {
            Ok(program) => {
                println!("adapter cli: ok (native program {}, granted in runtime_config; no wasm sandbox)", program.display());
                true
            }
            Err(why) => {
                println!("adapter cli: FAIL\n  {}", escape(&why));
                false
            }
        };
    }
    let Some(path) = &plan.adapter.path else {
        println!("adapter {runtime}: FAIL\n  not a built-in adapter, a .wasm file or a crate");
        return false;
    };
    let label = format!("adapter {runtime}");
    let loaded = async {
        let wasm = ctx.component_bytes(path)?;
        ctx.host
            .load_adapter(&wasm, Grants::builder(label.clone()).build())
            .await
    };
    match loaded.await {
        Ok(adapter) => {
            println!("{label}: ok (reports name `{}`)", adapter.name);
            true
        }
        Err(err) => {
            println!("{label}: FAIL");
            for line in format!("{err:#}").lines() {
                println!("  {line}");
            }
            false
        }
    }
}

fn describe_request(frontmatter: &str, id: &str) -> String {
    let (request, _) = molecule_config::CapabilityRequest::from_frontmatter_str(
        id,
        frontmatter,
        std::path::Path::new("SKILL.md"),
    );
    describe(&request.caps)
}

/// One line for a capability set (`hosts [..]; env [..]; …`, or `nothing`).
pub(super) fn describe(set: &CapabilitySet) -> String {
    let mut parts = Vec::new();
    let list = |name: &str, items: Vec<String>, parts: &mut Vec<String>| {
        if !items.is_empty() {
            parts.push(format!("{name} [{}]", items.join(", ")));
        }
    };
    list(
        "hosts",
        set.hosts.iter().map(|h| h.to_string()).collect(),
        &mut parts,
    );
    list("env", set.env.clone(), &mut parts);
    let secrets = set
        .secrets
        .iter()
        .map(|name| match set.secret_uses.get(name) {
            Some(use_) => format!("{name}: {}", use_.describe()),
            None => name.clone(),
        });
    list("secrets", secrets.collect(), &mut parts);
    list(
        "dirs",
        set.dirs
            .iter()
            .map(|d| format!("{} ({})", d.path.display(), d.mode.name()))
            .collect(),
        &mut parts,
    );
    list(
        "interfaces",
        set.interfaces.iter().map(|i| i.name().to_owned()).collect(),
        &mut parts,
    );
    if let Some(m) = set.memory_limit {
        parts.push(format!("memory {}", format_bytes(m as usize)));
    }
    if let Some(t) = set.timeout {
        parts.push(format!("timeout {t:?}"));
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join("; ")
    }
}

/// One line for what a skill runs with (limits always stated).
pub(super) fn describe_effective(eff: &Effective) -> String {
    let set = CapabilitySet {
        hosts: eff.hosts.clone(),
        env: eff.env.clone(),
        secrets: eff.secrets.clone(),
        secret_uses: eff.secret_uses.clone(),
        refused_secrets: Vec::new(),
        dirs: eff.dirs.clone(),
        interfaces: eff.interfaces.clone(),
        memory_limit: Some(eff.memory_limit),
        timeout: Some(eff.timeout),
    };
    describe(&set)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
