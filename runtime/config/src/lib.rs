//! molecule-config: the first stage of the runtime's one-way data flow
//! (config → plan → running workspace).
//!
//! - [`Env`]: the environment variables the runtime reads, captured once.
//! - [`WorkspaceConfig`]: config.yaml, read leniently (defaults + [`Warning`]s) but failing
//!   closed on an unusable file or security setting (`errors`), including the capability
//!   [`GrantsConfig`]; [`CapabilityRequest`] is a skill's side and [`effective()`] intersects
//!   the two.
//! - [`preflight()`]: the PASS/WARN/FAIL checks run before the workspace goes live.
//! - [`load_plugins`]: plugins from `<configs>/plugins` and `$PLUGINS_DIR`.
//! - [`system_prompt`]: the one place the system prompt is assembled.

#![warn(missing_docs)]

mod approval;
mod capabilities;
mod card_keys;
mod cli_runtime;
mod effective;
mod env;
mod extended_card;
mod grants_config;
mod key_path;
mod keys;
mod lenient;
mod log_level;
mod mcp;
mod outbound;
mod packages;
mod plugins;
mod preflight;
mod prompt;
mod report;
mod sandbox;
mod secret_grants;
mod sections;
mod source;
pub mod units;
mod uploads;
mod warning;
mod workspace;

#[cfg(test)]
mod tests;

pub use approval::ApprovalConfig;
pub use capabilities::{CapabilitySet, DirAccess, DirMode, HostOrigin, Interface, SecretUse};
pub use card_keys::{CardSigningConfig, TrustedCardKey};
pub use cli_runtime::{
    is_runtime_secret, CliConfig, CliInput, CLI_RUNTIME, DEFAULT_KILL_GRACE,
    DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_OUTPUT, MAX_CONCURRENT, MAX_KILL_GRACE, RUNTIME_SECRETS,
};
pub use effective::{effective, CapabilityKind, Denial, Effective, Unrequested};
pub use env::{
    Env, DEFAULT_CONFIG_PATH, DEFAULT_PLUGINS_DIR, DEFAULT_SMOKE_TIMEOUT_SECS, MAX_PARENT_ID_BYTES,
};
pub use extended_card::{ExtendedCardConfig, ExtendedSkill};
pub use grants_config::{CapabilityRequest, Grant, GrantsConfig};
pub use log_level::{LogLevel, DEFAULT_LOG_LEVEL, LOG_LEVELS};
pub use mcp::McpConfig;
pub use outbound::{outbound_mode, PlatformConfig, OUTBOUND_VAR};
pub use packages::{
    is_package_reference, is_pinned, package_skill_id, PackagesConfig, SignaturePolicy,
};
pub use plugins::{
    load_plugins, Plugin, PluginManifest, PluginOrigin, PluginSet, PromptText, Shadowed,
    SkippedPlugin,
};
pub use preflight::preflight;
pub use prompt::{system_prompt, PromptParts, PromptPeer, PromptSkill};
pub use report::{Check, PreflightReport, Status};
pub use sandbox::{
    SandboxConfig, DEFAULT_MAX_GUEST_MEMORY, DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT,
    MAX_CONCURRENT_CALLS, MAX_TABLE_ELEMENTS, MIN_GUEST_MEMORY,
};
pub use sections::{
    A2aConfig, DelegationConfig, ModelOption, ObservabilityConfig, RuntimeConfig,
    DEFAULT_SHUTDOWN_GRACE, MAX_HEARTBEAT_SECS, MIN_HEARTBEAT_SECS,
};
pub use uploads::{
    UploadsConfig, DEFAULT_MAX_CONTEXT_BYTES, DEFAULT_MAX_CONTEXT_FILES, DEFAULT_MAX_FILE_BYTES,
    DEFAULT_RETENTION, MAX_FILE_BYTES_CEILING, MAX_RETENTION, MIN_RETENTION,
};
pub use warning::{escape_text, Warning};
pub use workspace::{
    model_matches, model_prefix, Origin, WorkspaceConfig, CONFIG_FILE, DEFAULT_MODEL,
    DEFAULT_PROMPT_FILE, DEFAULT_RUNTIME, MAX_CONFIG_BYTES,
};
