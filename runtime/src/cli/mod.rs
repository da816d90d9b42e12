//! Command-line parsing and the shared set-up of every subcommand.

mod build;
mod call;
mod check;
mod inspect;
mod inspect_caps;
mod inspect_oci;
mod keygen;
mod langfuse;
mod mcp;
mod new;
mod packages;
mod run;
mod script;
mod smoke;
pub mod telemetry;
mod workspace_check;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::cache::CompiledCache;
use molecule_runtime::component::{ComponentHost, SkillComponent};
use molecule_runtime::engine::{EngineOptions, WasmEngine};
use molecule_runtime::grants::Grants;
use molecule_runtime::skill_dir::{ComponentSource, SkillDir};

/// Runs Molecule AI workspaces whose adapters and skill tools are sandboxed wasm components.
#[derive(Debug, Parser)]
#[command(name = "molecule-runtime", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where built and compiled components are cached.
    #[arg(long, global = true, env = "MOLECULE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot the workspace and serve A2A (the default when no subcommand is given).
    Run(run::RunArgs),
    /// Build component crates (or skill folders holding one) to wasm32-wasip2 and compile them
    /// into the cache.
    Build(build::BuildArgs),
    /// Call one tool of a skill and print its JSON result on stdout.
    Call(Box<call::CallArgs>),
    /// Link-check components and list the tools each offers; fails on any unsatisfied import.
    Check(check::CheckArgs),
    /// Run an Agent Skills script (scripts/NAME.py of a skill folder) in the sandbox: stdin in,
    /// its stdout and stderr out, its exit code.
    Script(script::ScriptArgs),
    /// Smoke mode: preflight, load and link-check every component, execute once on a stub
    /// "smoke test" request, exit 0/1; never registers or serves (`MOLECULE_SMOKE_MODE` makes
    /// `run` do this too).
    Smoke(smoke::SmokeArgs),
    /// Write a new skill folder or a self-contained workspace from a template.
    New(new::NewArgs),
    /// Show what is in this build and this workspace: versions, the adapter and every skill
    /// with its source, digest and requested / granted / effective capabilities (`--json`
    /// for a stable machine-readable shape). Builds and starts nothing.
    Inspect(inspect::InspectArgs),
    /// Pack a skill folder into one OCI artifact and push it to a registry; prints the
    /// reference pinned by digest for config.yaml `skills:`.
    Push(packages::PushArgs),
    /// Pull a skill package into the cache: check its digest, its signature (cosign, trusted
    /// keys) and unpack it safely.
    Pull(packages::PullArgs),
    /// Serve skill folders' tools and `skill://` resources over MCP on stdin/stdout, for
    /// desktop MCP clients (logs on stderr only).
    Mcp(mcp::McpArgs),
    /// Sign a pushed skill package with a private key (a cosign-compatible signature at tag
    /// `sha256-<hex>.sig`).
    Sign(packages::SignArgs),
    /// Write a new signing key pair for skill packages (`DIR/cosign.key`, mode 0600, and
    /// `DIR/cosign.pub`; cosign-compatible); never overwrites.
    Keygen(keygen::KeygenArgs),
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Run(run::RunArgs::default()));
    match command {
        Command::New(args) => return new::run(args),
        Command::Push(args) => return packages::push(args).await,
        Command::Sign(args) => return packages::sign(args).await,
        Command::Keygen(args) => return keygen::run(args),
        _ => {}
    }
    // A workspace command reads its config.yaml first: its `observability.log_level` applies
    // before anything else logs, and `run` sizes the engine's pool from it.
    let env = molecule_config::Env::from_process();
    let workspace =
        workspace_dir(&command, &env).map(|dir| molecule_config::WorkspaceConfig::load(&dir, &env));
    if let Some(config) = &workspace {
        apply_log_level(&config.log_level(&env));
    }
    let engine = match (&command, &workspace) {
        (Command::Run(_), Some(config)) => engine_options(config),
        _ => EngineOptions::default(),
    };
    let ctx = Context::new(&cli.global, engine)?;
    match command {
        Command::Run(args) if env.smoke_mode => {
            let args = smoke::SmokeArgs {
                config_dir: args.config_dir,
                json: false,
            };
            smoke::run(&ctx, args).await
        }
        Command::Run(args) => run::run(&ctx, args).await,
        Command::Build(args) => build::run(&ctx, args).await,
        Command::Call(args) => call::run(&ctx, *args).await,
        Command::Check(args) => check::run(&ctx, args).await,
        Command::Script(args) => script::run(&ctx, args).await,
        Command::Smoke(args) => smoke::run(&ctx, args).await,
        Command::Pull(args) => packages::pull(&ctx, args)
            .await
            .map_err(inspect_oci::pull_error_hint),
        Command::New(args) => new::run(args),
        Command::Inspect(args) => inspect::run(&ctx, args).await,
        Command::Mcp(args) => mcp::run(&ctx, args).await,
        Command::Push(args) => packages::push(args).await,
        Command::Sign(args) => packages::sign(args).await,
        Command::Keygen(args) => keygen::run(args),
    }
}

