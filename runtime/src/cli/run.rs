//! `molecule-runtime run` (also the default with no subcommand): boots the workspace in the
//! contract's order and serves A2A until SIGTERM or Ctrl-C, then shuts down gracefully
//! (running tasks get `a2a.shutdown_grace` to finish; a second signal cuts that short) and
//! exits 0.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use molecule_config::Env;
use molecule_llm::{Credentials, Gateway};
use molecule_runtime::plan::{Overrides, Plan};
use molecule_runtime::workspace::boot::{boot, BootDeps};

use super::Context;

/// Arguments of `run`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// The folder holding config.yaml (overrides WORKSPACE_CONFIG_PATH).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// The A2A port (overrides a2a.port; 0 picks a free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// The address to listen on (default 0.0.0.0).
    #[arg(long)]
    pub bind: Option<IpAddr>,
}

/// The model gateway for the plan, or why there is none.
pub fn gateway_for(plan: &Plan) -> Result<Arc<Gateway>, String> {
    plan.gateway(Credentials::from_env())
}

/// Runs `run`.
pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let overrides = Overrides {
        config_dir: args.config_dir,
        port: args.port,
        bind: args.bind,
    };
    let plan = Plan::new(env, &overrides);
    eprintln!("{}", plan.preflight.render());
    if plan.preflight.has_failures() {
        eprintln!("preflight failed: fix the FAIL lines above");
        return Ok(ExitCode::FAILURE);
    }
    if plan.env.platform_url.is_none() {
        tracing::warn!("standalone mode: PLATFORM_URL is not set, so this workspace does not register, heartbeat or report activity");
        eprintln!("standalone mode: PLATFORM_URL is not set (no registration, no heartbeats)");
    }
    let listener = tokio::net::TcpListener::bind(plan.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", plan.bind))?;
    let deps = BootDeps {
        host: ctx.host.clone(),
        builder: ctx.builder.clone(),
        gateway: gateway_for(&plan),
        in_memory_tasks: false,
    };
    let name = plan.config.name.clone();
    // The secret itself is never printed: the hint names where it comes from.
    let auth = match (
        plan.env.get("MOLECULE_INBOUND_SECRET").is_some(),
        plan.config.a2a.inbound_secret.is_some(),
    ) {
        (true, _) => " -H \"Authorization: Bearer $MOLECULE_INBOUND_SECRET\"",
        (false, true) => " -H 'Authorization: Bearer <a2a.inbound_secret>'",
        _ => "",
    };
    // Installed before boot, so a SIGTERM at any moment from here on is a graceful stop.
    let signals = StopSignals::install();
    let workspace = boot(plan, deps, listener).await?;
    let port = workspace.addr.port();
    match &workspace.not_configured {
        None => eprintln!(
            "workspace `{name}` serving A2A on port {port}. Try:\n  curl -s localhost:{port}/.well-known/agent-card.json\n  curl -s localhost:{port}/{auth} -H 'Content-Type: application/json' -H 'A2A-Version: 1.0' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"SendMessage\",\"params\":{{\"message\":{{\"messageId\":\"m1\",\"role\":\"ROLE_USER\",\"parts\":[{{\"text\":\"hello\"}}]}}}}}}'"
        ),
        Some(reason) => eprintln!(
            "workspace `{name}` is NOT configured ({reason}); serving its card on port {port}"
        ),
    }
    let grace = workspace.shutdown_grace();
    let again = signals.clone();
    workspace
        .run_until(
            async {
                signals.next().await;
                eprintln!(
                    "shutting down: running tasks get up to {grace:?} to finish (signal again to stop sooner)"
                );
            },
            || async move { again.next().await },
        )
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM and Ctrl-C (SIGINT), each delivery one stop request — so a container stop shuts
/// down cleanly (and queued OTLP spans are flushed), and a second signal hurries it.
#[derive(Clone)]
struct StopSignals(std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<()>>>);

impl StopSignals {
    /// Starts listening now (the handlers are installed before this returns, on Unix).
    fn install() -> StopSignals {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
                match signal(kind) {
                    Ok(mut listener) => {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            while listener.recv().await.is_some() && tx.send(()).is_ok() {}
                        });
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot listen for a stop signal"),
                }
            }
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() && tx.send(()).is_ok() {}
        });
        StopSignals(std::sync::Arc::new(tokio::sync::Mutex::new(rx)))
    }

    /// The next stop request (never, when no signal could be listened for).
    async fn next(&self) {
        if self.0.lock().await.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
