//! `GET /transcript?contextId=…` on the A2A port, behind the same inbound bearer as the A2A
//! routes (`A2aServer::check_bearer`): one page of a context's conversation (see
//! `transcript.rs` for what it holds and its JSON shape), as JSON (the default, or
//! `Accept: application/json`, or `format=json`) or Markdown (`Accept: text/markdown` or
//! `format=markdown`).
//!
//! Paging is by task, newest first like ListTasks: a page holds the `limit` most recent tasks
//! (1–100, default 20) in order, fewer when its body would pass [`MAX_PAGE_BYTES`] (at least
//! one task), and `nextPageToken` fetches the tasks before them (`pageToken=…`). Answers: 400 naming the parameter (missing `contextId`, a bad `limit`,
//! `pageToken` or `format`), 401 without the bearer, 404 for a context with no task, 500 when
//! the store fails.

use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use molecule_a2a::store::{parse_page_token, ListQuery};
use molecule_a2a::{A2aServer, TaskStore};
use serde_json::json;

use super::transcript::Transcript;

/// The path of the transcript endpoint.
pub(crate) const TRANSCRIPT_PATH: &str = "/transcript";
/// Tasks per page when `limit` is not given.
const DEFAULT_LIMIT: usize = 20;
/// The most tasks per page.
const MAX_LIMIT: usize = 100;
/// The byte budget of one page's body: a page past it holds fewer tasks (halved until it
/// fits, down to one task) and its `nextPageToken` continues from there.
pub(crate) const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// The longest query string read, in bytes.
const MAX_QUERY: usize = 4096;

/// The router serving `GET /transcript` from `store`, authorised by `server`'s bearer.
pub(crate) fn transcript_router(server: A2aServer, store: TaskStore) -> Router {
    Router::new().route(
        TRANSCRIPT_PATH,
        get(move |req: Request| {
            let (server, store) = (server.clone(), store.clone());
            async move { answer(&server, &store, req).await }
        }),
    )
}

/// What the query asks for.
#[derive(Debug)]
struct Params {
    context_id: String,
    limit: usize,
    after: Option<(i64, i64)>,
    markdown: bool,
}

async fn answer(server: &A2aServer, store: &TaskStore, req: Request) -> Response {
    if let Err(reason) = server.check_bearer(req.headers()) {
        let mut resp = error(StatusCode::UNAUTHORIZED, &reason);
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return resp;
    }
    let params = match params(req.uri().query().unwrap_or(""), req.headers()) {
        Ok(p) => p,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match page(store, &params, MAX_PAGE_BYTES).await {
        Ok(body) => {
            let ct = if params.markdown {
                "text/markdown; charset=utf-8"
            } else {
                "application/json"
            };
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Err(resp) => resp,
    }
}

/// The body of the page `params` asks for, at most `budget` bytes unless one task alone is
/// larger: past it the page holds half as many tasks (its `nextPageToken` goes on from
/// there). Errors: the 404 or 500 response.
async fn page(store: &TaskStore, params: &Params, budget: usize) -> Result<String, Response> {
    let mut limit = params.limit;
    loop {
        let query = ListQuery {
            context_id: Some(params.context_id.clone()),
            page_size: limit,
            after: params.after,
            ..ListQuery::default()
        };
        let page = store.list(query).await.map_err(|err| {
            tracing::error!(error = %err, "transcript: the task store failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the task store failed")
        })?;
        if page.total_size == 0 {
            let shown = crate::redact::escape(&params.context_id);
            return Err(error(
                StatusCode::NOT_FOUND,
                &format!("no context `{shown}`"),
            ));
        }
        let shown_tasks = page.tasks.len();
        let t = Transcript::of_tasks(
            &params.context_id,
            &page.tasks,
            page.total_size,
            page.next_page_token,
        );
        let body = if params.markdown {
            t.to_markdown()
        } else {
            t.to_json().to_string()
        };
        if body.len() <= budget || shown_tasks <= 1 {
            return Ok(body);
        }
        limit = shown_tasks / 2;
    }
}

/// Reads the query string and `Accept`; `Err` names the parameter at fault.
fn params(query: &str, headers: &HeaderMap) -> Result<Params, String> {
    if query.len() > MAX_QUERY {
        return Err(format!("the query string is over {MAX_QUERY} bytes"));
    }
    let (mut context_id, mut limit, mut after, mut format) = (None, DEFAULT_LIMIT, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "contextId" => context_id = Some(value.into_owned()),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("query parameter `limit`: a whole number from 1 to {MAX_LIMIT}")
                    })?;
            }
            "pageToken" if !value.is_empty() => {
                after = Some(
                    parse_page_token(&value)
                        .ok_or("query parameter `pageToken`: not a token from `nextPageToken`")?,
                );
            }
            "format" => format = Some(value.into_owned()),
            _ => {}
        }
    }
    let context_id = context_id
        .filter(|c| !c.is_empty())
        .ok_or("missing query parameter `contextId`")?;
    let markdown = match format.as_deref() {
        Some("markdown" | "md") => true,
        Some("json") => false,
        Some(_) => return Err("query parameter `format`: `json` or `markdown`".into()),
        None => wants_markdown(headers),
    };
    Ok(Params {
        context_id,
        limit,
        after,
        markdown,
    })
}

