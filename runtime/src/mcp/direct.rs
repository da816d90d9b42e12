//! The direct `tools/call` path of `/mcp`: a plain, stateless `tools/call` POST is decoded
//! into `rmcp`'s model types (`ClientJsonRpcMessage`) and answered by
//! [`McpServer::call_tool_params`] in the request's own task, with one JSON body — what
//! `rmcp`'s stateless `StreamableHttpService` answers, without the handler service and the two
//! tasks it starts per request. Everything else (other methods, notifications, GET, DELETE,
//! SSE, any header this path does not vouch for) goes to `rmcp`'s service unchanged, so the
//! transport rules stay `rmcp`'s (MCP spec 2025-06-18 / 2025-11-25, "Transports", Streamable
//! HTTP).
//!
//! A request takes this path only when every check `rmcp` would make passes here too:
//! `POST`; a `Host` that parses, as `rmcp` parses it, to an authority on the allowed list;
//! no `Origin`; `Accept` naming both `application/json` and `text/event-stream`;
//! `Content-Type: application/json`; an absent `MCP-Protocol-Version` or a known one below
//! the SEP-2243 standard-headers revision; a body of at most [`MAX_REQUEST_BYTES`] that is
//! one JSON-RPC request `tools/call` without a per-request protocol version in `_meta`. The
//! result gets the shape `rmcp`'s dispatch gives peers of those revisions (no
//! `resultType: "complete"`). Any other request falls back to `rmcp` (with the body already
//! read, re-attached).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, CONTENT_TYPE, HOST, ORIGIN};
use http::uri::Authority;
use http::{HeaderMap, Method, StatusCode};
use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, GetMeta, ProtocolVersion,
    RequestId, ServerJsonRpcMessage, ServerResult,
};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::StreamableHttpService;

use super::server::McpServer;

/// Largest MCP request body accepted, in bytes (1 MiB, the A2A body limit); 413 above.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The `MCP-Protocol-Version` request header (MCP spec 2025-06-18, "Transports").
const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

/// `rmcp`'s stateless Streamable HTTP service of one [`McpServer`].
pub type RmcpService = StreamableHttpService<McpServer, NeverSessionManager>;

/// What the `/mcp` route holds: the server, the accepted `Host` values and `rmcp`'s service.
pub struct Endpoint {
    /// The handler a direct `tools/call` goes to.
    pub server: McpServer,
    /// Accepted `Host` values: `name` (any port) or `name:port`.
    pub hosts: Vec<String>,
    /// Everything the direct path does not take.
    pub rmcp: RmcpService,
}

