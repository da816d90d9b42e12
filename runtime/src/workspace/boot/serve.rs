//! Boot stages 5, 8 and 9, the A2A server: with the adapter executor and its built-in tools
//! when the adapter is ready (and the adapter watched for hot reload), the card only ("not
//! configured") when it is not; guarded by the inbound bearer secret; tasks a previous run
//! left unfinished marked failed; then the serve loop, with `GET /metrics`, `GET /healthz` and
//! `GET /readyz` on the same port.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use molecule_a2a::A2aServer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::open::Opened;
use super::skills_and_card::Skills;
use crate::cli_agent::CliExecutor;
use crate::component::AdapterComponent;
use crate::limits::SandboxLimits;
use crate::plan::Plan;
use crate::python::run::CodeRunner;
use crate::sandbox::Sandbox;
use crate::workspace::adapter::AdapterReloader;
use crate::workspace::approval::Gate;
use crate::workspace::deps::BootDeps;
use crate::workspace::executor::AdapterExecutor;
use crate::workspace::health_route::{health_router, Readiness};
use crate::workspace::metrics_route::metrics_router;
use crate::workspace::reload::FolderWatcher;
use crate::workspace::task_tools::{Builtins, RUN_CODE};
use crate::workspace::transcript_route::transcript_router;

/// The env var holding the inbound bearer secret (wins over config.yaml `a2a.inbound_secret`).
const INBOUND_SECRET_ENV: &str = "MOLECULE_INBOUND_SECRET";

/// The A2A server, before it serves.
pub(super) struct Server {
    /// The server (routes, executor or not-configured answer, bearer secret).
    pub(super) a2a: A2aServer,
    /// Why the workspace is not configured, if it is not (redacted).
    pub(super) not_configured: Option<String>,
    /// The inbound secret comes from config (the platform's does not replace it).
    pub(super) keeps_configured_secret: bool,
    /// `/mcp` behind the inbound bearer check, when config.yaml `mcp.enabled` is true.
    pub(super) mcp: Option<axum::Router>,
    /// The upload store of the executor, wasm or CLI (swept by `uploads::Sweeper`).
    pub(super) uploads: Option<crate::uploads::Uploads>,
}

/// The ready adapter: a wasm component, or the granted native program of `runtime: cli`.
pub(super) enum Ready {
    /// A wasm adapter component.
    Wasm(AdapterComponent),
    /// `runtime: cli`.
    Cli(CliExecutor),
}

/// The A2A server for `adapter` (ready, or why not), guarded by the inbound secret. A ready
/// adapter's source is watched for hot reload; that watcher joins `watchers`.
pub(super) fn a2a_server(
    plan: &Arc<Plan>,
    deps: &BootDeps,
    opened: &Opened,
    skills: &Skills,
    adapter: Result<Ready, String>,
    watchers: &mut Vec<FolderWatcher>,
) -> anyhow::Result<Server> {
    let card = skills.card.handle.clone();
    if let Some(c) = &plan.config.a2a.card_signing {
        let signer = molecule_a2a::card_signing::CardSigner::from_pem_file(
            std::path::Path::new(&c.key_file),
            &c.kid,
        )
        .map_err(|e| anyhow::anyhow!("a2a.card_signing: {e}"))?;
        card.set_signer(Some(signer));
    }
    let (server, not_configured, uploads) = match adapter {
        Ok(Ready::Cli(executor)) => {
            let store = uploads(plan);
            let executor = executor
                .with_history(opened.store.clone())
                .with_uploads(store.clone());
            (
                A2aServer::new(card, Arc::new(executor), opened.store.clone()),
                None,
                Some(store),
            )
        }
        Ok(Ready::Wasm(adapter)) => {
            let slot = Arc::new(ArcSwap::from_pointee(adapter));
            let reloader = AdapterReloader {
                plan: plan.clone(),
                deps: deps.clone(),
                memory: opened.memory.clone(),
                slot: slot.clone(),
                config: skills.adapter_config.clone(),
            };
            if let Some(watcher) = reloader.watch()? {
                watchers.push(watcher);
            }
            let store = uploads(plan);
            let executor = AdapterExecutor::new(
                Sandbox::new(deps.host.engine().clone()),
                slot,
                skills.adapter_config.clone(),
                skills.registry.clone(),
                Builtins {
                    memory: Some(opened.memory.clone()),
                    peers: opened.peers.clone(),
                    activity: opened.activity.clone(),
                    coordinator: opened.coordinator.clone(),
                    heartbeat: opened.poker.clone(),
                    code: code_runner(plan, deps),
                    scratch_root: Some(scratch_root(plan)),
                    approval: Gate::new(plan.config.approval.tools.clone()),
                },
                opened.store.clone(),
                deps.gateway.clone(),
            )
            .with_uploads(store.clone());
            (
                A2aServer::new(card, Arc::new(executor), opened.store.clone()),
                None,
                Some(store),
            )
        }
        Err(reason) => {
            let reason = crate::redact::redact(&reason);
            tracing::error!(%reason, "workspace is NOT configured; serving the card only");
            (
                A2aServer::not_configured(card, reason.clone()),
                Some(reason),
                None,
            )
        }
    };
    let configured_secret = inbound_secret(plan);
    let keeps_configured_secret = configured_secret.is_some();
    let a2a = server
        .with_bearer_secret(configured_secret)
        .with_serve_options(serve_options(&plan.config.a2a))
        .with_body_limit(body_limit(&plan.config.uploads))
        .with_push(push_options(&plan.config.a2a))
        .with_extended_card(extended_card(&plan.config.a2a));
    let mcp = plan.config.mcp.enabled.then(|| {
        tracing::info!(
            path = crate::mcp::http::MCP_PATH,
            "serving the skill tools over MCP"
        );
        let route = crate::mcp::http::router(
            skills.registry.clone(),
            &plan.config.mcp.allowed_hosts,
            Gate::new(plan.config.approval.tools.clone()),
        );
        a2a.guard(route)
    });
    Ok(Server {
        a2a,
        not_configured,
        keeps_configured_secret,
        mcp,
        uploads,
    })
}

