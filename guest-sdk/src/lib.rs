//! molecule-guest-sdk: the guest side of molecule-runtime.
//!
//! This crate wraps the wit-bindgen bindings of the WIT package `molecule:runtime@0.1.0` (in
//! `../wit`) so that skill and adapter authors never touch wit-bindgen themselves:
//!
//! * `skill.rs`   — `Skill` / `Tool`: declare tools (name, description, JSON Schema, handler),
//!                  typed input through serde, dispatch and error mapping; `export_skill!`.
//! * `adapter.rs` — the `Adapter` trait and `export_adapter!` for the `adapter` world.
//! * `approval.rs` — human approval: `approval::request` and `RequestContext::approval`.
//! * `host.rs`    — safe, ergonomic wrappers over every host import (log, config, memory, a2a,
//!                  heartbeat, llm, tools, events) and the shared types.
//!
//! The Cargo features `skill` (default) and `adapter` select the world that is generated; a
//! component is either a skill or an adapter. `adapter` takes precedence, so enabling it on top of
//! the default (e.g. `cargo test -p molecule-guest-sdk --features adapter`) builds the adapter
//! world. `agent/` (adapter feature) is the agent-loop library adapters are built from.

//! # molecule-guest-sdk
//!
//! Write molecule-runtime skills and adapters in Rust, compiled to
//! WebAssembly components (`wasm32-wasip2`).
//!
//! A **skill** is a component that offers tools. Declare each tool as a plain function with a
//! serde-deserializable input, its description and its JSON Schema, then export them all with
#![cfg_attr(not(feature = "adapter"), doc = "[`export_skill!`]:")]
#![cfg_attr(feature = "adapter", doc = "`export_skill!` (feature `skill`):")]
//!
#![cfg_attr(all(feature = "skill", not(feature = "adapter")), doc = "```no_run")]
#![cfg_attr(feature = "adapter", doc = "```ignore")]
//! use molecule_guest_sdk::{export_skill, json, memory, Skill, ToolError};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Greet {
//!     name: String,
//!     #[serde(default)]
//!     remember: bool,
//! }
//!
//! fn greet(input: Greet) -> Result<String, ToolError> {
//!     if input.remember {
//!         // Host errors convert into tool errors with `?` (denied stays denied).
//!         memory::commit(&format!("met {}", input.name), memory::Scope::Local)?;
//!     }
//!     Ok(format!("Hello, {}!", input.name))
//! }
//!
//! fn skill() -> Skill {
//!     Skill::new().tool(
//!         "greet",
//!         "Greets someone by name, optionally remembering them.",
//!         json!({
//!             "type": "object",
//!             "properties": {
//!                 "name": {"type": "string"},
//!                 "remember": {"type": "boolean"}
//!             },
//!             "required": ["name"]
//!         }),
//!         greet,
//!     )
//! }
//!
//! export_skill!(skill);
//!
//! // The same `Skill` value is usable natively, e.g. in unit tests:
//! let out = skill().call("greet", r#"{"name": "Ada"}"#).unwrap();
//! assert_eq!(out, r#""Hello, Ada!""#);
//! ```
//!
//! The exported `tool` interface then behaves as follows:
//!
//! * `describe` returns one [`types::ToolSpec`] per declared tool, in declaration order;
//! * `call` dispatches by name; an unknown name is [`ToolError::NotFound`];
//! * input that is not JSON, or does not deserialize into the handler's input type, is
//!   [`ToolError::InvalidInput`] whose text names the offending field (e.g.
//!   ``missing field `name` `` or ``field `remember`: invalid type: string "yes", expected a
//!   boolean``); an empty input string is treated as `{}`;
//! * the handler's `Ok` value is serialized to JSON; its `Err` is returned as is (any error type
//!   that converts `Into<ToolError>`, including [`types::HostError`]).
//!
//! Build it with `cargo build --release --target wasm32-wasip2`: the `cdylib` at
//! `target/wasm32-wasip2/release/<name>.wasm` is a component the host loads.
//!
//! An **adapter** (agent loop) enables the `adapter` feature instead (it takes precedence over
//! the default `skill`; `default-features = false` is still recommended) and implements
//! `adapter::Adapter`, exported with `export_adapter!`. The `agent` module (same feature) is
//! an agent-loop library: conversation building, a ReAct tool loop, artifact streaming and
//! config helpers, written against the `agent::AgentHost` trait with a wasm implementation and
//! an in-memory fake for native unit tests.
//!
//! Host capabilities are in the modules [`log`], [`config`], [`memory`], [`a2a`],
//! [`heartbeat`], [`llm`], [`tools`] and [`events`]. Every capability is linked for every
//! component; one the operator did not grant answers [`types::HostError::Denied`].
//!
//! Calling a host import natively (outside a component) panics: native builds are for
//! compiling, documenting and unit-testing tool logic only.

#![warn(missing_docs)]

#[cfg(not(any(feature = "skill", feature = "adapter")))]
compile_error!(
    "molecule-guest-sdk: enable exactly one of the features `skill` (the default) or `adapter`."
);

// Lets the generated code and the exported macros name this crate as `molecule_guest_sdk`
// from inside it too.
extern crate self as molecule_guest_sdk;

/// Raw bindings generated by wit-bindgen from `wit/` (world `skill` or `adapter`).
///
/// Prefer the wrappers in this crate; these are here as an escape hatch and for the exported
/// macros.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    #[cfg(all(feature = "skill", not(feature = "adapter")))]
    wit_bindgen::generate!({
        path: "../wit",
        world: "skill",
        runtime_path: "molecule_guest_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "__export_skill_world",
        default_bindings_module: "molecule_guest_sdk::bindings",
        additional_derives: [Clone, PartialEq],
    });

    // `adapter` takes precedence over the default `skill`.
    #[cfg(feature = "adapter")]
    wit_bindgen::generate!({
        path: "../wit",
        world: "adapter",
        runtime_path: "molecule_guest_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "__export_adapter_world",
        default_bindings_module: "molecule_guest_sdk::bindings",
        additional_derives: [Clone, PartialEq],
    });
}

#[cfg(any(feature = "skill", feature = "adapter"))]
mod host;
#[cfg(any(feature = "skill", feature = "adapter"))]
pub use host::{a2a, config, events, heartbeat, llm, log, memory, new_id, tools, types};

#[cfg(all(feature = "skill", not(feature = "adapter")))]
mod skill;
#[cfg(all(feature = "skill", not(feature = "adapter")))]
pub use skill::{parse_input, valid_tool_name, Skill, Tool};

#[cfg(feature = "adapter")]
pub mod adapter;
#[cfg(feature = "adapter")]
pub mod agent;
#[cfg(feature = "adapter")]
pub mod approval;

#[cfg(any(feature = "skill", feature = "adapter"))]
pub use types::{HostError, ToolError};

pub use serde;
pub use serde_json;
pub use serde_json::{json, Value};

/// Implementation details of the exported macros. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
