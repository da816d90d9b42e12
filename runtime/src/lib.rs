//! molecule-runtime: the host that runs Molecule AI workspaces, with every adapter and skill
//! tool inside a wasmtime sandbox.
//!
//! Data flows one way:
//!
//! * [`plan`] turns the workspace configuration into what to run;
//! * [`skill_dir`] reads a skill folder (`SKILL.md` plus a component source);
//! * [`python`] and [`javascript`] run Python and JavaScript skills on one shared
//!   interpreter or engine component each, the skill folder as data (`skill_snapshot`);
//! * [`builder`] turns Rust source into a `.wasm` component, cached by content hash, with
//!   `toolchain` installing the `wasm32-wasip2` target when the toolchain lacks it;
//! * [`engine`] owns the one wasmtime `Engine` and its epoch ticker;
//! * [`component`] compiles (through [`cache`]), link-checks and pre-instantiates components;
//! * [`sandbox`] runs one call in a fresh `Store` with the limits of [`limits`] and the
//!   capabilities granted in [`grants`] — this is where a tool call is sandboxed;
//! * [`capabilities`] implements each host interface the guests import, one module each;
//! * [`workspace`] is the running workspace (boot stages, skills, adapter, A2A bridge), and
//!   the `cli` of the binary sits on top.
//!
//! ARCHITECTURE.md at the repository root tells the whole flow and the layering rules.

pub mod bindings;
pub mod budgets;
pub mod build_info;
pub mod builder;
pub mod cache;
mod call_text;
pub mod capabilities;
pub mod cli_agent;
pub mod component;
pub mod describe;
pub mod engine;
pub mod grants;
pub mod javascript;
pub mod limits;
mod link_check;
mod liveness;
mod loaded;
pub mod mcp;
mod metrics;
mod metrics_receipts;
pub mod outbound;
pub mod plan;
pub mod python;
pub mod receipt;
pub mod redact;
pub mod sandbox;
pub mod scaffold;
pub mod scheduler;
pub mod skill_dir;
mod skill_snapshot;
pub mod source_digest;
mod state;
mod toolchain;
mod tree_hash;
pub mod uploads;
mod wasi;
pub mod workspace;
