//! Preflight: the checks run before the workspace goes live. FAIL (the runtime exits 1) on a
//! config error (config.yaml unreadable or not valid YAML, an unusable security setting), an
//! unknown adapter or a port outside 1–65535; WARN on everything that degrades the workspace
//! (missing required env, prompt files, SKILL.md files, plugins, config warnings, …).

use std::path::Path;

use crate::cli_runtime::{check_cli, CLI_RUNTIME};
use crate::env::Env;
use crate::escape_text;
use crate::packages::{is_package_reference, is_pinned, package_skill_id};
use crate::report::{PreflightReport, Status};
use crate::sections::{sendable_secret, UNSENDABLE};
use crate::units::format_bytes;
use crate::workspace::{Origin, WorkspaceConfig};

/// Runs every check against `env` and `config`. `known_adapters` are the built-in adapter
/// names; `runtime` may instead be a path (relative to `config_dir`) to a `.wasm` component
/// or an adapter crate (a directory with `Cargo.toml`).
pub fn preflight(
    env: &Env,
    config: &WorkspaceConfig,
    known_adapters: &[&str],
    config_dir: &Path,
) -> PreflightReport {
    let mut report = PreflightReport::default();
    // Each error is one `config` FAIL naming the file, line and key (`Warning`'s Display).
    for e in &config.errors {
        report.push(Status::Fail, "config", e.to_string());
    }
    check_env_secret(&mut report, env);
    for w in &env.warnings {
        report.push(Status::Warn, w.key.clone(), w.message.clone());
    }
    for w in &config.warnings {
        let name = if w.key.is_empty() {
            "config.yaml".to_string()
        } else {
            w.key.clone()
        };
        let detail = match w.line {
            Some(line) => format!("{} (line {line})", w.message),
            None => w.message.clone(),
        };
        report.push(Status::Warn, name, detail);
    }
    let cli = config.runtime == CLI_RUNTIME;
    if cli {
        report.push(
            Status::Pass,
            "runtime",
            "`cli`: the native program granted in runtime_config (no wasm sandbox)",
        );
        check_cli(
            &mut report,
            config.cli.as_ref(),
            env.get("PATH"),
            config_dir,
        );
    } else {
        check_runtime(&mut report, &config.runtime, known_adapters, config_dir);
    }
    match config.a2a.valid_port() {
        Some(port) => report.push(Status::Pass, "a2a.port", port.to_string()),
        None => report.push(
            Status::Fail,
            "a2a.port",
            format!(
                "{} is not a port; set a2a.port in config.yaml to 1–65535 (default 8000)",
                config.a2a.port
            ),
        ),
    }
    check_guest_memory(&mut report, config);
    // A CLI agent's program picks its own model and prompt: neither the workspace's model
    // nor `prompt_files` reaches it (its `required_env` does: passed to the program).
    match cli {
        true => check_required_env(&mut report, env, config, "granted to the program"),
        false => check_model(&mut report, env, config),
    }
    check_platform(&mut report, env);
    crate::outbound::check_outbound(&mut report, env, config);
    check_files(&mut report, config, config_dir, !cli);
    check_skills(&mut report, config, config_dir);
    check_plugins(&mut report, env, config, config_dir);
    if env.smoke_mode {
        report.push(
            Status::Pass,
            "smoke mode",
            format!(
                "on: one stub request, timeout {}s",
                env.smoke_timeout.as_secs()
            ),
        );
    }
    report
}

/// The variable that overrides `a2a.inbound_secret` (read by the runtime).
pub const INBOUND_SECRET_VAR: &str = "MOLECULE_INBOUND_SECRET";

/// `MOLECULE_INBOUND_SECRET` set to something that is not a usable secret is a FAIL: blank
/// (it would count as unset: no authentication) or not sendable in an Authorization header
/// (every caller would be refused). Empty counts as unset. The value is never echoed.
fn check_env_secret(report: &mut PreflightReport, env: &Env) {
    let Some(raw) = env.vars.get(INBOUND_SECRET_VAR).filter(|v| !v.is_empty()) else {
        return;
    };
    let problem = if raw.trim().is_empty() {
        "is set but blank (only whitespace); it would count as unset and A2A calls would be \
         unauthenticated: set a secret, or unset the variable to use a2a.inbound_secret"
    } else if !sendable_secret(raw) {
        UNSENDABLE
    } else {
        return;
    };
    report.push(
        Status::Fail,
        INBOUND_SECRET_VAR,
        format!("environment: {INBOUND_SECRET_VAR} {problem}"),
    );
}

