//! `molecule-runtime inspect [--config-dir DIR] [--json]`: what is in this build and this
//! workspace — the runtime and WIT package versions, the adapter and every skill with its
//! source, digest and requested / granted / effective capabilities — without building,
//! compiling or starting anything. `--json` prints [`Inspection`], whose shape is stable
//! (`schema` names its version; fields are only ever added).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use molecule_config::{CapabilityRequest, Effective, Env};
use molecule_runtime::build_info::{wit_package, RUNTIME_VERSION};
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::redact::escape;
use molecule_runtime::skill_dir::{ComponentSource, SkillDir};
use molecule_runtime::source_digest::{path_digest, skill_digest, SourceDigest};
use molecule_runtime::workspace::policy::ConfigPolicy;
use molecule_runtime::workspace::registry::plan_registry;
use serde::Serialize;

use super::inspect_caps::{caps_json, effective_json, CapsJson};
use super::inspect_oci::{
    oci_for, render_oci, resolve, unrequested_text, OciJson, PackageErrorJson,
};
use super::Context;

/// The `schema` of [`Inspection`].
pub const SCHEMA: &str = "molecule-runtime/inspect/v1";

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The workspace's config folder (overrides WORKSPACE_CONFIG_PATH).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Print one JSON object (see the README's "inspect") instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Everything `inspect --json` prints.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The runtime's version (semver).
    pub runtime_version: &'static str,
    /// The WIT package the host implements (`molecule:runtime@0.1.0`).
    pub wit_package: &'static str,
    /// The config folder inspected.
    pub config_dir: String,
    /// config.yaml's errors (each names the file and key); empty when it is usable.
    pub config_errors: Vec<String>,
    /// The adapter.
    pub adapter: AdapterJson,
    /// Every skill the workspace would load, by id (pulled packages first).
    pub skills: Vec<SkillJson>,
    /// The `skills:` package references that could not be pulled or verified (the workspace
    /// would not boot); empty when every package verified.
    pub package_errors: Vec<PackageErrorJson>,
}

/// The adapter's entry.
#[derive(Debug, Serialize)]
pub struct AdapterJson {
    /// config.yaml `runtime` (a built-in name or a path).
    pub runtime: String,
    /// Where its component comes from; `null` when it cannot be found.
    pub source: Option<SourceJson>,
    /// Its digest; `null` with `digest_error` when it cannot be computed.
    pub digest: Option<SourceDigest>,
    /// Why there is no digest.
    pub digest_error: Option<String>,
}

/// Where a component comes from.
#[derive(Debug, Serialize)]
pub struct SourceJson {
    /// `prebuilt` (a `.wasm`), `crate` (Rust, built to wasm32-wasip2), `python`,
    /// `javascript` (run on the shared interpreter / engine) or `instructions` (no component).
    pub kind: &'static str,
    /// The `.wasm` file, or the folder.
    pub path: String,
}

/// One skill's entry.
#[derive(Debug, Serialize)]
pub struct SkillJson {
    /// The skill id (its folder name).
    pub id: String,
    /// SKILL.md `name`.
    pub name: String,
    /// SKILL.md `version`, if any.
    pub version: Option<String>,
    /// The skill folder.
    pub dir: String,
    /// Where its component comes from.
    pub source: SourceJson,
    /// Its digest; `null` with `digest_error` when it cannot be computed.
    pub digest: Option<SourceDigest>,
    /// Why there is no digest.
    pub digest_error: Option<String>,
    /// For a skill pulled from an OCI registry: its reference, manifest digest, whether it is
    /// pinned, and its signature status; `null` for a local skill.
    pub oci: Option<OciJson>,
    /// SKILL.md `capabilities:`.
    pub requested: CapsJson,
    /// What config.yaml grants it (`grants.skills.<id>`, else `grants.default`).
    pub granted: CapsJson,
    /// What it runs with: requested ∩ granted.
    pub effective: CapsJson,
    /// Requested but not granted, one sentence each.
    pub denials: Vec<String>,
    /// Granted in its own entry but never requested, one sentence each.
    pub unrequested: Vec<String>,
}

