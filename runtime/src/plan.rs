//! The plan: what a workspace will load and with which settings, computed from the
//! environment and config.yaml before anything starts (config → **plan** → running workspace).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use molecule_config::{load_plugins, preflight, Env, PluginSet, PreflightReport, WorkspaceConfig};
use serde_json::{json, Value};

/// The adapters that ship with the runtime, by `runtime` name.
pub const ADAPTERS: [&str; 6] = [
    "langgraph",
    "deepagents",
    "claude-code",
    "crewai",
    "autogen",
    "openclaw",
];

/// Where an adapter component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSource {
    /// The config's `runtime` value.
    pub runtime: String,
    /// A crate folder or a `.wasm` file; `None` when nothing matched.
    pub path: Option<PathBuf>,
}

/// Settings that the command line may override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces `WORKSPACE_CONFIG_PATH`.
    pub config_dir: Option<PathBuf>,
    /// Replaces `a2a.port` (0 picks a free port).
    pub port: Option<u16>,
    /// The address to bind (default all interfaces; tests use 127.0.0.1).
    pub bind: Option<IpAddr>,
}

/// Everything the boot sequence needs, decided up front.
pub struct Plan {
    /// The captured environment.
    pub env: Env,
    /// config.yaml with defaults and env overrides.
    pub config: Arc<WorkspaceConfig>,
    /// The preflight checks.
    pub preflight: PreflightReport,
    /// The adapter to load.
    pub adapter: AdapterSource,
    /// Folders holding skill folders (`<configs>/skills`).
    pub skill_roots: Vec<PathBuf>,
    /// Plugins, in precedence order.
    pub plugins: PluginSet,
    /// Where the task store and memory live.
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub bind: SocketAddr,
    /// `runtime_config` exactly as written (adapters read their own keys from it).
    pub runtime_config: Value,
    /// The skill packages (`skills:` entries that are OCI references), pulled and verified;
    /// empty until boot or `check` pulls them (`workspace::packages::pull_packages`). Each
    /// carries its [`SkillOrigin`](molecule_packages::SkillOrigin): reference, digest and
    /// signature status.
    pub packages: Vec<molecule_packages::PulledSkill>,
}

impl Plan {
    /// Builds the plan from `env` and `overrides`.
    pub fn new(env: Env, overrides: &Overrides) -> Plan {
        let config_dir = overrides
            .config_dir
            .clone()
            .unwrap_or_else(|| env.config_path.clone());
        let config = WorkspaceConfig::load(&config_dir, &env);
        let adapter = AdapterSource {
            runtime: config.runtime.clone(),
            path: resolve_adapter(&config.runtime, &config_dir),
        };
        let mut report = preflight(&env, &config, &ADAPTERS, &config_dir);
        if adapter.path.is_none() && ADAPTERS.contains(&config.runtime.as_str()) {
            report.checks.push(molecule_config::Check {
                name: "runtime".into(),
                status: molecule_config::Status::Fail,
                detail: format!(
                    "adapter `{}` not found in {} (set MOLECULE_ADAPTERS_DIR)",
                    config.runtime,
                    adapters_dir().display()
                ),
            });
        }
        let plugins = load_plugins(&config_dir, &env.plugins_dir, &config.runtime);
        let port = overrides
            .port
            .unwrap_or_else(|| u16::try_from(config.a2a.port).unwrap_or(8000));
        let bind = SocketAddr::new(
            overrides.bind.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port,
        );
        let data_dir = env
            .get("MOLECULE_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| config_dir.join(".molecule"));
        Plan {
            runtime_config: raw_runtime_config(&config.runtime_config.raw),
            skill_roots: vec![config_dir.join("skills")],
            env,
            config: Arc::new(config),
            preflight: report,
            adapter,
            plugins,
            data_dir,
            bind,
            packages: Vec::new(),
        }
    }

    /// The JSON the adapter's `setup` receives, with the assembled system prompt.
    pub fn adapter_config(&self, system_prompt: &str) -> String {
        let c = &self.config;
        json!({
            "name": c.name,
            "description": c.description,
            "role": c.role,
            "version": c.version,
            "tier": c.tier,
            "runtime": c.runtime,
            "model": c.model,
            "provider": c.provider,
            "runtime_config": self.runtime_config,
            "system_prompt": system_prompt,
            "skills": c.skills,
            "tools": c.tools,
            "delegation": {
                "retry_attempts": c.delegation.retry_attempts,
                "timeout": c.delegation.timeout.as_secs_f64(),
            },
        })
        .to_string()
    }
}

impl Plan {
    /// The model gateway for this plan with `credentials`, or why there is none. The
    /// `scripted` provider defaults to `<configs>/model-script.yaml` when no script is set.
    /// The reason names the model and the config key (or variable) it came from.
    pub fn gateway(
        &self,
        credentials: molecule_llm::Credentials,
    ) -> Result<Arc<molecule_llm::Gateway>, String> {
        self.gateway_with(credentials, false)
    }

