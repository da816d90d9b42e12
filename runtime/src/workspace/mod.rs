//! The running workspace: its skills (loaded, swapped on change), the adapter executor that
//! serves A2A tasks, the tools adapters see, and the Agent Card.

pub mod adapter_reload;
pub mod boot;
pub mod card;
pub mod convert;
mod discover;
pub mod events;
pub mod executor;
pub mod operate;
pub mod peers;
pub mod platform;
pub mod policy;
pub mod prompt_reload;
pub mod reload;
pub mod skills;
pub mod smoke;
pub mod tools;