/// Runs `inspect`: prints the report, then exits 1 when a skill package could not be pulled
/// or verified (as `check` does: the workspace would not boot), else 0 (config.yaml's errors
/// are in the report); an error only when the report cannot be made.
pub async fn run(ctx: &Context, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let inspection = inspect(ctx, args.config_dir).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{}", render(&inspection));
    }
    Ok(if inspection.package_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Builds the report for the workspace in `config_dir` (or `WORKSPACE_CONFIG_PATH`).
///
/// # Errors
/// The in-memory store used to compute grants could not be opened.
pub async fn inspect(ctx: &Context, config_dir: Option<PathBuf>) -> anyhow::Result<Inspection> {
    let env = Env::from_process();
    let dir = config_dir
        .clone()
        .unwrap_or_else(|| env.config_path.clone());
    let overrides = Overrides {
        config_dir,
        ..Overrides::default()
    };
    let mut plan = Plan::new(env, &overrides);
    let (pulled, package_errors) = resolve(&plan).await;
    plan.packages = pulled;
    // No values: inspect shows names and uses, never a secret's value or placeholder.
    let policy = Arc::new(ConfigPolicy::new(
        plan.config.clone(),
        None,
        Default::default(),
    ));
    let registry = plan_registry(&plan, ctx.host.clone(), ctx.builder.clone(), policy.clone());
    let skills = registry
        .read_folders()
        .iter()
        .map(|dir| SkillJson {
            oci: oci_for(&plan.packages, &dir.dir),
            unrequested: (policy.effective_for(dir).unrequested.iter())
                .map(|u| unrequested_text(&plan.packages, &dir.dir, u))
                .collect(),
            ..skill_json(&plan, &policy, dir)
        })
        .collect();
    Ok(Inspection {
        schema: SCHEMA,
        runtime_version: RUNTIME_VERSION,
        wit_package: wit_package(),
        config_dir: dir.display().to_string(),
        config_errors: plan.config.errors.iter().map(|e| e.to_string()).collect(),
        adapter: adapter_json(&plan),
        skills,
        package_errors,
    })
}

/// The adapter's entry.
fn adapter_json(plan: &Plan) -> AdapterJson {
    let path = plan.adapter.path.as_deref();
    let (digest, digest_error) = split(path.map(path_digest));
    AdapterJson {
        runtime: plan.adapter.runtime.clone(),
        source: path.map(|p| SourceJson {
            kind: if p.is_file() { "prebuilt" } else { "crate" },
            path: p.display().to_string(),
        }),
        digest,
        digest_error,
    }
}

/// A digest result as (digest, error text).
fn split(result: Option<anyhow::Result<SourceDigest>>) -> (Option<SourceDigest>, Option<String>) {
    match result {
        Some(Ok(d)) => (Some(d), None),
        Some(Err(e)) => (None, Some(format!("{e:#}"))),
        None => (None, Some("the component was not found".into())),
    }
}

/// One skill's entry.
fn skill_json(plan: &Plan, policy: &ConfigPolicy, dir: &SkillDir) -> SkillJson {
    let (request, _) = CapabilityRequest::from_frontmatter_str(
        &dir.id,
        &dir.frontmatter,
        &dir.dir.join("SKILL.md"),
    );
    let grant = plan.config.grant_for(&dir.id);
    let eff: Effective = policy.effective_for(dir);
    let (digest, digest_error) = split(Some(skill_digest(&dir.source, &dir.dir)));
    SkillJson {
        id: dir.id.clone(),
        name: dir.meta.name.clone(),
        version: dir.meta.version.clone(),
        dir: dir.dir.display().to_string(),
        source: source_json(&dir.source, &dir.dir),
        digest,
        digest_error,
        oci: None,
        requested: caps_json(&request.caps),
        granted: caps_json(&grant.caps),
        effective: effective_json(&eff),
        denials: eff.denials.iter().map(|d| d.to_string()).collect(),
        unrequested: eff.unrequested.iter().map(|u| u.to_string()).collect(),
    }
}

/// The kind and path of a skill's component source.
fn source_json(source: &ComponentSource, dir: &Path) -> SourceJson {
    let (kind, path) = match source {
        ComponentSource::Prebuilt(p) => ("prebuilt", p.as_path()),
        ComponentSource::Crate(p) => ("crate", p.as_path()),
        ComponentSource::Python(p) => ("python", p.as_path()),
        ComponentSource::JavaScript(p) => ("javascript", p.as_path()),
        ComponentSource::Instructions => ("instructions", dir),
    };
    SourceJson {
        kind,
        path: path.display().to_string(),
    }
}

/// The human table. Text from the workspace's files is escaped (no control characters reach
/// the terminal).
pub fn render(i: &Inspection) -> String {
    let mut out = format!(
        "molecule-runtime {} (WIT {})\nworkspace {}\n",
        i.runtime_version,
        i.wit_package,
        escape(&i.config_dir)
    );
    for e in &i.config_errors {
        out.push_str(&format!("  config error: {}\n", escape(e)));
    }
    let a = &i.adapter;
    let source = a.source.as_ref().map_or("not found".to_owned(), |s| {
        format!("{} {}", s.kind, escape(&s.path))
    });
    out.push_str(&format!("adapter {}: {source}\n", escape(&a.runtime)));
    out.push_str(&digest_line(&a.digest, &a.digest_error));
    for s in &i.skills {
        let version = s
            .version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "skill {}{}: {} {}\n",
            escape(&s.id),
            escape(&version),
            s.source.kind,
            escape(&s.source.path)
        ));
        out.push_str(&digest_line(&s.digest, &s.digest_error));
        if let Some(oci) = &s.oci {
            out.push_str(&render_oci(oci));
        }
        out.push_str(&format!("  requested: {}\n", s.requested.text));
        out.push_str(&format!("  granted:   {}\n", s.granted.text));
        out.push_str(&format!("  effective: {}\n", s.effective.text));
        for d in &s.denials {
            out.push_str(&format!("  denied:    {}\n", escape(d)));
        }
        for u in &s.unrequested {
            out.push_str(&format!("  unrequested: {}\n", escape(u)));
        }
    }
    for p in &i.package_errors {
        out.push_str(&format!("package {}: FAIL\n  {}\n", p.reference, p.error));
    }
    if i.skills.is_empty() {
        out.push_str("no skills\n");
    }
    out
}

/// `  digest:    sha256:… (component)` or the error.
fn digest_line(digest: &Option<SourceDigest>, error: &Option<String>) -> String {
    match (digest, error) {
        (Some(d), _) => {
            let of = serde_json::to_value(d.of).unwrap_or_default();
            format!(
                "  digest:    {} ({})\n",
                d.digest,
                of.as_str().unwrap_or("?")
            )
        }
        (None, Some(e)) => format!("  digest:    unavailable: {}\n", escape(e)),
        (None, None) => "  digest:    unavailable\n".into(),
    }
}