fn check_runtime(report: &mut PreflightReport, runtime: &str, known: &[&str], config_dir: &Path) {
    let listing = if known.is_empty() {
        "(none built in)".to_string()
    } else {
        known.join(", ")
    };
    if known.contains(&runtime) {
        report.push(
            Status::Pass,
            "runtime",
            format!("`{runtime}` is a built-in adapter"),
        );
        return;
    }
    if let Some(name) = known.iter().find(|k| k.eq_ignore_ascii_case(runtime)) {
        report.push(
            Status::Warn,
            "runtime",
            format!("adapter name `{name}` ≠ runtime `{runtime}`; write `runtime: {name}` in config.yaml"),
        );
        return;
    }
    let path = config_dir.join(runtime);
    let is_wasm = path.extension().is_some_and(|e| e == "wasm");
    if is_wasm && path.is_file() {
        report.push(
            Status::Pass,
            "runtime",
            format!("wasm component {}", path.display()),
        );
    } else if path.join("Cargo.toml").is_file() {
        report.push(
            Status::Pass,
            "runtime",
            format!("adapter crate {}", path.display()),
        );
    } else if is_wasm {
        report.push(
            Status::Fail,
            "runtime",
            format!(
                "{} does not exist; build the component or fix `runtime` in config.yaml",
                path.display()
            ),
        );
    } else if path.is_dir() {
        report.push(
            Status::Fail,
            "runtime",
            format!("{} is a directory without Cargo.toml, not an adapter crate; fix `runtime` in config.yaml", path.display()),
        );
    } else {
        report.push(
            Status::Fail,
            "runtime",
            format!(
                "unknown runtime `{runtime}`; set `runtime` in config.yaml to one of {listing}, \
                 or a path to a .wasm component or adapter crate"
            ),
        );
    }
}

/// WARN for each per-call memory limit (`sandbox.memory_limit`, a grant's `memory_limit`)
/// above `sandbox.admission.max_guest_memory`: such a call can never reach its own limit, since
/// growth past the workspace's budget fails it first. (A budget below
/// [`MIN_GUEST_MEMORY`](crate::MIN_GUEST_MEMORY) is already a config error.)
fn check_guest_memory(report: &mut PreflightReport, config: &WorkspaceConfig) {
    let key = "sandbox.admission.max_guest_memory";
    let budget = config
        .sandbox
        .limit(key)
        .unwrap_or(crate::DEFAULT_MAX_GUEST_MEMORY);
    let grants = &config.grants;
    let limits = std::iter::once((
        "sandbox.memory_limit".to_string(),
        Some(config.sandbox.memory_limit),
    ))
    .chain(std::iter::once((
        "grants.default.memory_limit".to_string(),
        grants.default.memory_limit,
    )))
    .chain(
        grants
            .skills
            .iter()
            .map(|(id, set)| (format!("grants.skills.{id}.memory_limit"), set.memory_limit)),
    );
    for (limit_key, limit) in limits {
        let Some(limit) = limit.filter(|l| *l > budget) else {
            continue;
        };
        report.push(
            Status::Warn,
            key,
            format!(
                "{} is below {limit_key} ({}): such a call fails when it grows past the \
                 workspace's guest-memory budget, before its own limit; raise {key} or lower \
                 {limit_key}",
                format_bytes(budget),
                format_bytes(limit)
            ),
        );
    }
}

fn origin_text(origin: Origin) -> String {
    match origin {
        Origin::Default => "default".into(),
        Origin::File { key } => format!("config.yaml {key}"),
        Origin::Env { var } => format!("${var}"),
        Origin::ModelPrefix => "model prefix".into(),
    }
}

fn check_model(report: &mut PreflightReport, env: &Env, config: &WorkspaceConfig) {
    let provider = match &config.provider {
        Some(p) => format!(
            "provider `{p}` (from {})",
            origin_text(config.provider_origin)
        ),
        None => "provider left to the adapter".into(),
    };
    report.push(
        Status::Pass,
        "model",
        format!(
            "`{}` (from {}), {provider}",
            config.model,
            origin_text(config.model_origin)
        ),
    );
    let needed = format!("needed for model `{}`", config.model);
    check_required_env(report, env, config, &needed);
}

/// PASS when every `required_env` variable is set (or none is required), else one WARN per
/// unset variable saying what it is `needed` for.
fn check_required_env(
    report: &mut PreflightReport,
    env: &Env,
    config: &WorkspaceConfig,
    needed: &str,
) {
    let missing: Vec<&String> = config
        .required_env
        .iter()
        .filter(|v| !env.is_set(v))
        .collect();
    if config.required_env.is_empty() {
        report.push(Status::Pass, "required_env", "nothing required");
    } else if missing.is_empty() {
        report.push(
            Status::Pass,
            "required_env",
            format!("set: {}", config.required_env.join(", ")),
        );
    }
    for var in missing {
        report.push(
            Status::Warn,
            "required_env",
            format!(
                "{var} is not set ({needed}); add it to the workspace's secrets or environment"
            ),
        );
    }
}

fn check_platform(report: &mut PreflightReport, env: &Env) {
    match (&env.platform_url, &env.workspace_id) {
        (Some(url), Some(id)) => report.push(Status::Pass, "platform", format!("{url} as workspace {id}")),
        (Some(url), None) => report.push(
            Status::Warn,
            "platform",
            format!("PLATFORM_URL is {url} but WORKSPACE_ID is not set; registration will fail — set WORKSPACE_ID"),
        ),
        (None, _) => report.push(Status::Pass, "platform", "none (PLATFORM_URL unset): standalone"),
    }
}

