//! `GET /healthz` and `GET /readyz` for orchestrators (Kubernetes liveness and readiness
//! probes), merged into the A2A server's router on the same port beside `/metrics`. Both are
//! unauthenticated, like the Agent Card: they reveal no task data.
//!
//! - `/healthz` answers `200 {"status":"alive"}` whenever the process serves HTTP; it looks
//!   at nothing else (a liveness probe that fails restarts the pod, so it must not fail for a
//!   reason a restart does not fix).
//! - `/readyz` answers `200` when every check passes and `503` when one fails; the JSON body
//!   lists each check with `ok` and, when it failed, `error` (what to fix):
//!   - `configured`: the adapter loaded at boot (a workspace that is "not configured" serves
//!     its card only);
//!   - `task_store`: the task store commits a write now ([`TaskStore::check_writable`]),
//!     bounded by [`STORE_CHECK_TIMEOUT`]; at most one check is in flight, so probes never
//!     pile up behind a stuck store;
//!   - `platform`: standalone (no `PLATFORM_URL`), or the platform has accepted a registration
//!     of this workspace at least once. While a configured platform has never accepted it the
//!     workspace is not ready (the platform does not know where to route to it yet); once it
//!     has, a platform that goes away later does not make the workspace unready — it keeps
//!     serving, and the heartbeat loop registers again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use molecule_a2a::TaskStore;
use molecule_platform::PlatformClient;
use serde_json::{json, Value};

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
    /// Set while a store check runs (it may outlive the request that started it).
    store_check_running: Arc<AtomicBool>,
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
            store_check_running: Arc::default(),
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

/// The store's write check, bounded; a check still running from an earlier probe fails this
/// one at once instead of queueing a second.
async fn task_store(readiness: &Readiness) -> Result<(), String> {
    let running = readiness.store_check_running.clone();
    if running.swap(true, Ordering::AcqRel) {
        return Err(format!(
            "the task store {} has not answered the previous write check yet (its thread is \
             busy or stuck)",
            readiness.store.path()
        ));
    }
    let store = readiness.store.clone();
    let check = tokio::spawn(async move {
        let _done = ClearOnDrop(running);
        store.check_writable().await
    });
    match tokio::time::timeout(STORE_CHECK_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(err))) => Err(err.to_string()),
        Ok(Err(join)) => Err(format!("the task store write check stopped: {join}")),
        Err(_) => Err(format!(
            "the task store {} did not answer a write check within {} ms (its thread is busy \
             or stuck)",
            readiness.store.path(),
            STORE_CHECK_TIMEOUT.as_millis()
        )),
    }
}

/// Clears the "store check running" flag when the check ends, however it ends.
struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn platform(readiness: &Readiness) -> Result<(), String> {
    match &readiness.platform {
        None => Ok(()),
        Some(client) if client.has_registered() => Ok(()),
        Some(client) => Err(format!(
            "the platform at {} has not accepted this workspace's registration yet (the \
             heartbeat loop retries; see the log for the platform's answer)",
            client.base_url()
        )),
    }
}
