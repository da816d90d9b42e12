//! [`WorkspaceConfig`]: config.yaml read leniently (every key has a default, problems become
//! warnings) except where leniency would be a silent security downgrade: a file that exists
//! but cannot be read or parsed, and unusable security settings, become errors that preflight
//! turns into FAILs. The environment's model and provider overrides are applied.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use crate::env::Env;
use crate::grants::{Grant, GrantsConfig};
use crate::keys::{check_keys, check_nested, TOP_KEYS};
use crate::lenient::{describe, field, Reader};
use crate::sections::{
    A2aConfig, DelegationConfig, ObservabilityConfig, RuntimeConfig, SandboxConfig,
};
use crate::source::{self, SourceMap};
use crate::warning::Warning;

/// The config file's name inside the config dir.
pub const CONFIG_FILE: &str = "config.yaml";
/// Default `model`.
pub const DEFAULT_MODEL: &str = "anthropic:claude-opus-4-7";
/// Default `runtime`.
pub const DEFAULT_RUNTIME: &str = "langgraph";
/// Default `prompt_files`.
pub const DEFAULT_PROMPT_FILE: &str = "system-prompt.md";

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// config.yaml (`key` names the YAML key it came from).
    File {
        /// The YAML key, e.g. `model` or `runtime_config.model`.
        key: &'static str,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: &'static str,
    },
    /// Derived from the model's `provider:` / `provider/` prefix.
    ModelPrefix,
}

/// The whole workspace configuration. Build it with [`WorkspaceConfig::load`]; it never fails,
/// but check [`WorkspaceConfig::errors`] (preflight does): a config with errors must not run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceConfig {
    /// The directory holding config.yaml; relative paths in the config resolve against it.
    pub config_dir: PathBuf,
    /// `name` (default "Workspace").
    pub name: String,
    /// `description`.
    pub description: String,
    /// `role`.
    pub role: String,
    /// `version` (default "1.0.0").
    pub version: String,
    /// `tier` (default 1).
    pub tier: u32,
    /// The picked model: `MOLECULE_MODEL` > `MODEL` > `model` > `runtime_config.model` > default.
    pub model: String,
    /// Where [`WorkspaceConfig::model`] came from.
    pub model_origin: Origin,
    /// The provider: `LLM_PROVIDER` > `provider` > `runtime_config.provider` > model prefix.
    /// `None` when the model has no prefix (e.g. `sonnet`).
    pub provider: Option<String>,
    /// Where [`WorkspaceConfig::provider`] came from.
    pub provider_origin: Origin,
    /// `runtime` (default "langgraph"): an adapter name or a path to a .wasm / crate.
    pub runtime: String,
    /// `runtime_config`, as written.
    pub runtime_config: RuntimeConfig,
    /// The env vars the picked model needs: the matching `runtime_config.models[].required_env`,
    /// else `runtime_config.required_env`.
    pub required_env: Vec<String>,
    /// `initial_prompt`.
    pub initial_prompt: Option<String>,
    /// `initial_prompt_file`, resolved against the config dir.
    pub initial_prompt_file: Option<PathBuf>,
    /// `idle_prompt`.
    pub idle_prompt: Option<String>,
    /// `idle_prompt_file`, resolved against the config dir.
    pub idle_prompt_file: Option<PathBuf>,
    /// `idle_interval_seconds` (default 600).
    pub idle_interval: Duration,
    /// `skills`: skill ids (folders under `skills/`).
    pub skills: Vec<String>,
    /// `plugins`: plugin names expected to be installed.
    pub plugins: Vec<String>,
    /// `tools`: built-in tool names.
    pub tools: Vec<String>,
    /// `prompt_files` (default `[system-prompt.md]`), relative to the config dir.
    pub prompt_files: Vec<String>,
    /// `sub_workspaces`: ids (a list item may be a string or a mapping with `id` or `name`).
    pub sub_workspaces: Vec<String>,
    /// `a2a`.
    pub a2a: A2aConfig,
    /// `delegation`.
    pub delegation: DelegationConfig,
    /// `sandbox`: default wasm limits.
    pub sandbox: SandboxConfig,
    /// `observability`.
    pub observability: ObservabilityConfig,
    /// `grants`: capability grants for skills.
    pub grants: GrantsConfig,
    /// Everything that fell back to a default, in file order.
    pub warnings: Vec<Warning>,
    /// Problems that must stop the workspace; preflight FAILs on each (check `config`). Either
    /// the file itself: config.yaml exists but cannot be read, is not valid YAML (a duplicate
    /// key included: the error names the key and its line), or its top level is not a mapping,
    /// and then every other field is its default and nothing from the file is used; or a
    /// security setting that is present but unusable (`a2a.inbound_secret`, the limits under
    /// `sandbox` and `grants`, a non-mapping `a2a`, `sandbox` or `grants.skills`), or a near
    /// miss or misplaced security key (`A2A`, `a2a.Inbound_Secret`, a top-level
    /// `inbound_secret`, `sandbox.Timeout`), and then the other keys are read as usual. The
    /// file-level errors also cover a missing config folder, a dangling symlink, a file that is
    /// not regular or is over [`MAX_CONFIG_BYTES`], merge keys (`<<`) and nesting deeper than
    /// 128. Empty for a usable config.
    pub errors: Vec<Warning>,
}

