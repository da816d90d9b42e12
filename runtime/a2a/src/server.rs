//! The server builder: [`A2aServer`] holds the card, the executor (or the "not configured"
//! reason), the task store and the inbound bearer secret, and builds the axum [`Router`] with
//! the agent card, the JSON-RPC binding on `POST /` and the HTTP+JSON binding.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::card::{CardHandle, AGENT_CARD_PATH, AGENT_CARD_V1_PATH};
use crate::error::A2aError;
use crate::executor::AgentExecutor;
use crate::http::{check_auth, transport_error, Binding};
use crate::listen::ServeOptions;
use crate::manager::Shared;
use crate::state::{AppState, Mode};
use crate::store::TaskStore;

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// An A2A server. Build it with [`A2aServer::new`] (agent ready) or
/// [`A2aServer::not_configured`] (setup failed: the card answers, A2A calls get 503), then get
/// its [`Router`] or [`serve`](A2aServer::serve) it.
#[derive(Clone)]
pub struct A2aServer {
    state: Arc<AppState>,
}

impl A2aServer {
    /// A server running `executor`, keeping tasks in `store`. Call it inside a tokio runtime.
    pub fn new(card: CardHandle, executor: Arc<dyn AgentExecutor>, store: TaskStore) -> Self {
        Self::with_mode(card, Mode::Ready(Shared::new(executor, store)))
    }

    /// A server whose agent failed setup: the agent card still answers; A2A calls are checked
    /// exactly as on a ready server (auth, envelope, version, method, parameters) and then,
    /// instead of running, answer HTTP 503 with -32603 (REST: `UNAVAILABLE`) and the ErrorInfo
    /// reason `AGENT_NOT_CONFIGURED`, whose `metadata.detail` is `reason` made client-safe
    /// (`error::client_detail`): absolute paths cut to their file name, control characters
    /// escaped, at most 512 characters. `reason` must already be redacted of secrets; the full text stays available
    /// to operators through [`not_configured_reason`](Self::not_configured_reason).
    pub fn not_configured(card: CardHandle, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let detail = crate::error::client_detail(&reason);
        Self::with_mode(card, Mode::NotConfigured { reason, detail })
    }

    /// The full setup-failure reason (for logs and operator surfaces, never for clients), or
    /// `None` when the agent is ready.
    pub fn not_configured_reason(&self) -> Option<&str> {
        match &self.state.mode {
            Mode::Ready(_) => None,
            Mode::NotConfigured { reason, .. } => Some(reason),
        }
    }

    fn with_mode(card: CardHandle, mode: Mode) -> Self {
        A2aServer {
            state: Arc::new(AppState::new(card, mode, DEFAULT_BODY_LIMIT)),
        }
    }

    /// Sets the request body limit in bytes (default 1 MiB). Call before [`router`](Self::router).
    pub fn with_body_limit(self, bytes: usize) -> Self {
        self.state.set_body_limit(bytes);
        self
    }

    /// Sets the connection cap and the header, body and idle timeouts
    /// [`serve`](Self::serve) applies (default [`ServeOptions::default`]); a caller serving
    /// [`router`](Self::router) itself reads them back with
    /// [`serve_options`](Self::serve_options) and passes them to [`crate::listen::serve`].
    pub fn with_serve_options(self, options: ServeOptions) -> Self {
        self.state.set_serve_options(options);
        self
    }

    /// The connection cap and timeouts set with [`with_serve_options`](Self::with_serve_options).
    pub fn serve_options(&self) -> ServeOptions {
        self.state.serve_options()
    }

    /// The task store's counters (tasks by state, writes, commits, failed writes), `None`
    /// when the agent is not configured. O(1): never waits for the store.
    pub fn store_metrics(&self) -> Option<crate::store::StoreMetrics> {
        match &self.state.mode {
            Mode::Ready(s) => Some(s.store.metrics()),
            Mode::NotConfigured { .. } => None,
        }
    }

    /// Requires `Authorization: Bearer <secret>` on every A2A call (the card stays public).
    pub fn with_bearer_secret(self, secret: Option<String>) -> Self {
        self.set_bearer_secret(secret);
        self
    }

    /// Checks a request's `Authorization: Bearer <token>` against the inbound secret in force
    /// (none set: every request passes), as every A2A route does, for routes served beside
    /// them on the same port (e.g. the runtime's `/transcript`). `Err` is the reason to
    /// answer with HTTP 401 (RFC 6750 §3: missing header, or a token that does not match).
    pub fn check_bearer(&self, headers: &axum::http::HeaderMap) -> Result<(), String> {
        crate::http::check_auth(self.state.secret().as_deref(), headers).map_err(|e| match e {
            crate::error::A2aError::Unauthorized(reason) => reason,
            other => other.to_string(),
        })
    }

    /// Replaces the inbound bearer secret at run time (`None` = no auth). The card declares
    /// the HTTP bearer scheme exactly while a secret is set.
    pub fn set_bearer_secret(&self, secret: Option<String>) {
        let secret = secret.filter(|s| !s.is_empty());
        let bearer = secret.is_some();
        self.state.set_secret(secret);
        self.state.card.update_extras(|e| e.bearer = bearer);
    }

    /// Turns push notifications on (`Some`, A2A 1.0 push-config operations and delivery of
    /// every task update to each task's webhooks through `options`' egress policy) or off
    /// (`None`: the operations answer -32003); the card's `capabilities.pushNotifications`
    /// follows. Stored configs are read back and delivered to again. A server that is not
    /// configured never delivers. Call once, inside a tokio runtime; a second call changes
    /// nothing.
    pub fn with_push(self, options: Option<crate::push::PushOptions>) -> Self {
        if let (Mode::Ready(shared), Some(options)) = (&self.state.mode, options) {
            if shared.push.get().is_none() {
                let service = crate::push::PushService::start(shared.store.clone(), options);
                let _ = shared.push.set(service);
                self.state.card.update_extras(|e| e.push = true);
            }
        }
        self
    }

