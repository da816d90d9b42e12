//! The workspace's skills over MCP (Model Context Protocol, spec revision served by `rmcp`):
//! the skill tools as MCP tools and the skill folders as `skill://` resources (the Skills
//! extension, SEP-2640). One handler ([`server::McpServer`]) serves both transports: the
//! Streamable HTTP transport at `/mcp` on the A2A port ([`http`]), behind the A2A inbound
//! bearer check, and stdio for desktop MCP clients (`molecule-runtime mcp --stdio`).
//!
//! A tool call takes exactly the path an adapter's `tools.call` takes after the built-ins:
//! [`SkillRegistry::call`](crate::workspace::skills::SkillRegistry::call) — the owning skill's
//! grants, the sandbox limits, an admission slot, a receipt and the tool-call metrics.

pub mod direct;
pub mod http;
pub mod resources;
pub mod server;
mod tools;

pub use tools::RECEIPT_META;

pub use server::McpServer;