/// Marks the tasks a previous run left unfinished as failed (logged when it cannot).
pub(super) async fn fail_leftover_tasks(server: &Server) {
    if let Err(err) = server.a2a.fail_unfinished_tasks().await {
        tracing::warn!(error = %err, "could not mark tasks left by a previous run as failed");
    }
}

/// Starts serving on `listener`, `/readyz` reporting `readiness`; the sender stops it.
pub(super) fn start_serving(
    server: A2aServer,
    mcp: Option<axum::Router>,
    readiness: Readiness,
    listener: TcpListener,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(server, mcp, readiness, listener, async move {
        let _ = rx.await;
    }));
    (tx, task)
}

/// Serves the A2A router merged with [`metrics_router`], [`health_router`] and `/mcp` (when
/// enabled) on `listener` until `shutdown`
/// resolves, then accepts no more connections and waits for in-flight requests — open SSE
/// streams included, which end with their task's final event (`shutdown.rs` fails the tasks
/// still running after the grace period).
async fn serve(
    server: A2aServer,
    mcp: Option<axum::Router>,
    readiness: Readiness,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut app = server
        .router()
        .merge(transcript_router(server.clone(), readiness.store.clone()))
        .merge(metrics_router(readiness.store.clone()))
        .merge(health_router(readiness));
    if let Some(mcp) = mcp {
        app = app.merge(mcp);
    }
    molecule_a2a::listen::serve(listener, app, server.serve_options(), shutdown).await
}

/// The upload store, `<data dir>/uploads`, under config.yaml `uploads` limits and retention.
fn uploads(plan: &Plan) -> crate::uploads::Uploads {
    let limits = crate::uploads::UploadLimits::from(&plan.config.uploads);
    crate::uploads::Uploads::new(plan.data_dir.join("uploads"), limits)
}

/// The A2A request body limit: the server's default, or more when one file of
/// `uploads.max_file_bytes` (base64 in JSON: 4/3 of its size) and 256 KiB of the rest of
/// the request need it.
fn body_limit(uploads: &molecule_config::UploadsConfig) -> usize {
    let file = usize::try_from(uploads.max_file_bytes.div_ceil(3) * 4).unwrap_or(usize::MAX);
    molecule_a2a::DEFAULT_BODY_LIMIT.max(file.saturating_add(256 << 10))
}

/// The connection cap and the header, body and idle timeouts from config.yaml `a2a:`; each
/// key that is not set keeps the server's default.
fn serve_options(a2a: &molecule_config::A2aConfig) -> molecule_a2a::ServeOptions {
    let d = molecule_a2a::ServeOptions::default();
    molecule_a2a::ServeOptions {
        header_timeout: a2a.header_timeout.unwrap_or(d.header_timeout),
        body_timeout: a2a.body_timeout.unwrap_or(d.body_timeout),
        idle_timeout: a2a.idle_timeout.unwrap_or(d.idle_timeout),
        max_connections: a2a
            .max_connections
            .map_or(d.max_connections, |n| n as usize),
        max_connections_per_client: a2a
            .max_connections_per_client
            .map_or(d.max_connections_per_client, |n| n as usize),
    }
}

