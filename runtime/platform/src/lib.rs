//! `molecule-platform`: how a molecule-runtime workspace talks to the Molecule platform, per
//! `molecule-contract.md` ("Platform API used by the runtime").
//!
//! - [`PlatformClient`]: every call authenticated (token lookup memory → `<configs>/.auth_token`
//!   → `MOLECULE_WORKSPACE_TOKEN`), register with retry, heartbeat, update-card, discover,
//!   peers, workspace info, the A2A proxy, activity, memories, secrets, notify, external mode.
//! - [`HeartbeatLoop`]: scheduled and poked beats that survive outages and re-register.
//! - [`ActivityReporter`]: non-blocking activity reports through a bounded queue.
//! - [`InitialPrompt`] and [`IdleLoop`]: startup steps 15 and 16.
//! - `fake` (feature `fake`): an in-process fake platform for tests and local experiments.

mod a2a;
mod activity;
mod backoff;
mod calls;
mod client;
mod error;
mod heartbeat;
mod prompts;
mod token;
mod types;

#[cfg(feature = "fake")]
pub mod fake;

pub use a2a::{message_send, A2aOutcome};
pub use activity::{Activity, ActivityConfig, ActivityReporter, ActivityStats, ActivityType};
pub use backoff::Backoff;
pub use calls::create_workspace;
pub use client::{PlatformClient, PlatformClientBuilder, WORKSPACE_HEADER};
pub use error::PlatformError;
pub use heartbeat::{
    HeartbeatHandle, HeartbeatLoop, HeartbeatPoker, HeartbeatSource, HeartbeatStats,
    HeartbeatStatus,
};
pub use prompts::{
    IdleHandle, IdleLoop, InitialPrompt, InitialPromptOutcome, INITIAL_PROMPT_MARKER,
};
pub use token::{write_private_atomic, TokenOrigin, TokenStore, TOKEN_FILE};
pub use types::{
    AgentCard, CardCapabilities, CardSkill, ConfigurationStatus, Discovered, Heartbeat,
    HeartbeatResponse, MemoryCreated, MemoryEntry, MemoryScope, NewMemory, Peer, RegisterRequest,
    RegisterResponse, Secrets, WorkspaceInfo,
};
