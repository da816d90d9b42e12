//! Operability of a running workspace: `GET /metrics` (Prometheus text format) merged into the
//! A2A server's router on the same port, the inbound bearer secret that guards A2A calls, and
//! the serve loop that runs both until shutdown.

use std::future::Future;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use molecule_a2a::store::ListQuery;
use molecule_a2a::types::TaskState;
use molecule_a2a::{A2aServer, TaskStore};

use crate::plan::Plan;

/// The path of the metrics endpoint.
pub const METRICS_PATH: &str = "/metrics";

/// The env var holding the inbound bearer secret (wins over config.yaml `a2a.inbound_secret`).
pub const INBOUND_SECRET_ENV: &str = "MOLECULE_INBOUND_SECRET";

/// Task states exported by `molecule_tasks{state=…}`, with their label values.
const STATES: [(TaskState, &str); 8] = [
    (TaskState::Submitted, "submitted"),
    (TaskState::Working, "working"),
    (TaskState::InputRequired, "input_required"),
    (TaskState::AuthRequired, "auth_required"),
    (TaskState::Completed, "completed"),
    (TaskState::Failed, "failed"),
    (TaskState::Canceled, "canceled"),
    (TaskState::Rejected, "rejected"),
];

/// The inbound bearer secret: `$MOLECULE_INBOUND_SECRET`, else config.yaml
/// `a2a.inbound_secret` as the config read it (an unusable value there is a preflight FAIL,
/// so a workspace never boots with it silently dropped); `None` (no auth) when neither is set.
pub fn inbound_secret(plan: &Plan) -> Option<String> {
    if let Some(secret) = plan.env.get(INBOUND_SECRET_ENV).filter(|s| !s.is_empty()) {
        return Some(secret.to_owned());
    }
    plan.config.a2a.inbound_secret.clone()
}

/// The router serving `GET /metrics`, counting tasks by state in `store` at each scrape.
pub fn metrics_router(store: TaskStore) -> Router {
    Router::new().route(
        METRICS_PATH,
        get(move || {
            let store = store.clone();
            async move { metrics_response(&store).await }
        }),
    )
}

async fn metrics_response(store: &TaskStore) -> Response {
    let mut by_state = Vec::with_capacity(STATES.len());
    for (state, label) in STATES {
        let query = ListQuery {
            state: Some(state),
            page_size: 1,
            ..ListQuery::default()
        };
        match store.list(query).await {
            Ok(page) => by_state.push((label, page.total_size)),
            Err(err) => tracing::warn!(error = %err, "metrics: cannot count tasks"),
        }
    }
    let body = crate::metrics::global().render(&by_state);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Serves the A2A router merged with [`metrics_router`] on `listener` until `shutdown`
/// resolves, then closes open SSE streams and waits for in-flight requests.
pub async fn serve(
    server: A2aServer,
    store: TaskStore,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = server.router().merge(metrics_router(store));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            server.close_streams();
        })
        .await
}
