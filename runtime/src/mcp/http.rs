//! `/mcp`: the MCP Streamable HTTP transport (MCP spec "Transports", Streamable HTTP) on the
//! A2A port, from `rmcp`'s `StreamableHttpService`, with a plain `tools/call` answered on the
//! direct path of `direct.rs` (same rules, no per-request `rmcp` service). Stateless: no
//! session is kept between requests (nothing a client can pile up; GET and DELETE are 405,
//! `Allow: POST`), each POST is answered with one JSON body. Budgets:
//! a request body of at most [`MAX_REQUEST_BYTES`] (413 above), the A2A listener's header,
//! body and idle timeouts and connection caps (same port), and per tool call the sandbox's
//! limits and admission queue. A `Host` header other than the loopback names and
//! `mcp.allowed_hosts` is refused (403, DNS-rebinding protection). The inbound bearer check is
//! the A2A server's (`A2aServer::guard`), applied by the caller.

use std::sync::Arc;

use axum::routing::any;
use axum::Router;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::direct::{self, Endpoint};
use super::server::McpServer;
use crate::limits::LimitKeys;
use crate::workspace::approval::Gate;
use crate::workspace::skills::SkillRegistry;

/// The path of the endpoint on the A2A port.
pub const MCP_PATH: &str = "/mcp";

pub use super::direct::MAX_REQUEST_BYTES;

/// Host names always accepted in the `Host` header (any port).
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The `/mcp` route serving the tools and skills of `skills`, accepting the loopback names
/// and `allowed_hosts` (`name` or `name:port`) as `Host`; a call of a tool `gate` holds
/// (config.yaml `approval.tools`) is refused. Not authenticated by itself.
pub fn router(skills: Arc<SkillRegistry>, allowed_hosts: &[String], gate: Gate) -> Router {
    let server = McpServer::new(skills, LimitKeys::CONFIG).with_gate(gate);
    let hosts: Vec<String> = LOOPBACK_HOSTS
        .iter()
        .map(|h| (*h).to_owned())
        .chain(allowed_hosts.iter().cloned())
        .collect();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_allowed_hosts(hosts.clone());
    let handler = server.clone();
    let rmcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let endpoint = Endpoint {
        server,
        hosts,
        rmcp,
    };
    Router::new()
        .route(MCP_PATH, any(direct::handle))
        .with_state(Arc::new(endpoint))
}
