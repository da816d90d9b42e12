//! [`WorkspaceConfig`]: config.yaml read leniently (every key has a default, problems become
//! warnings) except where leniency would be a silent security downgrade: a file that exists
//! but cannot be read or parsed, and unusable security settings, become errors that preflight
//! turns into FAILs. The environment's model and provider overrides are applied.
//!
//! The pieces: `config` (the type, [`Origin`] and the constants), `load` (finding, reading and
//! parsing config.yaml, failing closed), `read` (each key with its default, and the top-level
//! key checks) and `model` (picking the model and provider).

mod config;
mod load;
mod model;
mod read;

pub use config::{
    Origin, WorkspaceConfig, CONFIG_FILE, DEFAULT_MODEL, DEFAULT_PROMPT_FILE, DEFAULT_RUNTIME,
    MAX_CONFIG_BYTES,
};
pub use model::{model_matches, model_prefix};