/// The config folder of a command that runs or checks the workspace (`run`, `smoke`, `check`
/// without paths): its `--config-dir`, else `WORKSPACE_CONFIG_PATH`. `None` for the others.
fn workspace_dir(command: &Command, env: &molecule_config::Env) -> Option<PathBuf> {
    let dir = match command {
        Command::Run(args) => args.config_dir.as_deref(),
        Command::Smoke(args) => args.config_dir.as_deref(),
        Command::Check(args) if args.paths.is_empty() => args.config_dir.as_deref(),
        _ => return None,
    };
    Some(dir.map_or_else(|| env.config_path.clone(), Path::to_owned))
}

/// The engine for serving the workspace `config`: an instance pool sized for its
/// `sandbox.admission.max_concurrent_calls`.
fn engine_options(config: &molecule_config::WorkspaceConfig) -> EngineOptions {
    let admission = molecule_runtime::scheduler::AdmissionConfig::configured(&config.sandbox);
    EngineOptions {
        max_concurrent: EngineOptions::pool_for_calls(admission.max_concurrent_calls),
        ..EngineOptions::default()
    }
}

/// Sets up `tracing` on stderr at the level from the environment (`LOG_LEVEL`, else
/// `RUST_LOG`, else the default `warn`); a workspace command then applies its config.yaml's
/// `observability.log_level` ([`apply_log_level`]) unless the environment set one. With
/// `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP, and with the
/// `LANGFUSE_*` variables to Langfuse (see [`telemetry`]); keep the returned guard until exit
/// so queued spans are flushed.
///
/// # Errors
/// The Langfuse variables are set but unusable: the text names the variable, and the runtime
/// must not start (a secret would be sent where it should not, or traces silently lost).
pub fn init_logging(global: &GlobalArgs) -> Result<telemetry::TelemetryGuard, String> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;

    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match global.log_format {
        LogFormat::Human => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let level = molecule_config::LogLevel::resolve(&molecule_config::Env::from_process(), None);
    let (filter, problem) = log_filter(&level);
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let _ = LOG_FILTER.set(handle);
    let telemetry = telemetry::from_env()?;
    let layers: Vec<telemetry::BoxedLayer> = std::iter::once(fmt.with_filter(filter).boxed())
        .chain(telemetry.layer)
        .collect();
    tracing_subscriber::registry().with(layers).init();
    for warning in problem.iter().chain(&telemetry.warnings) {
        tracing::warn!("{warning}");
    }
    Ok(telemetry.guard)
}

/// The handle that swaps the stderr log filter once a workspace's config.yaml is read.
static LOG_FILTER: std::sync::OnceLock<
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>,
> = std::sync::OnceLock::new();

/// Applies `level` (from [`molecule_config::WorkspaceConfig::log_level`]) to the stderr log.
/// Does nothing before [`init_logging`], or when the level came from the environment (it is
/// already in force).
pub fn apply_log_level(level: &molecule_config::LogLevel) {
    if matches!(level.origin, molecule_config::Origin::Env { .. }) {
        return;
    }
    let Some(handle) = LOG_FILTER.get() else {
        return;
    };
    let (filter, problem) = log_filter(level);
    if let Err(err) = handle.reload(filter) {
        tracing::warn!("cannot apply the log level {}: {err}", level.text);
    }
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
    tracing::debug!("log level {} from {}", level.text, level.source());
}

/// The stderr log filter for `level`; one that does not parse gives the default (`warn`) and
/// a warning naming where it was set.
fn log_filter(
    level: &molecule_config::LogLevel,
) -> (tracing_subscriber::EnvFilter, Option<String>) {
    let directive = quiet_libraries(level.directive());
    match tracing_subscriber::EnvFilter::try_new(&directive) {
        Ok(filter) => (filter, None),
        Err(err) => {
            let default = molecule_config::DEFAULT_LOG_LEVEL.to_ascii_lowercase();
            let problem = format!(
                "{} is `{}`, not a log level or filter ({err}); logging at {default}: use one \
                 of trace, debug, info, warn, error",
                level.source(),
                molecule_runtime::redact::escape(&level.text)
            );
            (tracing_subscriber::EnvFilter::new(default), Some(problem))
        }
    }
}