impl WorkspaceConfig {
    /// Reads `<config_dir>/config.yaml`. A missing file gives all defaults plus a warning; a
    /// missing `config_dir`, a dangling symlink, a file that is not regular (never opened, so a
    /// FIFO cannot block), larger than [`MAX_CONFIG_BYTES`] or that cannot be read
    /// (permissions, not UTF-8) gives all defaults plus an error. See [`WorkspaceConfig::from_yaml_str`] for the text.
    pub fn load(config_dir: &Path, env: &Env) -> WorkspaceConfig {
        let file = config_dir.join(CONFIG_FILE);
        match read_config_file(config_dir, &file) {
            Ok(Some(text)) => WorkspaceConfig::from_yaml_str(&text, config_dir, env),
            Ok(None) => {
                let w = Warning::in_file(
                    &file,
                    "",
                    "not found, so every setting is its default: no a2a.inbound_secret (A2A \
                     calls are unauthenticated unless MOLECULE_INBOUND_SECRET is set) and no \
                     grants beyond log; create it, or point WORKSPACE_CONFIG_PATH at the \
                     directory that holds it",
                );
                WorkspaceConfig::unusable(config_dir, env, vec![w], Vec::new())
            }
            Err(err) => WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err]),
        }
    }

    /// Parses config.yaml's text; `config_dir` locates relative paths and names the file in
    /// warnings and errors. Text that is not valid YAML (a duplicate key included) or whose top
    /// level is not a mapping gives all defaults plus an error naming the line (and the key);
    /// empty text gives all defaults silently. Text-typed keys keep a plain scalar as written:
    /// `version: 1.10` is `"1.10"`, not the float's `1.1`.
    pub fn from_yaml_str(text: &str, config_dir: &Path, env: &Env) -> WorkspaceConfig {
        let file = config_dir.join(CONFIG_FILE);
        if text.len() > MAX_CONFIG_BYTES {
            let err = too_large(&file, text.len() as u64);
            return WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err]);
        }
        // YAML allows a byte-order mark; it is not part of the first key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value = match source::parse(text) {
            Ok(value) => value,
            Err(e) => {
                let mut err = Warning::in_file(
                    &file,
                    e.key,
                    format!(
                        "{}; nothing from the file is used and the workspace does not start",
                        e.message
                    ),
                );
                err.line = e.line;
                return WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err]);
            }
        };
        match &value {
            Value::Mapping(_) => {
                let source = SourceMap::new(text, &value);
                WorkspaceConfig::from_value(&value, Some(&source), config_dir, env)
            }
            Value::Null => WorkspaceConfig::from_value(&Value::Null, None, config_dir, env),
            other => {
                let err = Warning::in_file(
                    &file,
                    "",
                    format!(
                        "the top level must be a mapping of keys, found {}; nothing from the \
                         file is used and the workspace does not start",
                        describe(other)
                    ),
                )
                .at_line(1);
                WorkspaceConfig::unusable(config_dir, env, Vec::new(), vec![err])
            }
        }
    }

    /// All defaults, with `warnings` and `errors` about the file as a whole.
    fn unusable(
        config_dir: &Path,
        env: &Env,
        warnings: Vec<Warning>,
        errors: Vec<Warning>,
    ) -> WorkspaceConfig {
        let mut config = WorkspaceConfig::from_value(&Value::Null, None, config_dir, env);
        config.warnings.splice(0..0, warnings);
        config.errors.splice(0..0, errors);
        config
    }

    fn from_value(
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
        let grants = GrantsConfig::read(&mut r, field(v, "grants"));
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
            grants,
            warnings,
            errors,
        }
    }

    /// The capability grant for `skill` (see [`GrantsConfig::for_skill`]).
    pub fn grant_for(&self, skill: &str) -> Grant {
        self.grants.for_skill(skill, &self.sandbox)
    }

    /// The effective log level: `LOG_LEVEL` when set, else `observability.log_level`.
    pub fn log_level<'a>(&'a self, env: &'a Env) -> &'a str {
        env.log_level
            .as_deref()
            .unwrap_or(&self.observability.log_level)
    }
}

