//! The [`WorkspaceConfig`] type, where its settings come from ([`Origin`]), the defaults and
//! the size limit of config.yaml, and what is looked up on a loaded config.

use std::path::PathBuf;
use std::time::Duration;

use crate::approval::ApprovalConfig;
use crate::cli_runtime::CliConfig;
use crate::env::Env;
use crate::grants_config::{Grant, GrantsConfig};
use crate::log_level::LogLevel;
use crate::packages::PackagesConfig;
use crate::sandbox::SandboxConfig;
use crate::sections::{A2aConfig, DelegationConfig, ObservabilityConfig, RuntimeConfig};
use crate::warning::Warning;

/// The config file's name inside the config dir.
pub const CONFIG_FILE: &str = "config.yaml";
/// Default `model`.
pub const DEFAULT_MODEL: &str = "anthropic:claude-opus-4-7";
/// Default `runtime`.
pub const DEFAULT_RUNTIME: &str = "langgraph";
/// Default `prompt_files`.
pub const DEFAULT_PROMPT_FILE: &str = "system-prompt.md";
/// The largest config.yaml read (1 MiB); a larger file is an error.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

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
    /// `runtime_config` read strictly for `runtime: cli` (a native program's grant): `None`
    /// for any other runtime, or when it is unusable (then `errors` says why).
    pub cli: Option<CliConfig>,
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
    /// `skills`: skill ids (folders under `skills/`), or OCI references of skill packages
    /// (an entry holding a `/`: `registry/org/skill@sha256:<hex>`).
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
    /// `mcp`: the skill tools over MCP at `/mcp` (off unless enabled).
    pub mcp: crate::mcp::McpConfig,
    /// `grants`: capability grants for skills.
    pub grants: GrantsConfig,
    /// `packages`: skill packages from OCI registries (signature policy, trusted keys,
    /// cache, insecure registries).
    pub packages: PackagesConfig,
    /// `approval`: the tools whose calls wait for a human's approval (host-enforced).
    pub approval: ApprovalConfig,
    /// `uploads`: limits on the files A2A clients send (fail closed).
    pub uploads: crate::uploads::UploadsConfig,
    /// `platform`: the outbound relay switch (see [`crate::outbound_mode`]).
    pub platform: crate::PlatformConfig,
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
    /// The capability grant for `skill` (see [`GrantsConfig::for_skill`]).
    pub fn grant_for(&self, skill: &str) -> Grant {
        self.grants.for_skill(skill, &self.sandbox)
    }

    /// The stderr log level in force: `LOG_LEVEL` > `RUST_LOG` > `observability.log_level`
    /// > [`DEFAULT_LOG_LEVEL`](crate::DEFAULT_LOG_LEVEL) (`WARN`), with where it came from.
    pub fn log_level(&self, env: &Env) -> LogLevel {
        LogLevel::resolve(env, self.observability.log_level.as_deref())
    }
}
