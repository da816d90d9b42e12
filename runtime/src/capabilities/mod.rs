//! The host interfaces guests import, one module per capability, all with the same shape:
//! a backend trait (what the host needs from whoever provides the capability), the
//! implementation of the generated WIT `Host` trait on [`HostState`](crate::state::HostState)
//! (grant check, then delegate to the backend), and the backends themselves.
//!
//! Every interface is always linked; an ungranted one answers `denied`.

pub mod a2a;
pub mod config;
pub mod events;
pub mod heartbeat;
pub mod llm;
pub mod log;
pub mod memory;
pub mod tools;

use crate::bindings::imports::molecule::runtime::types;
use crate::state::HostState;

impl types::Host for HostState {}

/// Adds every molecule host interface to `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    crate::bindings::imports::HostImports::add_to_linker::<HostState, HasSelf<HostState>>(
        linker,
        |state| state,
    )
}