fn pick_model(env: &Env, yaml: Option<String>, rc: &RuntimeConfig) -> (String, Origin) {
    let yaml = yaml.filter(|m| !m.trim().is_empty());
    if let Some(m) = &env.molecule_model {
        (
            m.clone(),
            Origin::Env {
                var: "MOLECULE_MODEL",
            },
        )
    } else if let Some(m) = &env.model {
        (m.clone(), Origin::Env { var: "MODEL" })
    } else if let Some(m) = yaml {
        (m, Origin::File { key: "model" })
    } else if let Some(m) = rc.model.clone().filter(|m| !m.trim().is_empty()) {
        (
            m,
            Origin::File {
                key: "runtime_config.model",
            },
        )
    } else {
        (DEFAULT_MODEL.to_string(), Origin::Default)
    }
}

fn pick_provider(
    env: &Env,
    yaml: Option<String>,
    rc: &RuntimeConfig,
    model: &str,
) -> (Option<String>, Origin) {
    let nonempty = |s: Option<String>| s.filter(|p| !p.trim().is_empty());
    if let Some(p) = &env.llm_provider {
        (
            Some(p.clone()),
            Origin::Env {
                var: "LLM_PROVIDER",
            },
        )
    } else if let Some(p) = nonempty(yaml) {
        (Some(p), Origin::File { key: "provider" })
    } else if let Some(p) = nonempty(rc.provider.clone()) {
        (
            Some(p),
            Origin::File {
                key: "runtime_config.provider",
            },
        )
    } else {
        match model_prefix(model) {
            Some(p) => (Some(p.to_string()), Origin::ModelPrefix),
            None => (None, Origin::Default),
        }
    }
}

/// The provider prefix of a model: the text before the first `:` or `/` (`openai:gpt-4.1` → `openai`).
pub fn model_prefix(model: &str) -> Option<&str> {
    let i = model.find([':', '/'])?;
    Some(&model[..i]).filter(|p| !p.is_empty())
}

/// Whether `models[].id` names `model`: case-insensitively equal to the whole model or to the
/// part after its provider prefix (`claude-opus-4-7` matches `anthropic:claude-opus-4-7`).
pub fn model_matches(id: &str, model: &str) -> bool {
    let id = id.trim();
    let bare = model_prefix(model).map_or(model, |p| &model[p.len() + 1..]);
    id.eq_ignore_ascii_case(model.trim()) || id.eq_ignore_ascii_case(bare.trim())
}

/// The largest config.yaml read (1 MiB); a larger file is an error.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

fn too_large(file: &Path, size: u64) -> Warning {
    Warning::in_file(
        file,
        "",
        format!(
            "is {size} bytes, more than the limit of {MAX_CONFIG_BYTES} bytes (1 MiB); nothing \
             from it is used and the workspace does not start"
        ),
    )
}

/// config.yaml's text: `Ok(None)` when there is no such file (in a folder that exists), an
/// error when the folder does not exist, the file is a dangling symbolic link, not a regular
/// file (a FIFO would block), larger than [`MAX_CONFIG_BYTES`], or cannot be read.
fn read_config_file(config_dir: &Path, file: &Path) -> Result<Option<String>, Warning> {
    use std::io::{ErrorKind, Read};
    let cannot = |why: String| {
        Warning::in_file(
            file,
            "",
            format!(
                "exists but cannot be read ({why}); nothing from it is used and the workspace \
                 does not start: fix its permissions or contents"
            ),
        )
    };
    if let Err(e) = std::fs::metadata(config_dir) {
        if e.kind() == ErrorKind::NotFound {
            return Err(Warning::in_file(
                config_dir,
                "",
                format!(
                    "config folder {} does not exist; nothing is loaded and the workspace does \
                     not start: fix --config-dir / WORKSPACE_CONFIG_PATH",
                    config_dir.display()
                ),
            ));
        }
    }
    let link = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e.to_string())),
    };
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) if link.file_type().is_symlink() && e.kind() == ErrorKind::NotFound => {
            let target = std::fs::read_link(file)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(Warning::in_file(
                file,
                "",
                format!(
                    "is a symbolic link to {target}, which does not exist; nothing is loaded \
                     and the workspace does not start (a dangling link is not a missing file): \
                     fix the link or its target"
                ),
            ));
        }
        Err(e) => return Err(cannot(e.to_string())),
    };
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(cannot(format!("it is {kind}, not a regular file")));
    }
    if meta.len() > MAX_CONFIG_BYTES as u64 {
        return Err(too_large(file, meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_CONFIG_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(too_large(file, bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| cannot("stream did not contain valid UTF-8".into()))
}

/// Unknown and misplaced top-level keys, empty security sections, and security settings
/// nested where they are never read.
fn check_top_level(r: &mut Reader<'_>, v: &Value) {
    let secure = ["a2a", "sandbox", "grants"];
    let placed = ["inbound_secret", "memory_limit", "timeout"];
    check_keys(r, v, "", &TOP_KEYS, &secure, &placed);
    for (key, holds) in [
        ("a2a", "inbound_secret"),
        ("sandbox", "the limits of untrusted code"),
        ("grants", "the capability grants"),
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