/// Whether `Accept` names `text/markdown` (and not JSON before it).
fn wants_markdown(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let md = accept.find("text/markdown");
    let js = accept.find("application/json");
    match (md, js) {
        (Some(m), Some(j)) => m < j,
        (Some(_), None) => true,
        _ => false,
    }
}

fn error(status: StatusCode, reason: &str) -> Response {
    json_response(status, &json!({"error": reason}))
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let ct = "application/json";
    (status, [(header::CONTENT_TYPE, ct)], body.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_past_the_byte_budget_ends_early_with_a_token() {
        use molecule_a2a::types::{Message, Part, Role, Task, TaskState, TaskStatus};
        let store = TaskStore::in_memory(molecule_a2a::Retention::default()).unwrap();
        for i in 0..4 {
            let mut m = Message::new(Role::User, vec![Part::text("x".repeat(1000))]);
            m.message_id = format!("m{i}");
            let task = Task {
                id: format!("t{i}"),
                context_id: "c".into(),
                status: TaskStatus {
                    state: TaskState::Completed,
                    message: None,
                    timestamp: None,
                },
                artifacts: None,
                history: Some(vec![m]),
                metadata: None,
            };
            store.put(&task).await.unwrap();
        }
        let h = HeaderMap::new();
        let p = params("contextId=c&limit=4", &h).unwrap();
        let whole: serde_json::Value =
            serde_json::from_str(&page(&store, &p, usize::MAX).await.unwrap()).unwrap();
        assert_eq!(whole["tasks"], 4, "{whole}");
        let body = page(&store, &p, 2500).await.unwrap();
        assert!(body.len() <= 2500, "{}", body.len());
        let cut: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(cut["tasks"].as_u64().unwrap() < 4, "{cut}");
        assert_ne!(cut["nextPageToken"], "", "{cut}");
    }

    #[test]
    fn parameters_are_checked_by_name() {
        let h = HeaderMap::new();
        assert!(params("", &h).unwrap_err().contains("`contextId`"));
        assert!(params("contextId=c&limit=0", &h)
            .unwrap_err()
            .contains("`limit`"));
        assert!(params("contextId=c&pageToken=zz", &h)
            .unwrap_err()
            .contains("`pageToken`"));
        assert!(params("contextId=c&format=html", &h)
            .unwrap_err()
            .contains("`format`"));
        let p = params("contextId=a%20b&format=markdown&limit=5", &h).unwrap();
        assert_eq!(
            (p.context_id.as_str(), p.limit, p.markdown),
            ("a b", 5, true)
        );
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "text/markdown".parse().unwrap());
        assert!(params("contextId=c", &h).unwrap().markdown);
        h.insert(
            header::ACCEPT,
            "application/json, text/markdown".parse().unwrap(),
        );
        assert!(!params("contextId=c", &h).unwrap().markdown);
    }
}
