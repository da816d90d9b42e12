//! molecule-egress: outgoing HTTP for untrusted skill components. An allowlist of origins per
//! component, one DNS resolution per request, refusal of private/loopback/link-local addresses
//! unless granted literally, and a connection to exactly the address that was checked.

//! Outgoing-HTTP policy for molecule-runtime skills, as a `wasmtime-wasi-http` 48 hook.
//!
//! A skill reaches the network only through `wasi:http/outgoing-handler` (never `wasi:sockets`,
//! which the host keeps denied). Every request goes through [`EgressHooks::send`]:
//!
//! 1. The request's `scheme://host:port` must match an entry of the component's
//!    [`EgressPolicy`] (parsed from `grants.skills.<id>.hosts`), else the guest gets
//!    `error-code::HTTP-request-denied` and the host logs a warning naming the component, the
//!    origin and the config key that would allow it.
//! 2. A host name is resolved **once** through a [`Resolver`].
//! 3. Unless the exact host was granted literally (as an IP, or as that very name, e.g.
//!    `http://localhost:8080`), addresses that [`classify`] as loopback, private, link-local
//!    (cloud metadata), CGNAT, unspecified, broadcast, multicast or reserved are dropped —
//!    also in their IPv4-mapped/compatible, NAT64 and 6to4 IPv6 forms. None left →
//!    `error-code::destination-IP-prohibited`, logged. A `*.example.com` grant never reaches
//!    such addresses: that is what defeats DNS rebinding.
//! 4. The TCP connection goes to exactly a checked address (`TcpStream::connect(addr)`); no
//!    second resolution happens anywhere. HTTPS uses rustls (ring, web PKI roots plus
//!    [`EgressPolicy::extra_root`]) with SNI and certificate name = the requested host.
//! 5. Connect (TCP+TLS+handshake), first-byte and between-bytes timeouts apply (the guest may
//!    ask for shorter ones via `request-options`), and the response body is capped at
//!    [`EgressPolicy::max_response_bytes`] (`HTTP-response-body-size` past it).
//! 6. With a per-call [`CallBudget`] ([`EgressState::with_budget`]), requests past its count
//!    are refused before step 1 (`internal-error` with the embedder's text), and request plus
//!    response body bytes past its size end the body with that error.
//! 7. With secrets ([`EgressHooks::with_secrets`], module [`secrets`]), the guest holds
//!    placeholders: after step 1 they are replaced by the values in requests to each secret's
//!    origins (headers; bodies where allowed) and refused anywhere else; every response has
//!    the values masked ([`RedactedBody`], [`redact_headers`]) before the guest reads it.
//!
//! Granting a *name* literally trusts its DNS: if `http://intranet.corp` is granted and
//! resolves to 10.0.0.5, the request goes through. Grant public APIs by exact name only when
//! that is intended; `*.` patterns stay restricted to public addresses.
//!
//! # What the host wires
//!
//! The store state keeps one [`EgressState`] (or a `WasiHttpCtx` plus an [`EgressHooks`]) and
//! implements [`wasmtime_wasi_http::WasiHttpView`], sharing the store's one `ResourceTable`
//! with `WasiView`. The linker gets `wasi:http` with [`add_to_linker`] (=
//! `wasmtime_wasi_http::p2::add_only_http_to_linker_async`) after
//! `wasmtime_wasi::p2::add_to_linker_async`, which supplies the `wasi:io`/`wasi:clocks`
//! interfaces wasi-http builds on. Calls must be async (`instantiate_async`, `call_async`)
//! inside a tokio runtime.
//!
//! ```no_run
//! use std::sync::Arc;
//! use wasmtime::component::{Linker, ResourceTable};
//! use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
//! use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};
//! use molecule_egress::{EgressHooks, EgressPolicy, EgressState};
//!
//! struct HostState {
//!     wasi: WasiCtx,
//!     table: ResourceTable,
//!     egress: EgressState,
//! }
//! impl WasiView for HostState {
//!     fn ctx(&mut self) -> WasiCtxView<'_> {
//!         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
//!     }
//! }
//! impl WasiHttpView for HostState {
//!     fn http(&mut self) -> WasiHttpCtxView<'_> {
//!         self.egress.view(&mut self.table)
//!     }
//! }
//!
//! # fn main() -> anyhow::Result<()> {
//! # let engine = wasmtime::Engine::default();
//! // Once per component version (parsing and TLS roots are done here):
//! let policy = EgressPolicy::new("web-fetch", &["https://api.example.com", "https://*.wikipedia.org"])?;
//! let hooks = EgressHooks::new(policy)?;
//! // Once per linker:
//! let mut linker: Linker<HostState> = Linker::new(&engine);
//! wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
//! molecule_egress::add_to_linker(&mut linker)?;
//! // Per store:
//! let state = HostState {
//!     wasi: WasiCtx::builder().build(),
//!     table: ResourceTable::new(),
//!     egress: EgressState::new(hooks.clone()),
//! };
//! # let _ = state; Ok(()) }
//! ```
//!
//! A component granted no hosts can use [`EgressPolicy::deny_all`] (every request denied and
//! logged) — or the host may leave `wasi:http` unlinked for it, so it fails the link check.
//!
//! Beside the guest policy, [`off_the_internet`] tells the host's own plain-HTTP settings
//! (`LANGFUSE_HOST`, the outbound relay's `PLATFORM_URL`) whether a host cannot be public.

