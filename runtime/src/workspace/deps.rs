//! What starting a workspace needs besides its plan: the component host, the builder, the
//! model gateway. Shared by boot, the adapter's load and reload, and smoke mode.

use std::sync::Arc;

use crate::builder::ComponentBuilder;
use crate::component::ComponentHost;

/// What boot needs besides the plan.
#[derive(Clone)]
pub struct BootDeps {
    /// The component host (engine, linker, compiled-code cache).
    pub host: Arc<ComponentHost>,
    /// Builds component crates.
    pub builder: ComponentBuilder,
    /// The model gateway, or why there is none (the workspace is then not configured).
    pub gateway: Result<Arc<molecule_llm::Gateway>, String>,
    /// Use an in-memory task store (tests).
    pub in_memory_tasks: bool,
}
