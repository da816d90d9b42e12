//! HTTP helpers shared by the bindings and the router: JSON responses, transport-level error
//! answers (in the JSON-RPC or REST shape), the bearer-token check, the Content-Type and body
//! size checks, and the `A2A-Version` header. It knows no handler; the handlers use it.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::A2aError;

/// Which binding a request uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    JsonRpc,
    Rest,
}

/// Checks `Authorization: Bearer <token>` against `secret` (`None` = no auth required).
pub(crate) fn check_auth(secret: Option<&str>, headers: &HeaderMap) -> Result<(), A2aError> {
    let Some(secret) = secret else {
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

/// HTTP 401 for a failed [`check_auth`], outside the A2A bindings: `WWW-Authenticate: Bearer`
/// (RFC 6750 §3) and a JSON-RPC 2.0 error body (`id: null`, code -32000, the message saying
/// why), which JSON-RPC clients such as MCP's surface as the error.
pub(crate) fn unauthorized(err: &A2aError) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": crate::error::codes::UNAUTHENTICATED, "message": err.to_string() },
    });
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Bearer"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        body.to_string(),
    )
        .into_response()
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

/// Reads the whole body, refusing more than `limit` bytes. A body that did not arrive within
/// the server's body timeout (`listen::ServeOptions::body_timeout`) is
/// [`A2aError::RequestTimeout`] (HTTP 408; hyper then closes the connection, whose unread
/// rest of the body cannot be skipped).
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
        .map_err(|e| match timed_out(&e) {
            Some(t) => A2aError::RequestTimeout(t.to_string()),
            None => A2aError::PayloadTooLarge(limit),
        })
}

/// The body timeout behind a body read error, if that is what it was.
fn timed_out<'e>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e crate::listen::BodyTimedOut> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<crate::listen::BodyTimedOut>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
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
