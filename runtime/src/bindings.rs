//! Host-side bindings generated from the WIT package in `wit/`.
//!
//! `imports` holds the host interfaces every component imports (one set of traits, implemented
//! once in `capabilities/`); `skill` and `adapter` reuse those and add each world's exports.

/// Bindings for the host interfaces (`world host-imports`).
pub mod imports {
    wasmtime::component::bindgen!({
        world: "host-imports",
        path: "../wit",
        imports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "molecule:runtime/llm.chat-stream": crate::bindings::ChatStream,
        },
    });
}

/// Generates the bindings of world `$world` in module `$module`, reusing the host interfaces
/// of [`imports`] (one set of traits for every world) and adding the world's exports.
macro_rules! world_bindings {
    ($(#[$doc:meta])* $module:ident, $world:literal) => {
        $(#[$doc])*
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit",
                imports: { default: async },
                exports: { default: async },
                with: {
                    "molecule:runtime/types": crate::bindings::imports::molecule::runtime::types,
                    "molecule:runtime/log": crate::bindings::imports::molecule::runtime::log,
                    "molecule:runtime/config": crate::bindings::imports::molecule::runtime::config,
                    "molecule:runtime/memory": crate::bindings::imports::molecule::runtime::memory,
                    "molecule:runtime/a2a": crate::bindings::imports::molecule::runtime::a2a,
                    "molecule:runtime/heartbeat": crate::bindings::imports::molecule::runtime::heartbeat,
                    "molecule:runtime/llm": crate::bindings::imports::molecule::runtime::llm,
                    "molecule:runtime/tools": crate::bindings::imports::molecule::runtime::tools,
                    "molecule:runtime/events": crate::bindings::imports::molecule::runtime::events,
                },
            });
        }
    };
}

world_bindings!(
    /// Bindings for the `skill` world: the exported `tool` interface.
    skill,
    "skill"
);
world_bindings!(
    /// Bindings for the `adapter` world: the exported `agent` interface.
    adapter,
    "adapter"
);

pub use imports::molecule::runtime::types::{HostError, ToolError, ToolSpec};

/// The host side of the `llm.chat-stream` resource: a streamed completion in progress, whose
/// events arrive in order, ending with `done`. Declared here, beside the bindings that name
/// it, so the bindings depend on nothing else of the crate.
pub struct ChatStream {
    pub(crate) events: tokio::sync::mpsc::Receiver<
        Result<imports::molecule::runtime::llm::StreamEvent, HostError>,
    >,
    pub(crate) finished: bool,
}

impl ChatStream {
    /// Wraps a channel the backend writes events into.
    pub fn new(
        events: tokio::sync::mpsc::Receiver<
            Result<imports::molecule::runtime::llm::StreamEvent, HostError>,
        >,
    ) -> Self {
        ChatStream {
            events,
            finished: false,
        }
    }
}
