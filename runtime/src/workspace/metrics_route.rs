//! `GET /metrics` (Prometheus text format), merged into the A2A server's router on the same
//! port: the process metrics plus the task store's counters (tasks by state, failed writes),
//! which the store keeps as it commits: a scrape never waits for the store.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
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

/// The router serving `GET /metrics`, with the counters of `store`.
pub(crate) fn metrics_router(store: TaskStore) -> Router {
    Router::new().route(
        METRICS_PATH,
        get(move || {
            let store = store.clone();
            async move { metrics_response(&store) }
        }),
    )
}

fn metrics_response(store: &TaskStore) -> Response {
    let counts = store.metrics();
    let by_state: Vec<(&str, usize)> = STATES
        .iter()
        .map(|(state, label)| {
            let n = counts
                .tasks_by_state
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            (*label, usize::try_from(n).unwrap_or(usize::MAX))
        })
        .collect();
    let mut body = crate::metrics::global().render(&by_state);
    body.push_str(&format!(
        "# HELP molecule_task_store_write_failures_total Task writes the store could not \
         commit (each answered to its client as an error).\n\
         # TYPE molecule_task_store_write_failures_total counter\n\
         molecule_task_store_write_failures_total {}\n",
        counts.write_failures
    ));
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
