//! The server builder: [`A2aServer`] holds the card, the executor (or the "not configured"
//! reason), the task store and the inbound bearer secret, and builds the axum [`Router`] with
//! the agent card, the JSON-RPC binding on `POST /` and the HTTP+JSON binding.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::card::{CardHandle, AGENT_CARD_PATH};
use crate::error::A2aError;
use crate::executor::AgentExecutor;
use crate::manager::Shared;
use crate::store::TaskStore;

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Whether the agent can take work.
pub(crate) enum Mode {
    Ready(Arc<Shared>),
    /// Setup failed: `reason` is the full text (operators), `detail` what clients are told.
    NotConfigured {
        reason: String,
        detail: String,
    },
}

impl AppState {
    /// The request body limit in bytes.
    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit.load(Ordering::Relaxed)
    }
}

pub(crate) struct AppState {
    pub(crate) card: CardHandle,
    pub(crate) mode: Mode,
    body_limit: AtomicUsize,
    secret: RwLock<Option<String>>,
}

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
    /// reason `AGENT_NOT_CONFIGURED`, whose `metadata.detail` is
    /// [`client_detail`](crate::error::client_detail)`(reason)`: absolute paths cut to their
    /// file name. `reason` must already be redacted of secrets; the full text stays available
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
            state: Arc::new(AppState {
                card,
                mode,
                body_limit: AtomicUsize::new(DEFAULT_BODY_LIMIT),
                secret: RwLock::new(None),
            }),
        }
    }

    /// Sets the request body limit in bytes (default 1 MiB). Call before [`router`](Self::router).
    pub fn with_body_limit(self, bytes: usize) -> Self {
        self.state.body_limit.store(bytes, Ordering::Relaxed);
        self
    }

    /// Requires `Authorization: Bearer <secret>` on every A2A call (the card stays public).
    pub fn with_bearer_secret(self, secret: Option<String>) -> Self {
        self.set_bearer_secret(secret);
        self
    }

    /// Replaces the inbound bearer secret at run time (`None` = no auth).
    pub fn set_bearer_secret(&self, secret: Option<String>) {
        let secret = secret.filter(|s| !s.is_empty());
        *self.state.secret.write().unwrap_or_else(|e| e.into_inner()) = secret;
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

    /// Marks tasks left running by a previous process as FAILED (their executors are gone).
    /// Returns how many were marked.
    pub async fn fail_unfinished_tasks(&self) -> Result<usize, crate::store::StoreError> {
        match &self.state.mode {
            Mode::Ready(s) => {
                s.store
                    .fail_unfinished("interrupted: the agent restarted")
                    .await
            }
            Mode::NotConfigured { .. } => Ok(0),
        }
    }

    /// The axum router: the card, `POST /` (JSON-RPC) and the REST paths.
    pub fn router(&self) -> Router {
        Router::new()
            .route(AGENT_CARD_PATH, get(card_handler))
            .fallback(dispatch)
            .with_state(self.state.clone())
    }

    /// Ends every open SSE stream (the tasks keep running and stay readable with GetTask).
    pub fn close_streams(&self) {
        if let Mode::Ready(s) = &self.state.mode {
            s.close_streams();
        }
    }

    /// Serves the router on `listener` until `shutdown` resolves, then closes open streams
    /// and waits for in-flight requests.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let me = self.clone();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                me.close_streams();
            })
            .await
    }
}

async fn card_handler(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    state.card.respond(&headers)
}

/// Which binding a request uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    JsonRpc,
    Rest,
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
    if let Err(e) = check_auth(&state, req.headers()) {
        return transport_error(binding, &e);
    }
    // One path for both modes: a server that is not configured validates the request exactly
    // as a ready one does, and refuses only where the agent would be needed ([`agent`]).
    match binding {
        Binding::JsonRpc => crate::jsonrpc::handle(&state, req).await,
        Binding::Rest => crate::rest::handle(&state, req).await,
    }
}

