//! A loaded component version, ready to instantiate: a skill ([`SkillComponent`]) or an
//! adapter ([`AdapterComponent`]), each with its pre-instance and the grants its calls run
//! under. [`crate::component::ComponentHost`] makes them; [`crate::sandbox::Sandbox`] runs
//! them. This module imports neither.

use std::sync::Arc;

use crate::bindings::adapter::AdapterPre;
use crate::bindings::skill::SkillPre;
use crate::bindings::ToolSpec;
use crate::cache::CacheOutcome;
use crate::grants::Grants;
use crate::state::HostState;

/// One version of a skill component, ready to instantiate.
pub struct SkillComponent {
    /// The label used in logs and errors, e.g. `skill json-query`.
    pub label: String,
    /// sha256 of the wasm, hex; for a skill on the shared Python interpreter, the
    /// interpreter's source key with the file's size and time (hashing its tens of MiB on
    /// every start would cost more than the call).
    pub digest: String,
    /// The tools it offers, as its `describe` returned them.
    pub tools: Vec<ToolSpec>,
    /// Whether compiling was needed.
    pub cache: CacheOutcome,
    pub(crate) pre: SkillPre<HostState>,
    pub(crate) grants: Arc<Grants>,
}

/// One version of an adapter component, ready to instantiate per task.
pub struct AdapterComponent {
    /// The label used in logs and errors, e.g. `adapter langgraph`.
    pub label: String,
    /// sha256 of the wasm, hex.
    pub digest: String,
    /// The runtime name the adapter reports (`name()`).
    pub name: String,
    /// Whether compiling was needed.
    pub cache: CacheOutcome,
    /// Whether the component imports the `llm` interface, i.e. may call the model (a
    /// workspace without a model is "not configured" only for such an adapter).
    pub calls_model: bool,
    pub(crate) pre: AdapterPre<HostState>,
    pub(crate) grants: Arc<Grants>,
}

impl AdapterComponent {
    /// The grants every task of this adapter starts from.
    pub fn grants(&self) -> &Arc<Grants> {
        &self.grants
    }
}
