//! `WasmHost`: the `AgentHost` implementation over the component's host imports. Natively
//! (outside a component) every method panics, like the imports themselves.

use super::{AgentHost, ChatEvents};
use crate::llm::{ChatRequest, ChatResponse};
use crate::log::Level;
use crate::memory::Scope;
use crate::types::{Artifact, HostError, Message, TaskState, ToolError, ToolSpec};

/// The real host: forwards every call to the molecule-runtime imports.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

impl AgentHost for WasmHost {
    fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, HostError> {
        crate::llm::complete(request)
    }

    fn stream(&self, request: &ChatRequest) -> Result<ChatEvents<'_>, HostError> {
        Ok(Box::new(crate::llm::stream(request)?))
    }

    fn list_tools(&self) -> Vec<ToolSpec> {
        crate::tools::list()
    }

    fn call_tool(&self, name: &str, input: &str) -> Result<String, ToolError> {
        crate::tools::call_raw(name, input)
    }

    fn update_status(&self, state: TaskState, message: Option<&Message>) -> Result<(), HostError> {
        crate::events::status(state, message)
    }

    fn add_artifact(&self, artifact: &Artifact) -> Result<(), HostError> {
        crate::events::artifact(artifact)
    }

    fn send_message(&self, message: &Message) -> Result<(), HostError> {
        crate::events::message(message)
    }

    fn reply(&self, message: &Message) -> Result<(), HostError> {
        crate::events::reply(message)
    }

    fn commit_memory(&self, content: &str, scope: Scope) -> Result<String, HostError> {
        crate::memory::commit(content, scope)
    }

    fn set_current_task(&self, summary: &str) {
        crate::heartbeat::set_current_task(summary);
    }

    fn log(&self, level: Level, message: &str) {
        crate::log::write(level, message);
    }

    fn sleep(&self, millis: u64) {
        std::thread::sleep(std::time::Duration::from_millis(millis));
    }
}
