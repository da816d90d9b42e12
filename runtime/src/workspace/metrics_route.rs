//! `GET /metrics` (Prometheus text format), merged into the A2A server's router on the same
//! port: the process metrics plus the tasks in the store counted by state at each scrape.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use molecule_a2a::store::ListQuery;
use molecule_a2a::types::TaskState;
use molecule_a2a::TaskStore;

/// The path of the metrics endpoint.
pub(crate) const METRICS_PATH: &str = "/metrics";

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

/// The router serving `GET /metrics`, counting tasks by state in `store` at each scrape.
pub(crate) fn metrics_router(store: TaskStore) -> Router {
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