/// The inbound bearer secret: `$MOLECULE_INBOUND_SECRET`, else config.yaml
/// `a2a.inbound_secret` as the config read it (an unusable value there is a preflight FAIL,
/// so a workspace never boots with it silently dropped); `None` (no auth) when neither is set.
fn inbound_secret(plan: &Plan) -> Option<String> {
    if let Some(secret) = plan.env.get(INBOUND_SECRET_ENV).filter(|s| !s.is_empty()) {
        return Some(secret.to_owned());
    }
    plan.config.a2a.inbound_secret.clone()
}

/// `run_code` for adapters when config.yaml's `tools:` lists it: Python snippets on the shared
/// interpreter under the `sandbox` limits, with no capability beyond `log`.
fn code_runner(plan: &Plan, deps: &BootDeps) -> Option<CodeRunner> {
    let tools = &plan.config.tools;
    if !tools.iter().any(|t| t == RUN_CODE) {
        return None;
    }
    Some(CodeRunner::new(
        deps.host.clone(),
        deps.builder.python().clone(),
        SandboxLimits::configured(&plan.config.sandbox),
    ))
}

/// `<data dir>/scratch`, where each task's `/scratch` folder is made; emptied at boot (what a
/// killed process left behind).
fn scratch_root(plan: &Plan) -> PathBuf {
    let root = plan.data_dir.join("scratch");
    let _ = std::fs::remove_dir_all(&root);
    if let Err(err) = std::fs::create_dir_all(&root) {
        tracing::warn!(dir = %root.display(), error = %err, "cannot create the scratch folder");
    }
    root
}

/// Push delivery from `a2a.push_notifications` and `a2a.push.allow_hosts` (`None`: off).
fn push_options(a2a: &molecule_config::A2aConfig) -> Option<molecule_a2a::PushOptions> {
    a2a.push_notifications.then(|| molecule_a2a::PushOptions {
        allow_hosts: a2a.push_allow_hosts.clone(),
        ..molecule_a2a::PushOptions::default()
    })
}

/// The extended agent card from `a2a.extended_card` (`None`: not configured).
fn extended_card(a2a: &molecule_config::A2aConfig) -> Option<molecule_a2a::ExtendedCard> {
    let c = a2a.extended_card.as_ref()?;
    Some(molecule_a2a::ExtendedCard {
        description: c.description.clone(),
        skills: c
            .skills
            .iter()
            .map(|s| molecule_a2a::types::AgentSkill {
                id: s.id.clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                tags: s.tags.clone(),
                examples: None,
                input_modes: None,
                output_modes: None,
                security_requirements: None,
            })
            .collect(),
    })
}

/// The gRPC binding, when `a2a.grpc_port` is set: its listener on the A2A port's address
/// with that port (`0`: a free one), listed on the card at `<card URL host>:<port>`.
/// Errors when the port cannot be bound (the operator asked for it: boot fails, naming it).
pub(super) async fn grpc_listener(
    plan: &Plan,
    server: &Server,
    addr: std::net::SocketAddr,
    card_url: &str,
) -> anyhow::Result<Option<TcpListener>> {
    let Some(port) = plan.config.a2a.grpc_port else {
        return Ok(None);
    };
    let listener = TcpListener::bind((addr.ip(), port)).await.map_err(|e| {
        anyhow::anyhow!("a2a.grpc_port: cannot listen on {}:{port}: {e}", addr.ip())
    })?;
    let bound = listener.local_addr()?.port();
    let target = format!("{}:{bound}", url_host(card_url));
    tracing::info!(%target, "serving the A2A gRPC binding");
    let _ = server.a2a.clone().with_grpc_interface(Some(target));
    Ok(Some(listener))
}

/// Starts the gRPC binding on `listener`; the sender stops it (open streams end, in-flight
/// calls finish).
pub(super) fn start_grpc(
    server: A2aServer,
    listener: TcpListener,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve_grpc(listener, async move {
                let _ = rx.await;
            })
            .await
    });
    (tx, task)
}

/// The host of `url` (`scheme://[user@]host[:port]/…`), brackets of an IPv6 literal kept;
/// `127.0.0.1` when there is none.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split_once(']')
            .map_or(host_port.to_string(), |(h, _)| format!("{h}]"))
    } else {
        host_port.split(':').next().unwrap_or("").to_string()
    };
    if host.is_empty() {
        "127.0.0.1".into()
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn url_host_takes_the_host_of_the_card_url() {
        assert_eq!(url_host("http://127.0.0.1:8000"), "127.0.0.1");
        assert_eq!(
            url_host("https://user@ws.example.com:443/a2a"),
            "ws.example.com"
        );
        assert_eq!(url_host("http://[::1]:8000/"), "[::1]");
        assert_eq!(url_host(""), "127.0.0.1");
    }
}
