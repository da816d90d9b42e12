//! Authentication of the fake platform's callers: `X-Workspace-ID` plus the bearer token
//! minted for that workspace (or, for A2A, the admin token); and the JSON error answer every
//! route uses.

// Handlers return early with a ready `Response`; boxing it buys nothing in a test server.
#![allow(clippy::result_large_err)]

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Shared;

/// A JSON `{"error": msg}` answer with `status`.
pub(super) fn err(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// The token of `Authorization: Bearer …`, if any.
pub(super) fn bearer(h: &HeaderMap) -> Option<String> {
    h.get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

/// The calling workspace, authenticated: `X-Workspace-ID` plus its bearer token.
pub(super) fn authed(sh: &Shared, h: &HeaderMap) -> Result<String, Response> {
    let caller = h
        .get("x-workspace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "missing X-Workspace-ID"))?;
    let token = bearer(h).ok_or_else(|| err(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    let st = sh.state.lock().expect("fake state");
    match st.workspaces.get(&caller).and_then(|w| w.token.as_ref()) {
        Some(t) if *t == token => Ok(caller),
        Some(_) => Err(err(
            StatusCode::UNAUTHORIZED,
            "wrong token for this workspace",
        )),
        None => Err(err(
            StatusCode::UNAUTHORIZED,
            "workspace has no token: register first",
        )),
    }
}

/// Who may call `POST /workspaces/{id}/a2a`: a workspace (its `X-Workspace-ID` and bearer
/// token, the contract's mutual auth: `Some(id)`), or the operator with the admin token
/// (`None`: any workspace, as the platform's own UI would; no `X-Workspace-ID` needed, none
/// forwarded).
pub(super) fn a2a_caller(sh: &Shared, h: &HeaderMap) -> Result<Option<String>, Response> {
    if bearer(h).as_deref() == Some(sh.admin_token.as_str()) {
        return Ok(None);
    }
    authed(sh, h).map(Some)
}

/// Like [`authed`], and the caller must be `id` itself.
pub(super) fn authed_as(sh: &Shared, h: &HeaderMap, id: &str) -> Result<(), Response> {
    let caller = authed(sh, h)?;
    if caller != id {
        return Err(err(
            StatusCode::FORBIDDEN,
            "a workspace may only act on itself",
        ));
    }
    Ok(())
}
