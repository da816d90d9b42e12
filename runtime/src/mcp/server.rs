//! [`McpServer`], the `rmcp` server handler both transports share: `initialize` (tools,
//! resources and the Skills extension `io.modelcontextprotocol/skills` declared), `tools/list`
//! from the loaded skills' `describe` answers, `tools/call` through
//! [`SkillRegistry::call`] (grants, limits, admission, receipts, metrics: the path an adapter's
//! tool calls take), and the `skill://` resources of `resources.rs`. It holds no per-client
//! state: every request reads the registry's current snapshot.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, GetSkillRequestParams, GetSkillResult, Implementation,
    ListResourcesResult, ListSkillsResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::{resources, tools};
use crate::limits::LimitKeys;
use crate::workspace::approval::{self, Gate};
use crate::workspace::skills::SkillRegistry;

/// What `initialize` tells clients about this server.
const INSTRUCTIONS: &str = "The tools of this Molecule workspace's skills, each call sandboxed \
    with the owning skill's grants and limits. Each skill's instructions are the resource \
    skill://<id>/SKILL.md; skill://index.json lists them.";

/// The MCP server of one skill registry. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct McpServer {
    skills: Arc<SkillRegistry>,
    keys: LimitKeys,
    gate: Gate,
}

impl McpServer {
    /// A server over `skills`; a limit hit names where it is set by `keys`
    /// ([`LimitKeys::CONFIG`] in a workspace, the flags for `mcp --stdio`).
    pub fn new(skills: Arc<SkillRegistry>, keys: LimitKeys) -> Self {
        McpServer {
            skills,
            keys,
            gate: Gate::default(),
        }
    }

    /// This server with config.yaml's `approval.tools` as `gate`: a `tools/call` of a gated
    /// tool (or an alias of one) is refused with an error result naming `approval.tools`
    /// (MCP has no task to hold for a human), and `tools/list` notes it in the description.
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.gate = gate;
        self
    }

    /// Calls tool `name` with JSON `input` exactly as `tools/call` does and returns the MCP
    /// result, the call's receipt in its `_meta` under [`tools::RECEIPT_META`] (also used by
    /// the benchmark, which skips the transport).
    pub async fn call(&self, name: &str, input: &str) -> rmcp::model::CallToolResult {
        if self.gate.requires(name) {
            return tools::refused(&approval::refused_over_mcp(name));
        }
        // One tool call a client waits for: it may start on this thread and answer without a
        // hop to the guest pool (see `scheduler::start_here`).
        let call = self.skills.call_with_receipt(name, input);
        let (outcome, receipt) = crate::scheduler::start_here::starting_here(call).await;
        tools::result(outcome, &receipt, &self.keys)
    }

    /// Answers a `tools/call` request: `request.arguments` as the tool's JSON input, the
    /// result as [`McpServer::call`] gives it. Shared by the `rmcp` handler and the direct
    /// `tools/call` path of the HTTP transport (`http.rs`), so both answer alike.
    pub async fn call_tool_params(&self, request: CallToolRequestParams) -> CallToolResponse {
        let input = tools::input_text(request.arguments.as_ref());
        self.call(&request.name, &input).await.into()
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_skills()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "molecule-runtime",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let snapshot = self.skills.snapshot();
        let tools = snapshot
            .tool_specs_ref()
            .iter()
            .map(|spec| {
                let mut tool = tools::tool(spec);
                if self.gate.requires(&spec.name) {
                    let described = tool.description.as_deref().unwrap_or_default();
                    tool.description =
                        Some(format!("{described}{}", approval::MCP_GATED_NOTE).into());
                }
                tool
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call_tool_params(request).await)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let snapshot = self.skills.snapshot();
        Ok(ListResourcesResult::with_all_items(resources::list(
            &snapshot,
        )))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let snapshot = self.skills.snapshot();
        resources::read(&snapshot, &request.uri)
            .await
            .map(Into::into)
    }

    async fn list_skills(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListSkillsResult, ErrorData> {
        resources::list_skills(&self.skills.snapshot()).await
    }

    async fn get_skill(
        &self,
        request: GetSkillRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetSkillResult, ErrorData> {
        resources::get_skill(&self.skills.snapshot(), &request.uri).await
    }
}
