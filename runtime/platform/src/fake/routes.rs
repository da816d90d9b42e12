//! HTTP routes of the fake platform. Auth: every call must carry `X-Workspace-ID` and the
//! bearer token minted for that workspace, except the first registration of a workspace
//! (no token yet; the admin token is also accepted), `POST /workspaces` (admin token) and
//! `POST /workspaces/{id}/a2a`, which the admin token may also call for any workspace (an
//! outside client, as through the platform's UI).
//! A2A to a workspace connected over the outbound relay goes through its socket (`relay.rs`).

// Handlers return early with a ready `Response`; boxing it buys nothing in a test server.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::{a2a_caller, authed, authed_as, bearer, err};
use super::state::{mint, now_rfc3339, parse, PeerMode, RecordedCall, WsRecord};
use super::Shared;

type S = AxState<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/registry/register", post(register))
        .route("/registry/heartbeat", post(heartbeat))
        .route("/registry/update-card", post(update_card))
        .route("/registry/discover/{id}", get(discover))
        .route("/registry/{id}/peers", get(peers))
        .route("/workspaces", post(create))
        .route("/workspaces/{id}", get(workspace))
        .route("/workspaces/{id}/a2a", post(a2a))
        .route("/workspaces/{id}/connect", get(super::relay::connect))
        .route("/workspaces/{id}/activity", post(activity))
        .route(
            "/workspaces/{id}/memories",
            post(add_memory).get(search_memory),
        )
        .route("/workspaces/{id}/secrets", get(secrets))
        .route("/workspaces/{id}/notify", post(notify))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Records the call and applies injected failures.
