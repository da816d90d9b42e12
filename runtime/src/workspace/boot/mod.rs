//! Boot: turns a [`Plan`] into a running workspace, one named stage after another, in the
//! contract's order — stores and the platform client, the Agent Card from the skill folders,
//! the skills, then the adapter (whose setup failure leaves the workspace serving but "not
//! configured"), the A2A server, the platform join (in the background: boot never waits on the
//! platform) and the watchers. Each stage is a function in this folder's files; the graceful
//! shutdown is `shutdown.rs`.

mod join;
mod open;
mod serve;
mod shutdown;
mod skills_and_card;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use molecule_a2a::{A2aServer, CardHandle, TaskStore};
use molecule_platform::ActivityReporter;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::plan::Plan;
use crate::scheduler::AdmissionConfig;
use crate::workspace::adapter::ready_adapter;
use crate::workspace::health_route::Readiness;
use crate::workspace::platform::PlatformLink;
use crate::workspace::policy::LateValues;
use crate::workspace::reload::{watch_skills, FolderWatcher, DEBOUNCE};
use crate::workspace::skills::SkillRegistry;
use join::{join_platform, outbound_relay};
use open::open_stores_and_platform;
use serve::{a2a_server, fail_leftover_tasks, grpc_listener, start_grpc, start_serving, Ready};
use skills_and_card::{card_from_folders, check_gated_tools, load_skills};
use watch::follow_changes;

pub use crate::workspace::deps::BootDeps;
pub use shutdown::SHUTDOWN_REASON;

/// A workspace serving A2A.
pub struct RunningWorkspace {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// The skills.
    pub skills: Arc<SkillRegistry>,
    /// Why the workspace is not configured, if it is not.
    pub not_configured: Option<String>,
    /// The card handle (updated when skills change).
    pub card: CardHandle,
    /// The address the gRPC binding listens on (`a2a.grpc_port`; `None`: not served).
    pub grpc_addr: Option<SocketAddr>,
    /// Where each skill package came from (reference, digest, signature status), in
    /// config.yaml `skills:` order.
    pub packages: Vec<molecule_packages::SkillOrigin>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    grpc: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    a2a: A2aServer,
    grace: Duration,
    activity: Option<ActivityReporter>,
    store: TaskStore,
    _watchers: Vec<FolderWatcher>,
    _card_task: JoinHandle<()>,
    _platform: Option<PlatformLink>,
    outbound: Option<crate::outbound::OutboundRelay>,
    _uploads_sweeper: Option<crate::uploads::Sweeper>,
}

/// Boots the workspace described by `plan`, serving on `listener`.
pub async fn boot(
    plan: Plan,
    deps: BootDeps,
    listener: TcpListener,
) -> anyhow::Result<RunningWorkspace> {
    let mut plan = plan;
    plan.packages = crate::workspace::packages::pull_packages(&plan).await?;
    let plan = Arc::new(plan);
    let addr = listener.local_addr()?;
    configure_admission(&plan, &deps);
    let opened = open_stores_and_platform(&plan, &deps).await?;
    if let Some(activity) = &opened.activity {
        crate::metrics::global().set_activity(activity.counters());
    }
    let card = card_from_folders(&plan, &deps, addr);
    let secrets = LateValues::default();
    let skills = load_skills(&plan, &deps, &opened, card, &secrets).await;
    check_gated_tools(&plan, &skills)?;
    let adapter = match &plan.config.cli {
        Some(cli) => cli_executor(&plan, cli),
        None => ready_adapter(&plan, &deps, &opened.memory, &skills.adapter_config)
            .await
            .map(Ready::Wasm),
    };
    let mut watchers = vec![watch_skills(skills.registry.clone(), DEBOUNCE)?];
    let server = a2a_server(&plan, &deps, &opened, &skills, adapter, &mut watchers)?;
    let grpc = grpc_listener(&plan, &server, addr, &skills.card.info.url).await?;
    let grpc_addr = grpc.as_ref().map(TcpListener::local_addr).transpose()?;
    let link = join_platform(&plan, &opened, &skills, &server, secrets)?;
    let outbound = outbound_relay(&plan, &opened, &server)?;
    fail_leftover_tasks(&server).await;
    // After the leftover tasks failed: they no longer hold their contexts' uploads.
    let uploads_sweeper = (server.uploads.as_ref()).map(|u| u.spawn_sweeper(opened.store.clone()));
    let (prompt_watcher, card_task) = follow_changes(&plan, &skills, link.as_ref(), &server)?;
    watchers.push(prompt_watcher);
    let a2a = server.a2a.clone();
    let grpc = grpc.map(|l| start_grpc(server.a2a.clone(), l));
    let readiness = Readiness::new(
        server.not_configured.clone(),
        opened.store.clone(),
        opened.platform.clone(),
    );
    let (shutdown, server_task) = start_serving(server.a2a, server.mcp, readiness, listener);
    Ok(RunningWorkspace {
        addr,
        skills: skills.registry,
        not_configured: server.not_configured,
        card: skills.card.handle,
        grpc_addr,
        packages: plan.packages.iter().map(|p| p.origin.clone()).collect(),
        shutdown: Some(shutdown),
        server: server_task,
        grpc,
        a2a,
        grace: plan.config.a2a.shutdown_grace,
        activity: opened.activity,
        store: opened.store,
        _watchers: watchers,
        _card_task: card_task,
        _platform: link,
        outbound,
        _uploads_sweeper: uploads_sweeper,
    })
}

/// The executor of `runtime: cli`: the granted program, resolved (or why the workspace is
/// not configured, naming `runtime_config.command`).
fn cli_executor(plan: &Plan, cli: &molecule_config::CliConfig) -> Result<Ready, String> {
    let spec = crate::cli_agent::CliSpec::new(cli, &plan.config, &plan.env)?;
    tracing::warn!(
        program = %spec.program.display(),
        "runtime: cli — tasks run this NATIVE program (granted in runtime_config), outside the wasm sandbox"
    );
    Ok(Ready::Cli(crate::cli_agent::CliExecutor::new(spec)))
}

impl RunningWorkspace {
    /// The outbound relay's counters (connections, relayed and refused requests), when the
    /// relay is on.
    pub fn outbound(&self) -> Option<&crate::outbound::RelayStats> {
        self.outbound.as_ref().map(|r| r.stats())
    }
}

/// Applies `sandbox.admission.*` to the engine every call of this workspace runs on.
fn configure_admission(plan: &Plan, deps: &BootDeps) {
    let admission = deps.host.engine().admission();
    let config = AdmissionConfig::configured(&plan.config.sandbox);
    admission.configure(config);
    if admission.slots() < config.max_concurrent_calls {
        tracing::warn!(
            max_concurrent_calls = config.max_concurrent_calls,
            slots = admission.slots(),
            pool = deps.host.engine().options().max_concurrent,
            "sandbox.admission.max_concurrent_calls is more than the engine's instance pool \
             holds: fewer calls run at once and the rest wait"
        );
    }
}
