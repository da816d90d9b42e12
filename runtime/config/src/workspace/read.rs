//! Reading a parsed config.yaml key by key: each setting with its default (problems become
//! warnings, or errors for security settings), then the checks of unknown, misplaced and empty
//! top-level keys.

use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use super::config::{WorkspaceConfig, CONFIG_FILE, DEFAULT_PROMPT_FILE, DEFAULT_RUNTIME};
use super::model::{model_matches, pick_model, pick_provider};
use crate::approval::ApprovalConfig;
use crate::cli_runtime::{CliConfig, CLI_RUNTIME};
use crate::env::Env;
use crate::grants_config::GrantsConfig;
use crate::keys::{check_keys, check_nested, TOP_KEYS};
use crate::lenient::{field, Reader};
use crate::packages::PackagesConfig;
use crate::sandbox::SandboxConfig;
use crate::sections::{A2aConfig, DelegationConfig, ObservabilityConfig, RuntimeConfig};
use crate::source::SourceMap;

impl WorkspaceConfig {
    pub(super) fn from_value(
        v: &Value,
        source: Option<&SourceMap<'_>>,
        config_dir: &Path,
        env: &Env,
    ) -> WorkspaceConfig {
        let file = config_dir.join(CONFIG_FILE);
        let mut r = match source {
            Some(source) => Reader::with_source(&file, source),
            None => Reader::new(&file),
        };
        let text = |r: &mut Reader<'_>, key: &'static str| r.opt_string(field(v, key), key);
        let list =
            |r: &mut Reader<'_>, key: &str| r.string_list(field(v, key), key).unwrap_or_default();
        let name = r.string(field(v, "name"), "name", "Workspace");
        let description = r.string(field(v, "description"), "description", "");
        let role = r.string(field(v, "role"), "role", "");
        let version = r.string(field(v, "version"), "version", "1.0.0");
        let tier = r.int(field(v, "tier"), "tier", (0, i64::from(u32::MAX)), 1);
        let yaml_model = text(&mut r, "model");
        let yaml_provider = text(&mut r, "provider");
        let runtime = r.string(field(v, "runtime"), "runtime", DEFAULT_RUNTIME);
        let runtime_config = RuntimeConfig::read(&mut r, field(v, "runtime_config"));
        let cli = (runtime == CLI_RUNTIME)
            .then(|| CliConfig::read(&mut r, field(v, "runtime_config")))
            .flatten();
        let prompt_file = |r: &mut Reader<'_>, key: &'static str| {
            text(r, key)
                .filter(|s| !s.trim().is_empty())
                .map(|p| config_dir.join(p.trim()))
        };
        let initial_prompt = text(&mut r, "initial_prompt");
        let initial_prompt_file = prompt_file(&mut r, "initial_prompt_file");
        let idle_prompt = text(&mut r, "idle_prompt");
        let idle_prompt_file = prompt_file(&mut r, "idle_prompt_file");
        let idle = r.int(
            field(v, "idle_interval_seconds"),
            "idle_interval_seconds",
            (1, 31_536_000),
            600,
        );
        let skills = list(&mut r, "skills");
        let plugins = list(&mut r, "plugins");
        let tools = list(&mut r, "tools");
        let prompt_files = r
            .string_list(field(v, "prompt_files"), "prompt_files")
            .unwrap_or_else(|| vec![DEFAULT_PROMPT_FILE.to_string()]);
        let sub_workspaces = read_sub_workspaces(&mut r, field(v, "sub_workspaces"));
        let a2a = A2aConfig::read(&mut r, field(v, "a2a"));
        let delegation = DelegationConfig::read(&mut r, field(v, "delegation"));
        let sandbox = SandboxConfig::read(&mut r, field(v, "sandbox"));
        let observability = ObservabilityConfig::read(&mut r, field(v, "observability"));
        let mcp = crate::mcp::McpConfig::read(&mut r, v.get("mcp"));
        let grants = GrantsConfig::read(&mut r, field(v, "grants"));
        let packages = PackagesConfig::read(&mut r, field(v, "packages"), config_dir);
        let approval = ApprovalConfig::read(&mut r, field(v, "approval"));
        let uploads = crate::uploads::UploadsConfig::read(&mut r, field(v, "uploads"));
        let platform = crate::outbound::PlatformConfig::read(&mut r, field(v, "platform"));
        check_top_level(&mut r, v);
        let (warnings, errors) = (r.warnings, r.errors);

        let (model, model_origin) = pick_model(env, yaml_model, &runtime_config);
        let (provider, provider_origin) =
            pick_provider(env, yaml_provider, &runtime_config, &model);
        let required_env = runtime_config
            .models
            .iter()
            .find(|m| model_matches(&m.id, &model))
            .map(|m| m.required_env.clone())
            .unwrap_or_else(|| runtime_config.required_env.clone());
        WorkspaceConfig {
            config_dir: config_dir.to_path_buf(),
            name,
            description,
            role,
            version,
            tier: u32::try_from(tier).unwrap_or(1),
            model,
            model_origin,
            provider,
            provider_origin,
            runtime,
            runtime_config,
            cli,
            required_env,
            initial_prompt,
            initial_prompt_file,
            idle_prompt,
            idle_prompt_file,
            idle_interval: Duration::from_secs(idle.unsigned_abs()),
            skills,
            plugins,
            tools,
            prompt_files,
            sub_workspaces,
            a2a,
            delegation,
            sandbox,
            observability,
            mcp,
            grants,
            packages,
            approval,
            uploads,
            platform,
            warnings,
            errors,
        }
    }
}

/// Unknown and misplaced top-level keys, empty security sections, and security settings
/// nested where they are never read.
fn check_top_level(r: &mut Reader<'_>, v: &Value) {
    let secure = [
        "a2a", "sandbox", "grants", "packages", "approval", "mcp", "platform",
    ];
    let placed = ["inbound_secret", "memory_limit", "timeout"];
    check_keys(r, v, "", &TOP_KEYS, &secure, &placed);
    for (key, holds) in [
        ("a2a", "inbound_secret"),
        ("sandbox", "the limits of untrusted code"),
        ("grants", "the capability grants"),
        ("packages", "the signature policy of skill packages"),
        ("approval", "the tools that need a human's approval"),
        ("platform", "the outbound relay switch"),
    ] {
        if v.get(key).is_some_and(Value::is_null) {
            r.warn(
                key,
                format!(
                    "is empty, so nothing under it is set (it holds {holds}); indent its keys \
                     under it, or remove it"
                ),
            );
        }
    }
    let Value::Mapping(m) = v else { return };
    for (k, value) in m {
        let Some(name) = r.text(k) else { continue };
        // a2a, sandbox and grants check their own keys.
        if !secure.contains(&name.as_str()) {
            check_nested(r, value, &name, name == "runtime_config", 1);
        }
    }
}

fn read_sub_workspaces(r: &mut Reader<'_>, v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, item) in r.items(v, "sub_workspaces").iter().enumerate() {
        let id = r.text(item).or_else(|| {
            field(item, "id")
                .or_else(|| field(item, "name"))
                .and_then(|v| r.text(v))
        });
        match id {
            Some(id) => out.push(id),
            None => r.warn(
                &format!("sub_workspaces[{i}]"),
                "expected an id or a mapping with `id`; skipping it",
            ),
        }
    }
    out
}
