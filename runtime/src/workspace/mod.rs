//! The running workspace, by idea:
//!
//! * start-up — [`boot`] (one stage after another), with `deps.rs` what it needs besides the
//!   plan, [`registry`] the skill registry the plan describes, `adapter.rs` the adapter's
//!   load, setup and hot reload, `prompt.rs` the system prompt and its rebuild;
//! * the skills — [`skills`] (one atomically swapped snapshot; `discover.rs` finds the
//!   folders) under the grants of [`policy`];
//! * the A2A bridge — `executor.rs` runs each task on the adapter, `convert.rs` maps the wire
//!   types to the WIT ones, `card.rs` builds the Agent Card, `metrics_route.rs` serves
//!   `GET /metrics` beside it and [`health_route`] `GET /healthz` and `GET /readyz`;
//! * the capability backends of one task — [`task_tools`] (skill tools and built-ins),
//!   `task_events.rs`, `peers.rs` (the platform's peers); [`approval`] (a task resting until
//!   a human answers);
//! * joining the platform — `platform.rs`, the secrets it hands out `platform_secrets.rs`;
//! * hot reload — [`reload`] (the folder watcher);
//! * the smoke command — [`smoke`].

mod adapter;
pub mod approval;
pub mod boot;
mod cancel;
pub(crate) mod card;
mod continued;
mod convert;
mod deps;
mod discover;
mod executor;
mod final_status;
pub mod health_route;
mod metrics_route;
pub mod packages;
mod peer_cards;
mod peers;
mod platform;
mod platform_secrets;
pub mod policy;
mod prompt;
mod register;
pub mod registry;
pub mod reload;
pub mod skills;
pub mod smoke;
mod task_events;
mod task_receipt;
pub mod task_tools;
mod tool_index;
mod transcript;
mod transcript_markdown;
mod transcript_route;
