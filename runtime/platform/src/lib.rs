//! `molecule-platform`: how a molecule-runtime workspace talks to the Molecule platform, per
//! `molecule-contract.md` ("Platform API used by the runtime").
//!
//! - [`PlatformClient`]: every call authenticated (token lookup memory → `<data>/.auth_token`
//!   → legacy `<configs>/.auth_token` → `MOLECULE_WORKSPACE_TOKEN`), register with retry,
//!   heartbeat, update-card, discover, peers, workspace info, the A2A proxy, activity,
//!   memories, secrets, notify, external mode.
//! - [`HeartbeatLoop`]: scheduled and poked (coalesced) beats that survive outages and
//!   re-register when the platform forgot the workspace or refuses its token.
//! - [`ActivityReporter`]: non-blocking activity reports through a bounded queue, sent in
//!   batches; drops counted and summarised.
//! - [`CardUpdates`]: `update-card` in the background; [`InboundSecretFile`]: the platform's
//!   inbound secret kept across restarts.
//! - [`InitialPrompt`] and [`IdleLoop`]: startup steps 15 and 16.
//! - [`relay_frame`]: the frames of the outbound relay (workspaces behind NAT).
//! - `fake` (feature `fake`): an in-process fake platform for tests and local experiments.

mod a2a;
mod activity;
mod backoff;
mod calls;
mod card_updates;
mod client;
mod error;
mod heartbeat;
mod heartbeat_run;
mod inbound;
mod parent;
mod prompts;
pub mod relay_frame;
mod reporter;
mod summary;
mod token;
mod types;

#[cfg(feature = "fake")]
pub mod fake;

pub use a2a::{message_send, A2aOutcome};
pub use activity::{Activity, ActivityType};
pub use backoff::Backoff;
pub use calls::create_workspace;
pub use card_updates::{CardUpdates, CARD_RETRY};
pub use client::{PlatformClient, PlatformClientBuilder, WORKSPACE_HEADER};
pub use error::PlatformError;
pub use heartbeat::{
    HeartbeatHandle, HeartbeatLoop, HeartbeatPoker, HeartbeatSource, HeartbeatStats,
    HeartbeatStatus, DEFAULT_MIN_GAP,
};
pub use inbound::{InboundSecretFile, INBOUND_SECRET_FILE};
pub use parent::Parent;
pub use prompts::{
    IdleHandle, IdleLoop, InitialPrompt, InitialPromptOutcome, INITIAL_PROMPT_MARKER,
};
pub use reporter::{ActivityConfig, ActivityCounters, ActivityReporter, ActivityStats};
pub use token::{write_private_atomic, TokenOrigin, TokenStore, TOKEN_FILE};
pub use types::{
    AgentCard, CardCapabilities, CardSkill, ConfigurationStatus, Discovered, Heartbeat,
    HeartbeatResponse, MemoryCreated, MemoryEntry, MemoryScope, NewMemory, Peer, RegisterRequest,
    RegisterResponse, Secrets, WorkspaceInfo,
};