mod body;
mod budget;
mod classify;
mod hooks;
mod host_scope;
mod policy;
mod redact;
mod resolver;
pub mod secrets;

pub use body::{CappedBody, MeteredBody};
pub use budget::{CallBudget, Spent};
pub use classify::{classify, Restricted};
pub use hooks::{ConnectedAddr, EgressHooks, IoFuture, SetupError};
pub use host_scope::{off_the_internet, PRIVATE_SUFFIXES};
pub use policy::{
    EgressPolicy, Grant, HostPattern, Origin, PolicyError, RequestHost, Scheme, Timeouts,
    DEFAULT_MAX_RESPONSE_BYTES,
};
pub use redact::{redact_headers, RedactedBody, MASK};
pub use resolver::{Resolver, StaticResolver, SystemResolver};
pub use secrets::{new_placeholder, EgressSecrets, SecretBinding, PLACEHOLDER_PREFIX};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Default cap on the in-memory size of one guest `fields` resource (headers): 64 KiB.
pub const DEFAULT_FIELD_SIZE_LIMIT: usize = 64 * 1024;

/// Adds the `wasi:http` interfaces (`types`, `outgoing-handler`, async) to `linker`. Call it
/// after `wasmtime_wasi::p2::add_to_linker_async`, which provides `wasi:io` and the rest.
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

/// The per-store part of outgoing HTTP: the wasi-http context and this component's hooks.
/// Keep one in the store state and return [`EgressState::view`] from `WasiHttpView::http`.
pub struct EgressState {
    ctx: WasiHttpCtx,
    hooks: EgressHooks,
}

impl EgressState {
    /// State for one store, enforcing `hooks`' policy, with headers capped at
    /// [`DEFAULT_FIELD_SIZE_LIMIT`].
    pub fn new(hooks: EgressHooks) -> Self {
        let mut ctx = WasiHttpCtx::new();
        ctx.set_field_size_limit(DEFAULT_FIELD_SIZE_LIMIT);
        EgressState { ctx, hooks }
    }

    /// State for one store whose requests and body bytes count against `budget` (one per
    /// call; see [`EgressHooks::with_budget`]).
    pub fn with_budget(hooks: EgressHooks, budget: CallBudget) -> Self {
        Self::new(hooks.with_budget(budget))
    }

    /// The view wasi-http works through, borrowing the store's resource table.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }

    /// The hooks (and through them the policy) of this store.
    pub fn hooks(&self) -> &EgressHooks {
        &self.hooks
    }
}