/// The prompt files (only when `prompts`: a `runtime: cli` workspace has no system prompt),
/// then `initial_prompt_file` and `idle_prompt_file` (sent as A2A messages to every runtime).
fn check_files(
    report: &mut PreflightReport,
    config: &WorkspaceConfig,
    config_dir: &Path,
    prompts: bool,
) {
    let prompt_files = if prompts {
        &config.prompt_files[..]
    } else {
        &[]
    };
    for file in prompt_files {
        let path = config_dir.join(file);
        if path.is_file() {
            report.push(Status::Pass, "prompt_files", file.clone());
        } else {
            report.push(
                Status::Warn,
                "prompt_files",
                format!(
                    "{} not found; create it or remove `{file}` from prompt_files",
                    path.display()
                ),
            );
        }
    }
    for (key, path) in [
        ("initial_prompt_file", &config.initial_prompt_file),
        ("idle_prompt_file", &config.idle_prompt_file),
    ] {
        match path {
            Some(p) if p.is_file() => report.push(Status::Pass, key, p.display().to_string()),
            Some(p) => report.push(
                Status::Warn,
                key,
                format!(
                    "{} not found; create it or fix {key} in config.yaml",
                    p.display()
                ),
            ),
            None => {}
        }
    }
}

fn check_skills(report: &mut PreflightReport, config: &WorkspaceConfig, config_dir: &Path) {
    check_packages(report, config);
    for id in config.skills.iter().filter(|s| !is_package_reference(s)) {
        let md = config_dir.join("skills").join(id).join("SKILL.md");
        if md.is_file() {
            report.push(Status::Pass, format!("skill {id}"), "SKILL.md found");
        } else {
            report.push(
                Status::Warn,
                format!("skill {id}"),
                format!(
                    "{} not found; add the skill folder or remove `{id}` from skills",
                    md.display()
                ),
            );
        }
    }
    for id in config.grants.skills.keys() {
        let present = config.skills.contains(id)
            || config
                .skills
                .iter()
                .any(|s| is_package_reference(s) && package_skill_id(s) == id)
            || config_dir
                .join("skills")
                .join(id)
                .join("SKILL.md")
                .is_file();
        if !present {
            report.push(
                Status::Warn,
                format!("grants.skills.{id}"),
                format!("grants capabilities to `{id}`, which is not a listed or local skill; remove the entry (ignore if a plugin provides the skill)"),
            );
        }
    }
}

/// Skill packages: a tag without a digest warns (what it names can change under the
/// workspace); `require` with packages and no trusted key, or a trusted key file that is not
/// there, FAILs (no package could load).
fn check_packages(report: &mut PreflightReport, config: &WorkspaceConfig) {
    let refs: Vec<&String> = config
        .skills
        .iter()
        .filter(|s| is_package_reference(s))
        .collect();
    let packages = &config.packages;
    for key in &packages.trusted_keys {
        if !key.is_file() {
            report.push(
                Status::Fail,
                "packages.trusted_keys",
                format!("{} does not exist or is not a file", key.display()),
            );
        }
    }
    for entry in &refs {
        let name = format!("skill {}", escape_text(entry));
        if is_pinned(entry) {
            report.push(Status::Pass, name, "OCI package pinned by digest");
        } else {
            report.push(
                Status::Warn,
                name,
                "an OCI tag without a digest: what it names can change; pin it as \
                 `<repository>@sha256:<digest>` (`molecule-runtime check` shows the digest it \
                 resolves to now)",
            );
        }
    }
    let require = packages.signatures == crate::SignaturePolicy::Require;
    if !refs.is_empty() && require && packages.trusted_keys.is_empty() {
        report.push(
            Status::Fail,
            "packages.signatures",
            "`require` (the default) with no packages.trusted_keys: no skill package can \
             load; add the signer's public key (cosign.pub) to packages.trusted_keys, or set \
             packages.signatures to `warn`",
        );
    }
}

fn check_plugins(
    report: &mut PreflightReport,
    env: &Env,
    config: &WorkspaceConfig,
    config_dir: &Path,
) {
    for name in &config.plugins {
        let local = config_dir.join("plugins").join(name);
        let shared = env.plugins_dir.join(name);
        if local.is_dir() {
            report.push(
                Status::Pass,
                format!("plugin {name}"),
                local.display().to_string(),
            );
        } else if shared.is_dir() {
            report.push(
                Status::Pass,
                format!("plugin {name}"),
                shared.display().to_string(),
            );
        } else {
            report.push(
                Status::Warn,
                format!("plugin {name}"),
                format!(
                    "not found in {} or {}; install it or remove it from plugins",
                    local.display(),
                    shared.display()
                ),
            );
        }
    }
}
