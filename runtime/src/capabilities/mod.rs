//! The host interfaces guests import, one module per capability, all in one shape (as Spin's
//! factors and wasmtime's `WasiView`):
//!
//! * a **backend trait** — what the host needs from whoever provides the capability — with
//!   its backends beside it (`memory/sqlite.rs`, `llm/gateway.rs`, ...);
//! * a **per-store context** (`MemoryCtx`, `LlmCtx`, ...): for most capabilities a
//!   [`Granted`] backend, whose [`Granted::get`] is the one allow-check (else `denied`, with
//!   [`Denial`]'s text naming the component, the capability and where to grant it);
//! * the generated WIT `Host` trait implemented **on that context** (or, for `llm`, on a view
//!   that adds the store's resource table), so host code sees its own capability and nothing
//!   else of the store, and each capability can be tested alone by calling its trait on a
//!   context built in the test (see the unit tests beside each one).
//!
//! A store's data holds one [`Capabilities`] and exposes it through [`CapabilitiesView`];
//! [`add_to_linker`] links every interface of `world host-imports` to its context. Every
//! interface is always linked; an ungranted one answers `denied`. This module imports neither
//! the store's state nor the grants: `state.rs` builds the contexts from the grants.

pub mod a2a;
pub mod config;
pub mod events;
mod grant;
pub mod heartbeat;
pub mod llm;
pub mod log;
pub mod memory;
pub mod tools;

pub use grant::{Denial, Granted};

use wasmtime::component::{HasSelf, Linker, ResourceTable};

use crate::bindings::imports::molecule::runtime as wit;

/// Every molecule capability of one store, each its own context.
pub struct Capabilities {
    /// `log`.
    pub log: log::LogCtx,
    /// `config`.
    pub config: config::ConfigCtx,
    /// `memory`.
    pub memory: memory::MemoryCtx,
    /// `a2a`.
    pub a2a: a2a::A2aCtx,
    /// `heartbeat`.
    pub heartbeat: heartbeat::HeartbeatCtx,
    /// `llm`.
    pub llm: llm::LlmCtx,
    /// `tools`.
    pub tools: tools::ToolsCtx,
    /// `events`.
    pub events: events::EventsCtx,
}

impl wit::types::Host for Capabilities {}

/// How a store's data gives the capabilities their contexts: the [`Capabilities`] and the
/// store's resource table (for resources such as chat streams).
pub trait CapabilitiesView: Send {
    /// The capabilities and the resource table, borrowed together.
    fn capabilities(&mut self) -> (&mut Capabilities, &mut ResourceTable);
}

/// Links every molecule host interface into `linker`, each to its own context in `T`.
pub fn add_to_linker<T: CapabilitiesView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    fn caps<T: CapabilitiesView>(t: &mut T) -> &mut Capabilities {
        t.capabilities().0
    }
    wit::types::add_to_linker::<T, HasSelf<Capabilities>>(linker, caps)?;
    wit::log::add_to_linker::<T, HasSelf<log::LogCtx>>(linker, |t| &mut caps(t).log)?;
    wit::config::add_to_linker::<T, HasSelf<config::ConfigCtx>>(linker, |t| &mut caps(t).config)?;
    wit::memory::add_to_linker::<T, HasSelf<memory::MemoryCtx>>(linker, |t| &mut caps(t).memory)?;
    wit::a2a::add_to_linker::<T, HasSelf<a2a::A2aCtx>>(linker, |t| &mut caps(t).a2a)?;
    wit::heartbeat::add_to_linker::<T, HasSelf<heartbeat::HeartbeatCtx>>(linker, |t| {
        &mut caps(t).heartbeat
    })?;
    wit::llm::add_to_linker::<T, llm::LlmData>(linker, |t| {
        let (caps, table) = t.capabilities();
        llm::LlmView {
            ctx: &caps.llm,
            table,
        }
    })?;
    wit::tools::add_to_linker::<T, HasSelf<tools::ToolsCtx>>(linker, |t| &mut caps(t).tools)?;
    wit::events::add_to_linker::<T, HasSelf<events::EventsCtx>>(linker, |t| &mut caps(t).events)?;
    Ok(())
}