/// `directive` with `rmcp`'s per-request `info` lines ("Service initialized as server" for
/// every stateless `/mcp` request) kept out when the level is the plain `info`; `debug`,
/// `trace` and custom filters are left as written.
fn quiet_libraries(directive: String) -> String {
    if directive == "info" {
        format!("{directive},{RMCP_AT_INFO}")
    } else {
        directive
    }
}

/// The directive [`quiet_libraries`] adds at `info`.
const RMCP_AT_INFO: &str = "rmcp=warn";

/// What every subcommand shares: the component host and the builder.
pub struct Context {
    pub host: Arc<ComponentHost>,
    pub builder: ComponentBuilder,
    pub cache_root: PathBuf,
}

impl Context {
    fn new(global: &GlobalArgs, engine: EngineOptions) -> anyhow::Result<Self> {
        let cache_root = match &global.cache_dir {
            Some(dir) => dir.clone(),
            None => default_cache_dir()?,
        };
        let engine = Arc::new(WasmEngine::new(engine)?);
        let cache = CompiledCache::from_env(cache_root.join("compiled"))?;
        Ok(Context {
            host: Arc::new(ComponentHost::new(engine, cache)?),
            builder: ComponentBuilder::new(&cache_root),
            cache_root,
        })
    }

    /// The wasm bytes of a skill folder, a crate folder or a `.wasm` file, building if needed.
    /// A Python skill folder gives the shared interpreter component (built once); an
    /// instructions-only skill folder has no component and is an error here.
    pub fn component_bytes(&self, path: &Path) -> anyhow::Result<Vec<u8>> {
        let wasm = if path.is_file() {
            path.to_owned()
        } else if path.join("SKILL.md").is_file() {
            match SkillDir::load(path)?.source {
                ComponentSource::Prebuilt(file) => file,
                ComponentSource::Crate(dir) => self.builder.build(&dir)?.wasm,
                ComponentSource::Python(_) => self.builder.python().ensure()?.wasm,
                ComponentSource::JavaScript(_) => {
                    molecule_runtime::javascript::engine::ensure(&self.builder)?.wasm
                }
                ComponentSource::Instructions => anyhow::bail!(
                    "{} is an instructions-only skill (SKILL.md, no app.py, scripts/*.py, \
                     app.js, tool.wasm or Cargo.toml): it has no tools to build or call",
                    path.display()
                ),
            }
        } else if path.join("Cargo.toml").is_file() {
            self.builder.build(path)?.wasm
        } else {
            anyhow::bail!(
                "{} is not a skill folder (no SKILL.md), a crate (no Cargo.toml) or a .wasm file",
                path.display()
            );
        };
        std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))
    }
}

impl Context {
    /// Loads the skill at `path` (a skill folder, crate or `.wasm` file) with `grants` and
    /// asks it for its tools. A Python skill runs on the shared interpreter with its folder
    /// at `/skill` and its bytecode cache at `/pycache` besides `grants`; an
    /// instructions-only skill loads with no tools.
    pub async fn load_skill(
        &self,
        path: &Path,
        grants: Arc<Grants>,
    ) -> anyhow::Result<Option<SkillComponent>> {
        if path.join("SKILL.md").is_file() {
            match SkillDir::load(path)?.source {
                ComponentSource::Python(dir) => {
                    let python = self.builder.python();
                    let skill =
                        molecule_runtime::python::load_skill(&self.host, python, &dir, &grants)
                            .await?;
                    return Ok(Some(skill));
                }
                ComponentSource::JavaScript(dir) => {
                    let skill = molecule_runtime::javascript::load_skill(
                        &self.host,
                        &self.builder,
                        &dir,
                        &grants,
                    )
                    .await?;
                    return Ok(Some(skill));
                }
                ComponentSource::Instructions => return Ok(None),
                _ => {}
            }
        }
        let wasm = self.component_bytes(path)?;
        Ok(Some(self.host.load_skill(&wasm, grants).await?))
    }
}

/// `$XDG_CACHE_HOME/molecule-runtime`, else `~/.cache/molecule-runtime`.
fn default_cache_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("molecule-runtime"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .context("cannot pick a cache folder: set MOLECULE_CACHE_DIR or HOME")?;
    Ok(PathBuf::from(home).join(".cache").join("molecule-runtime"))
}

/// A label for a component path in messages: `skill json-query`, or the path itself.
pub fn label_for(path: &Path) -> String {
    if path.join("SKILL.md").is_file() {
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            return format!("skill {name}");
        }
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::quiet_libraries;

    #[test]
    fn rmcp_request_lines_stay_out_of_an_info_log_only() {
        assert_eq!(quiet_libraries("info".into()), "info,rmcp=warn");
        assert_eq!(quiet_libraries("debug".into()), "debug");
        assert_eq!(quiet_libraries("rmcp=info,warn".into()), "rmcp=info,warn");
    }
}