    /// Push delivery counters (`None` when push is off).
    pub fn push_metrics(&self) -> Option<crate::push::PushMetrics> {
        match &self.state.mode {
            Mode::Ready(s) => s.push.get().map(|p| p.metrics()),
            Mode::NotConfigured { .. } => None,
        }
    }

    /// Serves `GetExtendedAgentCard` (JSON-RPC, `GET /extendedAgentCard`) with the public card
    /// plus `extended` (`None`: -32007 `ExtendedAgentCardNotConfigured`); the card's
    /// `capabilities.extendedAgentCard` follows. Callers need the inbound bearer when one is
    /// set, as for every A2A call.
    pub fn with_extended_card(self, extended: Option<crate::card_extras::ExtendedCard>) -> Self {
        self.state.card.update_extras(|e| e.extended = extended);
        self
    }

    /// The shared state every binding serves (the gRPC binding lives in `grpc/`).
    pub(crate) fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The card handle (swap the card with [`CardHandle::set`]).
    pub fn card(&self) -> &CardHandle {
        &self.state.card
    }

    /// Number of tasks whose executor is running now.
    pub fn active_tasks(&self) -> usize {
        match &self.state.mode {
            Mode::Ready(s) => s.active_tasks(),
            Mode::NotConfigured { .. } => 0,
        }
    }

    /// Graceful shutdown, once the grace period is over: ends every task still running as
    /// FAILED with `reason` (its streams get that final event, blocking callers the failed
    /// task) and stops its executor. Returns how many tasks were failed.
    pub fn fail_running(&self, reason: &str) -> usize {
        match &self.state.mode {
            Mode::Ready(s) => crate::manager::fail_running(s, reason),
            Mode::NotConfigured { .. } => 0,
        }
    }

    /// Marks tasks left running by a previous process as FAILED (their executors are gone),
    /// each pushed to its webhooks when push is on. Returns how many were marked.
    pub async fn fail_unfinished_tasks(&self) -> Result<usize, crate::store::StoreError> {
        match &self.state.mode {
            Mode::Ready(s) => {
                let failed = s
                    .store
                    .fail_unfinished("interrupted: the agent restarted")
                    .await?;
                if let Some(p) = s.push.get() {
                    failed.iter().for_each(|t| p.notify_final(t));
                }
                Ok(failed.len())
            }
            Mode::NotConfigured { .. } => Ok(0),
        }
    }

    /// The axum router: the card, `POST /` (JSON-RPC) and the REST paths.
    pub fn router(&self) -> Router {
        Router::new()
            .route(AGENT_CARD_PATH, get(card_handler))
            .route(AGENT_CARD_V1_PATH, get(card_v1_handler))
            .fallback(dispatch)
            .with_state(self.state.clone())
    }

    /// `router` behind the same inbound bearer check as the A2A routes, with the server's
    /// current secret (also after [`set_bearer_secret`](Self::set_bearer_secret); `None` lets
    /// every request through). A request without `Authorization: Bearer <secret>` (scheme
    /// case-insensitive, RFC 9110 §11.1; compared in constant time) is answered HTTP 401 with
    /// `WWW-Authenticate: Bearer` (RFC 6750 §3) and a JSON-RPC error body (`{"jsonrpc": "2.0",
    /// "id": null, "error": {"code": -32000, "message": "Unauthorized: <why>"}}`) before
    /// `router` sees it. For other protocols served on the A2A port (the runtime's `/mcp`).
    pub fn guard(&self, router: Router) -> Router {
        let state = self.state.clone();
        router.layer(axum::middleware::from_fn(
            move |req: Request, next: axum::middleware::Next| {
                let checked = check_auth(state.secret().as_deref(), req.headers());
                async move {
                    match checked {
                        Ok(()) => next.run(req).await,
                        Err(err) => crate::http::unauthorized(&err),
                    }
                }
            },
        ))
    }

    /// Ends every open SSE stream (the tasks keep running and stay readable with GetTask).
    pub fn close_streams(&self) {
        if let Mode::Ready(s) = &self.state.mode {
            s.close_streams();
        }
    }

    /// Serves the router on `listener` with the [`serve_options`](Self::serve_options)
    /// (connection cap, header/body/idle timeouts) until `shutdown` resolves, then closes
    /// open streams and waits for in-flight requests.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let me = self.clone();
        crate::listen::serve(listener, self.router(), self.serve_options(), async move {
            shutdown.await;
            me.close_streams();
        })
        .await
    }
}

async fn card_handler(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let v1 = crate::card::wants_v1(&headers, uri.query());
    state.card.respond(&headers, v1)
}

async fn card_v1_handler(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    state.card.respond(&headers, true)
}

async fn dispatch(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let binding = if req.uri().path() == "/" {
        Binding::JsonRpc
    } else {
        Binding::Rest
    };
    if binding == Binding::JsonRpc && req.method() != Method::POST {
        return transport_error(
            binding,
            &A2aError::MethodNotFound(format!("{} / (use POST)", req.method())),
        );
    }
    let auth = check_auth(state.secret().as_deref(), req.headers());
    if let Err(e) = auth {
        return transport_error(binding, &e);
    }
    // One path for both modes: a server that is not configured validates the request exactly
    // as a ready one does, and refuses only where the agent would be needed
    // ([`agent`](crate::state::agent)).
    match binding {
        Binding::JsonRpc => crate::jsonrpc::handle(&state, req).await,
        Binding::Rest => crate::rest::handle(&state, req).await,
    }
}
