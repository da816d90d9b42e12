//! molecule-runtime: the host that runs Molecule AI workspaces, with every adapter and skill
//! tool inside a wasmtime sandbox.
//!
//! Data flows one way:
//!
//! * [`skill`] reads a skill folder (`SKILL.md` plus a component source);
//! * [`python`] runs Python skills on one shared interpreter component, the skill folder
//!   as data;
//! * [`builder`] turns Rust source into a `.wasm` component, cached by content hash, with
//!   [`toolchain`] installing the `wasm32-wasip2` target when the toolchain lacks it;
//! * [`engine`] owns the one wasmtime `Engine` and its epoch ticker;
//! * [`component`] compiles (through [`cache`]), link-checks and pre-instantiates components;
//! * [`sandbox`] runs one call in a fresh `Store` with the limits of [`limits`] and the
//!   capabilities granted in [`grants`] — this is where a tool call is sandboxed;
//! * [`capabilities`] implements each host interface the guests import, one module each.

pub mod bindings;
pub mod builder;
pub mod cache;
pub mod capabilities;
pub mod component;
pub mod engine;
pub mod grants;
pub mod javascript;
pub mod limits;
pub mod link_check;
pub mod liveness;
pub mod loaded;
pub mod metrics;
pub mod plan;
pub mod python;
pub mod redact;
pub mod sandbox;
pub mod scaffold;
pub mod skill;
pub mod skill_snapshot;
pub mod state;
pub mod toolchain;
pub mod tree_hash;
pub mod wasi;
pub mod workspace;
