//! `GET /healthz` and `GET /readyz` for orchestrators (Kubernetes liveness and readiness
//! probes), merged into the A2A server's router on the same port beside `/metrics`. Both are
//! unauthenticated, like the Agent Card: they reveal no task data.
//!
//! - `/healthz` answers `200 {"status":"alive"}` whenever the process serves HTTP; it looks
//!   at nothing else (a liveness probe that fails restarts the pod, so it must not fail for a
//!   reason a restart does not fix).
//! - `/readyz` answers `200` when every check passes and `503` when one fails; the JSON body
//!   lists each check with `ok` and, when it failed, a short `error` that names the check
//!   but no host path, URL or SQLite text (the probe is unauthenticated); the full detail goes
//!   to the log:
//!   - `configured`: the adapter loaded at boot (a workspace that is "not configured" serves
//!     its card only);
//!   - `task_store`: the task store commits a write now ([`TaskStore::check_writable`]),
//!     bounded by [`STORE_CHECK_TIMEOUT`]. One check runs at a time: a probe that arrives
//!     while a check runs waits for it and shares its result (so overlapping probes of a
//!     healthy pod all see it ready), and a check that outlived its bound (a stuck store) is
//!     awaited again by the next probe instead of a second one being queued;
//!   - `platform`: standalone (no `PLATFORM_URL`), or the platform has accepted a registration
//!     of this workspace at least once. While a configured platform has never accepted it the
//!     workspace is not ready (the platform does not know where to route to it yet); once it
//!     has, a platform that goes away later does not make the workspace unready — it keeps
//!     serving, and the heartbeat loop registers again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use molecule_a2a::{StoreError, TaskStore};
use molecule_platform::PlatformClient;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// The path of the liveness endpoint.
pub const HEALTHZ_PATH: &str = "/healthz";

/// The path of the readiness endpoint.
pub const READYZ_PATH: &str = "/readyz";

/// How long `/readyz` waits for the task store's write check before reporting it failed
/// (the store thread is busy or stuck): well under a probe's default 1 s timeout.
pub const STORE_CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// What `/readyz` looks at: fixed at boot, shared by every request.
#[derive(Clone)]
pub(crate) struct Readiness {
    /// Why the workspace is not configured, if it is not (already redacted).
    pub(crate) not_configured: Option<String>,
    /// The task store.
    pub(crate) store: TaskStore,
    /// The platform client; `None` when standalone.
    pub(crate) platform: Option<PlatformClient>,
    /// The store checks: one at a time, each result shared with the probes that waited.
    store_check: Arc<StoreCheck>,
}

/// The task store's write checks, one at a time.
#[derive(Default)]
struct StoreCheck {
    /// How many checks have finished (read before queueing for `state`: a probe that finds
    /// it changed once it holds `state` takes the result of a check that ran while it waited).
    finished: AtomicU64,
    /// The last check's result, and a check that outlived its bound and still runs.
    state: Mutex<CheckState>,
}

/// What the last store check found.
struct CheckState {
    /// Its result (short, safe for the unauthenticated body).
    last: Result<(), String>,
    /// The check running now, or one that outlived its bound (the store thread is busy or
    /// stuck): the next probe waits on it rather than queueing another behind it.
    pending: Option<JoinHandle<Result<(), StoreError>>>,
}

impl Default for CheckState {
    fn default() -> Self {
        CheckState {
            last: Ok(()),
            pending: None,
        }
    }
}

impl Readiness {
    /// The readiness of a workspace with these parts.
    pub(crate) fn new(
        not_configured: Option<String>,
        store: TaskStore,
        platform: Option<PlatformClient>,
    ) -> Self {
        Readiness {
            not_configured,
            store,
            platform,
            store_check: Arc::default(),
        }
    }
}

/// The router serving `GET /healthz` and `GET /readyz` for `readiness`.
pub(crate) fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route(
            HEALTHZ_PATH,
            get(|| async { Json(json!({"status": "alive"})) }),
        )
        .route(
            READYZ_PATH,
            get(move || {
                let readiness = readiness.clone();
                async move { readyz(&readiness).await }
            }),
        )
}

/// Runs every check and answers 200 or 503 with the checks in the body.
async fn readyz(readiness: &Readiness) -> Response {
    let checks = [
        ("configured", configured(readiness)),
        ("task_store", task_store(readiness).await),
        ("platform", platform(readiness)),
    ];
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    let list: Vec<Value> = checks
        .iter()
        .map(|(name, result)| match result {
            Ok(()) => json!({"name": name, "ok": true}),
            Err(error) => json!({"name": name, "ok": false, "error": error}),
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready { "ready" } else { "not_ready" }, "checks": list});
    (status, Json(body)).into_response()
}

fn configured(readiness: &Readiness) -> Result<(), String> {
    match &readiness.not_configured {
        None => Ok(()),
        Some(reason) => Err(format!("the workspace is not configured: {reason}")),
    }
}

/// What the body says when the store check failed (the detail is in the log).
pub const STORE_NOT_WRITABLE: &str = "task store: not writable (see the log)";

/// The store's write check, bounded by [`STORE_CHECK_TIMEOUT`]. A probe arriving while a
/// check runs waits for it and answers with its result; otherwise it runs the next check.
async fn task_store(readiness: &Readiness) -> Result<(), String> {
    let checks = &readiness.store_check;
    let seen = checks.finished.load(Ordering::Acquire);
    let mut state = checks.state.lock().await;
    if checks.finished.load(Ordering::Acquire) != seen {
        return state.last.clone();
    }
    let store = readiness.store.clone();
    // Kept in `state` while awaited: a probe dropped mid-check leaves it for the next one.
    let check = state
        .pending
        .get_or_insert_with(|| tokio::spawn(async move { store.check_writable().await }));
    let result = match tokio::time::timeout(STORE_CHECK_TIMEOUT, check).await {
        Err(_) => Err(format!(
            "the task store {} did not answer a write check within {} ms (its thread is busy \
             or stuck)",
            readiness.store.path(),
            STORE_CHECK_TIMEOUT.as_millis()
        )),
        Ok(joined) => {
            state.pending = None;
            match joined {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(err.to_string()),
                Err(join) => Err(format!("the task store write check stopped: {join}")),
            }
        }
    };
    state.last = result.map_err(|detail| {
        tracing::warn!("/readyz: {detail}");
        STORE_NOT_WRITABLE.to_owned()
    });
    checks.finished.fetch_add(1, Ordering::Release);
    state.last.clone()
}

/// What the body says while the platform has not accepted the registration (its URL and
/// answer are in the heartbeat loop's log).
pub const PLATFORM_NOT_REGISTERED: &str =
    "platform: this workspace's registration has not been accepted yet (see the log)";

fn platform(readiness: &Readiness) -> Result<(), String> {
    match &readiness.platform {
        Some(client) if !client.has_registered() => Err(PLATFORM_NOT_REGISTERED.to_owned()),
        _ => Ok(()),
    }
}