/// The `/mcp` handler (any method): the direct path for a plain `tools/call`, else `rmcp`.
pub async fn handle(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    if request.method() != Method::POST || !headers_eligible(request.headers(), &endpoint.hosts) {
        return to_rmcp(&endpoint, request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => return body_error(&error),
    };
    match direct_call(&bytes) {
        Some((id, params)) => {
            let mut result = ServerResult::from(endpoint.server.call_tool_params(params).await);
            // The direct path only takes revisions before 2026-07-28: the legacy result shape,
            // as rmcp's `ServerHandler` dispatch makes it for those peers.
            result.strip_result_type_for_legacy_peer();
            result.strip_non_object_output_for_legacy_peer();
            json_response(ServerJsonRpcMessage::response(result, id))
        }
        None => to_rmcp(&endpoint, Request::from_parts(parts, Body::from(bytes))).await,
    }
}

/// Hands `request` to `rmcp`'s service.
async fn to_rmcp(endpoint: &Endpoint, request: Request) -> Response {
    endpoint.rmcp.handle(request).await.map(Body::new)
}

/// The id and params of `body` (a JSON-RPC message, UTF-8 JSON) if it is one `tools/call`
/// request the direct path answers (no per-request protocol version in `_meta`, which `rmcp`
/// negotiates itself); `None` for anything else, which goes to `rmcp`.
pub fn direct_call(body: &Bytes) -> Option<(RequestId, CallToolRequestParams)> {
    let message: ClientJsonRpcMessage = serde_json::from_slice(body).ok()?;
    let ClientJsonRpcMessage::Request(request) = message else {
        return None;
    };
    if request.request.get_meta().protocol_version().is_some() {
        return None;
    }
    match request.request {
        ClientRequest::CallToolRequest(call) => Some((request.id, call.params)),
        _ => None,
    }
}

/// Whether a POST with `headers` may take the direct path: it passes every check `rmcp` makes
/// on a stateless POST (see the module doc), `hosts` being the accepted `Host` values (`name`
/// for any port, or `name:port`). `false` sends the request to `rmcp`, which answers the error.
pub fn headers_eligible(headers: &HeaderMap, hosts: &[String]) -> bool {
    host_allowed(headers, hosts)
        && !headers.contains_key(ORIGIN)
        && accepts_json_and_sse(headers)
        && content_type_is_json(headers)
        && protocol_version_plain(headers)
}

/// Whether `Host` names an authority on `hosts` (the loopback names and
/// `mcp.allowed_hosts`: `name` for any port, or `name:port`), judged exactly as `rmcp` 3.11
/// judges it (`streamable_http_server/tower.rs`, `parse_host_header` and
/// `host_is_allowed`): the value parsed as an RFC 3986 authority (`http::uri::Authority`),
/// the host compared without brackets and case, the port only when the allowed entry has
/// one. A value that is not a clean authority (no parse, a userinfo part, not UTF-8) is
/// never taken here: `rmcp` answers it (400 or 403).
fn host_allowed(headers: &HeaderMap, hosts: &[String]) -> bool {
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if host.contains('@') {
        return false;
    }
    let Ok(authority) = Authority::try_from(host) else {
        return false;
    };
    let (name, port) = (normalize_host(authority.host()), authority.port_u16());
    hosts
        .iter()
        .filter_map(|h| allowed_authority(h))
        .any(|(h, p)| h == name && p.is_none_or(|p| port == Some(p)))
}

/// An allowed-hosts entry as `rmcp` reads it: an authority (name, optional port), or the
/// whole trimmed entry as a name when it does not parse; `None` for an empty entry.
fn allowed_authority(entry: &str) -> Option<(String, Option<u16>)> {
    let entry = entry.trim();
    if entry.is_empty() {
        return None;
    }
    Some(match Authority::try_from(entry) {
        Ok(a) => (normalize_host(a.host()), a.port_u16()),
        Err(_) => (normalize_host(entry), None),
    })
}

/// A host name compared the way `rmcp` compares it: brackets trimmed, lower case.
fn normalize_host(host: &str) -> String {
    host.trim_matches('[')
        .trim_matches(']')
        .to_ascii_lowercase()
}

/// Whether `Accept` names both `application/json` and `text/event-stream` (the POST rule of
/// the Streamable HTTP transport).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for item in value.split(',') {
            let essence = item.split(';').next().unwrap_or_default().trim();
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// Whether `Content-Type` is `application/json` (parameters allowed).
fn content_type_is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether `MCP-Protocol-Version` is absent or a known revision before the one that requires
/// the SEP-2243 standard headers (those requests are `rmcp`'s to validate).
fn protocol_version_plain(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(PROTOCOL_VERSION_HEADER) else {
        return true;
    };
    let Ok(version) = value.to_str() else {
        return false;
    };
    version < ProtocolVersion::STANDARD_HEADERS.as_str()
        && ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .any(|known| known.as_str() == version)
}

/// The answer to a body that could not be read: 413 above [`MAX_REQUEST_BYTES`], else 400.
fn body_error(error: &axum::Error) -> Response {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large").into_response();
        }
        source = e.source();
    }
    (StatusCode::BAD_REQUEST, "Bad Request: unreadable body").into_response()
}

/// `message` as a `200 application/json` response.
fn json_response(message: ServerJsonRpcMessage) -> Response {
    match serde_json::to_vec(&message) {
        Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "serialize json response").into_response(),
    }
}