    /// Smoke mode's gateway: like [`Plan::gateway`], but it never opens a connection — only a
    /// `scripted` model works, and any other fails at once ("offline in smoke mode").
    pub fn offline_gateway(
        &self,
        credentials: molecule_llm::Credentials,
    ) -> Result<Arc<molecule_llm::Gateway>, String> {
        self.gateway_with(credentials, true)
    }

    fn gateway_with(
        &self,
        mut credentials: molecule_llm::Credentials,
        offline: bool,
    ) -> Result<Arc<molecule_llm::Gateway>, String> {
        let config = &self.config;
        let why = |e: molecule_llm::LlmError| {
            format!(
                "no model is available ({e}); the model is `{}` from {}",
                config.model,
                self.model_source()
            )
        };
        let selection =
            molecule_llm::ModelSelection::resolve(config.provider.as_deref(), &config.model)
                .map_err(why)?;
        if credentials.scripted_file.is_none() {
            let default_script = config.config_dir.join("model-script.yaml");
            if default_script.is_file() {
                credentials.scripted_file = Some(default_script);
            }
        }
        let gateway = if offline {
            molecule_llm::Gateway::offline(selection, credentials)
        } else {
            molecule_llm::Gateway::new(selection, credentials)
        };
        gateway.map(Arc::new).map_err(why)
    }

    /// Where the model setting came from, naming the key to change.
    fn model_source(&self) -> String {
        let file = self.config.config_dir.join(molecule_config::CONFIG_FILE);
        match self.config.model_origin {
            molecule_config::Origin::Default => format!(
                "the built-in default (set `model` in {} to choose one)",
                file.display()
            ),
            molecule_config::Origin::File { key } => format!("`{key}` in {}", file.display()),
            molecule_config::Origin::Env { var } => format!("the environment variable {var}"),
            molecule_config::Origin::ModelPrefix => format!("`model` in {}", file.display()),
        }
    }
}

/// The folder holding the built-in adapters: `$MOLECULE_ADAPTERS_DIR`, else the source
/// checkout's `adapters-wasm/`.
pub fn adapters_dir() -> PathBuf {
    std::env::var_os("MOLECULE_ADAPTERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters-wasm"))
}

/// Maps `runtime` to a component: a built-in adapter name (a crate or `<name>.wasm` in the
/// adapters folder), or a path (relative to the config folder) to a `.wasm` or a crate.
pub fn resolve_adapter(runtime: &str, config_dir: &Path) -> Option<PathBuf> {
    if ADAPTERS.contains(&runtime) {
        let dir = adapters_dir();
        let wasm = dir.join(format!("{runtime}.wasm"));
        let krate = dir.join(runtime);
        return if wasm.is_file() {
            Some(wasm)
        } else if krate.join("Cargo.toml").is_file() {
            Some(krate)
        } else {
            None
        };
    }
    let path = config_dir.join(runtime);
    let usable = (path.is_file() && path.extension().is_some_and(|e| e == "wasm"))
        || path.join("Cargo.toml").is_file();
    usable.then_some(path)
}

fn raw_runtime_config(raw: &serde_yaml::Value) -> Value {
    serde_json::to_value(raw)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}