async fn record(AxState(sh): S, req: Request, next: Next) -> Response {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut call = RecordedCall {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers,
        body: parse(&bytes),
        status: 0,
        at,
    };
    let injected = match sh.faults.meet().await {
        Some(status) => Some((status, "injected fault (FakePlatform::set_fault)")),
        None => sh.state.lock().expect("fake state").take_failure(),
    };
    let resp = match injected {
        Some((status, why)) => err(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            why,
        ),
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    call.status = resp.status().as_u16();
    sh.state.lock().expect("fake state").calls.push(call);
    resp
}

fn body_json(b: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(b)
        .map_err(|e| err(StatusCode::BAD_REQUEST, &format!("body is not JSON: {e}")))
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

async fn register(AxState(sh): S, h: HeaderMap, b: Bytes) -> Response {
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(id) = str_field(&v, "id").or_else(|| str_field(&v, "workspace_id")) else {
        return err(StatusCode::BAD_REQUEST, "register needs \"id\"");
    };
    let given = bearer(&h);
    let mut st = sh.state.lock().expect("fake state");
    let rec = st
        .workspaces
        .entry(id.to_string())
        .or_insert_with(|| WsRecord::new(id));
    let mut minted = None;
    match &rec.token {
        Some(t) if given.as_deref() == Some(t) || given.as_deref() == Some(&sh.admin_token) => {}
        Some(_) => {
            return err(
                StatusCode::UNAUTHORIZED,
                "workspace already has a token; send it",
            )
        }
        None => minted = Some(rec.token.insert(mint()).clone()),
    }
    rec.url = str_field(&v, "url").unwrap_or_default().to_string();
    rec.agent_card = v.get("agent_card").cloned().unwrap_or(Value::Null);
    if let Some(name) = rec.agent_card.get("name").and_then(Value::as_str) {
        rec.name = name.to_string();
    }
    if let Some(p) = str_field(&v, "parent_id") {
        rec.parent_id = Some(p.to_string());
    }
    rec.registered = true;
    let secret = rec.inbound_secret.clone();
    st.forgotten.remove(id);
    let mut out = json!({ "status": "registered", "platform_inbound_secret": secret });
    if let Some(t) = minted {
        out["auth_token"] = Value::String(t);
    }
    Json(out).into_response()
}

async fn heartbeat(AxState(sh): S, h: HeaderMap, b: Bytes) -> Response {
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = str_field(&v, "workspace_id")
        .unwrap_or_default()
        .to_string();
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let mut st = sh.state.lock().expect("fake state");
    if st.forgotten.contains(&id) {
        return err(StatusCode::NOT_FOUND, "unknown workspace");
    }
    let Some(rec) = st.workspaces.get_mut(&id) else {
        return err(StatusCode::NOT_FOUND, "unknown workspace");
    };
    rec.last_heartbeat = Some(v);
    Json(json!({ "status": "ok", "platform_inbound_secret": rec.inbound_secret })).into_response()
}

async fn update_card(AxState(sh): S, h: HeaderMap, b: Bytes) -> Response {
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = str_field(&v, "workspace_id")
        .unwrap_or_default()
        .to_string();
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let mut st = sh.state.lock().expect("fake state");
    let Some(rec) = st.workspaces.get_mut(&id) else {
        return err(StatusCode::NOT_FOUND, "unknown workspace");
    };
    if let Some(card) = v.get("agent_card") {
        rec.agent_card = card.clone();
    }
    let url =
        str_field(&v, "url").or_else(|| v.get("agent_card").and_then(|c| str_field(c, "url")));
    if let Some(u) = url {
        rec.url = u.to_string();
    }
    Json(json!({ "status": "updated" })).into_response()
}

async fn discover(AxState(sh): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authed(&sh, &h) {
        return r;
    }
    let st = sh.state.lock().expect("fake state");
    match st.workspaces.get(&id) {
        Some(w) => Json(json!({ "id": w.id, "url": w.url, "name": w.name })).into_response(),
        None => err(StatusCode::NOT_FOUND, "unknown workspace"),
    }
}

async fn peers(AxState(sh): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let st = sh.state.lock().expect("fake state");
    let Some(me) = st.workspaces.get(&id) else {
        return err(StatusCode::NOT_FOUND, "unknown workspace");
    };
    let rows: Vec<Value> = st
        .workspaces
        .values()
        .filter(|w| w.id != id)
        .filter(|w| {
            w.parent_id == me.parent_id
                || w.parent_id.as_deref() == Some(id.as_str())
                || me.parent_id.as_deref() == Some(w.id.as_str())
        })
        .map(WsRecord::peer_row)
        .collect();
    Json(rows).into_response()
}

async fn create(AxState(sh): S, h: HeaderMap, b: Bytes) -> Response {
    if bearer(&h).as_deref() != Some(sh.admin_token.as_str()) {
        return err(
            StatusCode::UNAUTHORIZED,
            "POST /workspaces needs the admin token",
        );
    }
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut st = sh.state.lock().expect("fake state");
    let id = st.next_id("ws");
    let mut rec = WsRecord::new(&id);
    rec.name = str_field(&v, "name").unwrap_or(&id).to_string();
    rec.role = str_field(&v, "role").unwrap_or_default().to_string();
    rec.url = str_field(&v, "url").unwrap_or_default().to_string();
    rec.parent_id = str_field(&v, "parent_id").map(str::to_string);
    st.workspaces.insert(id.clone(), rec);
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "platform_url": sh.base_url })),
    )
        .into_response()
}

async fn workspace(AxState(sh): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authed(&sh, &h) {
        return r;
    }
    let st = sh.state.lock().expect("fake state");
    match st.workspaces.get(&id) {
        Some(w) => Json(w.to_json()).into_response(),
        None => err(StatusCode::NOT_FOUND, "unknown workspace"),
    }
}

/// What the proxy does with one message.
enum Route {
    Busy(Option<std::time::Duration>),
    Mode(PeerMode),
}
use Route::{Busy, Mode};