/// The agent that runs calls, or the "not configured" error once a request has been found
/// valid.
pub(crate) fn agent(state: &AppState) -> Result<&Arc<Shared>, A2aError> {
    match &state.mode {
        Mode::Ready(shared) => Ok(shared),
        Mode::NotConfigured { detail, .. } => Err(A2aError::NotConfigured(detail.clone())),
    }
}

fn check_auth(state: &AppState, headers: &HeaderMap) -> Result<(), A2aError> {
    let guard = state.secret.read().unwrap_or_else(|e| e.into_inner());
    let Some(secret) = guard.as_deref() else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), secret.as_bytes()) => Ok(()),
        Some(_) => Err(A2aError::Unauthorized("invalid bearer token".into())),
        None => Err(A2aError::Unauthorized(
            "missing `Authorization: Bearer` header".into(),
        )),
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme name is
/// case-insensitive (RFC 9110 §11.1: `Bearer`, `bearer`, `BEARER`), followed by one or more
/// spaces; surrounding whitespace is ignored.
fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_start();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares a presented token with the secret in time that depends only on the secret's
/// length (not on where the two differ, nor on the presented length).
fn constant_time_eq(given: &[u8], secret: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != secret.len());
    for (i, s) in secret.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(0) ^ s;
    }
    std::hint::black_box(diff) == 0
}

/// A JSON response with the given status.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A response whose body is already-encoded JSON.
pub(crate) fn encoded_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An error answered before a JSON-RPC id is known (auth, content type, size): the HTTP
/// status of the error, the body in the binding's shape.
pub(crate) fn transport_error(binding: Binding, e: &A2aError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = match binding {
        Binding::JsonRpc => e.to_jsonrpc_response(&Value::Null),
        Binding::Rest => e.to_rest_body(),
    };
    let mut resp = json_response(status, &body);
    if matches!(e, A2aError::Unauthorized(_)) {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

/// A REST error body with an explicit HTTP status.
pub(crate) fn transport_error_with_status(status: StatusCode, e: &A2aError) -> Response {
    let mut resp = json_response(status, &e.to_rest_body());
    if matches!(e, A2aError::Unauthorized(_)) {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

/// Checks that the request body is declared as JSON.
pub(crate) fn check_json_content_type(headers: &HeaderMap) -> Result<(), A2aError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime == "application/a2a+json" {
        Ok(())
    } else if mime.is_empty() {
        Err(A2aError::ContentTypeNotSupported(
            "missing Content-Type; expected application/json".into(),
        ))
    } else {
        Err(A2aError::ContentTypeNotSupported(format!(
            "`{}`; expected application/json",
            crate::error::clip(&mime)
        )))
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(req: Request, limit: usize) -> Result<Bytes, A2aError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(A2aError::PayloadTooLarge(limit));
    }
    let body: Body = req.into_body();
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| A2aError::PayloadTooLarge(limit))
}

/// The protocol version a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V03,
}

/// Reads `A2A-Version`: missing or empty → 0.3, `1.0[.x]` → 1.0, `0.3[.x]` → 0.3, anything
/// else → VersionNotSupported.
pub(crate) fn requested_version(headers: &HeaderMap) -> Result<Version, A2aError> {
    let raw = headers
        .get("a2a-version")
        .map(|v| v.to_str().unwrap_or("?").trim().to_string())
        .unwrap_or_default();
    if raw.is_empty() {
        return Ok(Version::V03);
    }
    let mut it = raw.split('.');
    let major = it.next().unwrap_or("");
    let minor = it.next().unwrap_or("0");
    match (major, minor) {
        ("1", "0") => Ok(Version::V1),
        ("0", "3") => Ok(Version::V03),
        _ => Err(A2aError::VersionNotSupported(format!(
            "`{}` (supported: 1.0, 0.3)",
            crate::error::clip(&raw)
        ))),
    }
}