async fn a2a(AxState(sh): S, h: HeaderMap, Path(peer): Path<String>, b: Bytes) -> Response {
    let caller = match a2a_caller(&sh, &h) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (mode, target) = {
        let mut st = sh.state.lock().expect("fake state");
        let busy = match st.a2a_busy.get_mut(&peer) {
            Some((n, ra)) if *n > 0 => {
                *n -= 1;
                Some(Busy(*ra))
            }
            _ => None,
        };
        let mode = busy.or_else(|| st.a2a_mode.get(&peer).cloned().map(Mode));
        let queue_id = st.next_id("q");
        let target = st
            .workspaces
            .get(&peer)
            .map(|w| (w.url.clone(), w.inbound_secret.clone()));
        (mode.map(|m| (m, queue_id)), target)
    };
    match mode {
        Some((Mode(PeerMode::Queue), queue_id)) => {
            return (
                StatusCode::ACCEPTED,
                Json(json!({ "queued": true, "queue_id": queue_id })),
            )
                .into_response()
        }
        Some((Busy(ra), _)) => {
            let mut r = err(StatusCode::SERVICE_UNAVAILABLE, "peer busy");
            if let Some(ra) = ra {
                let secs = ra.as_secs_f64();
                let text = if secs.fract() == 0.0 {
                    format!("{}", secs as u64)
                } else {
                    format!("{secs}")
                };
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from_str(&text).expect("header"));
            }
            return r;
        }
        Some((Mode(PeerMode::Echo), _)) => {
            let req = parse(&b);
            let id = req.get("id").cloned().unwrap_or(Value::Null);
            return Json(json!({ "jsonrpc": "2.0", "id": id, "result": { "echo": req } }))
                .into_response();
        }
        None => {}
    }
    if let Some((_, secret)) = &target {
        let from = caller.as_deref();
        if let Some(r) = super::relay::forward(&sh, &peer, from, secret, &h, b.clone()).await {
            return r;
        }
    }
    let Some((url, secret)) = target.filter(|(u, _)| !u.is_empty()) else {
        return err(StatusCode::BAD_GATEWAY, "peer has no registered URL");
    };
    let mut req = sh
        .http
        .post(&url)
        .bearer_auth(secret)
        .header("content-type", "application/json");
    if let Some(caller) = caller {
        req = req.header("x-workspace-id", caller);
    }
    // The protocol version travels with the message (the relay keeps it too).
    if let Some(v) = h.get("a2a-version") {
        req = req.header("a2a-version", v);
    }
    let sent = req.body(b).send().await;
    match sent {
        Ok(r) => {
            let status =
                StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let bytes = r.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], bytes).into_response()
        }
        Err(e) => err(StatusCode::BAD_GATEWAY, &format!("peer unreachable: {e}")),
    }
}

async fn activity(AxState(sh): S, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Response {
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    sh.state
        .lock()
        .expect("fake state")
        .activities
        .push((id, v));
    Json(json!({ "status": "ok" })).into_response()
}

async fn add_memory(AxState(sh): S, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Response {
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(content) = str_field(&v, "content") else {
        return err(StatusCode::BAD_REQUEST, "memory needs \"content\"");
    };
    let scope = str_field(&v, "scope")
        .unwrap_or("LOCAL")
        .to_ascii_uppercase();
    let namespace = v.get("namespace").cloned().unwrap_or(Value::Null);
    let mut st = sh.state.lock().expect("fake state");
    let mid = st.next_id("mem");
    st.memories.push(json!({
        "id": mid, "workspace_id": id, "content": content, "scope": scope,
        "namespace": namespace, "created_at": now_rfc3339(),
    }));
    (
        StatusCode::CREATED,
        Json(json!({ "id": mid, "scope": scope, "namespace": namespace })),
    )
        .into_response()
}

async fn search_memory(
    AxState(sh): S,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let needle = q.get("q").map(|s| s.to_lowercase()).unwrap_or_default();
    let scope = q
        .get("scope")
        .map(|s| s.to_ascii_uppercase())
        .filter(|s| !s.is_empty());
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let st = sh.state.lock().expect("fake state");
    let parent = |w: &str| st.workspaces.get(w).and_then(|r| r.parent_id.clone());
    let rows: Vec<Value> = st
        .memories
        .iter()
        .filter(|m| {
            let owner = m["workspace_id"].as_str().unwrap_or_default();
            let s = m["scope"].as_str().unwrap_or_default();
            let visible =
                owner == id || s == "GLOBAL" || (s == "TEAM" && parent(owner) == parent(&id));
            visible
                && scope.as_deref().is_none_or(|want| want == s)
                && m["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(&needle)
        })
        .take(limit)
        .cloned()
        .collect();
    Json(rows).into_response()
}

async fn secrets(AxState(sh): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let st = sh.state.lock().expect("fake state");
    Json(st.secrets.get(&id).cloned().unwrap_or_default()).into_response()
}

async fn notify(AxState(sh): S, h: HeaderMap, Path(id): Path<String>, b: Bytes) -> Response {
    if let Err(r) = authed_as(&sh, &h, &id) {
        return r;
    }
    let v = match body_json(&b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if str_field(&v, "message").is_none() {
        return err(StatusCode::BAD_REQUEST, "notify needs \"message\"");
    }
    sh.state
        .lock()
        .expect("fake state")
        .notifications
        .push((id, v));
    Json(json!({ "status": "sent" })).into_response()
}
