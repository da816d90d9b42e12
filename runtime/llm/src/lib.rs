//! `molecule-llm`: the model gateway of the Molecule runtime host.
//!
//! Guests (wasm adapters) call the WIT `llm` interface; the host maps those calls 1:1 onto the
//! neutral types here and hands them to a [`Gateway`], which picks a [`Provider`] (Anthropic,
//! OpenAI-compatible, Gemini or the offline `scripted` replay), retries transient failures,
//! enforces timeouts and counts tokens per task. Credentials live in [`Credentials`] inside the
//! host and never reach a guest.
//!
//! ```no_run
//! # async fn demo() -> Result<(), molecule_llm::LlmError> {
//! use molecule_llm::*;
//! let selection = ModelSelection::resolve(None, "anthropic:claude-opus-4-7")?;
//! let gateway = Gateway::new(selection, Credentials::from_env())?;
//! let request = ChatRequest {
//!     messages: vec![ChatMessage::user("Hello")],
//!     ..Default::default()
//! };
//! let answer = gateway.complete("task-1", request).await?;
//! println!("{} ({:?})", answer.message.content, gateway.usage_for("task-1"));
//! # Ok(()) }
//! ```

mod anthropic;
mod credentials;
mod gateway;
mod gemini;
pub mod generation;
mod http;
mod openai;
mod provider;
mod scripted;
mod selection;
mod sse;
mod types;

pub use anthropic::{Anthropic, AnthropicAuth, ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS, OAUTH_BETA};
pub use credentials::*;
pub use gateway::Gateway;
pub use gemini::Gemini;
pub use openai::OpenAiCompatible;
pub use provider::{HttpOptions, Provider};
pub use scripted::ScriptedProvider;
pub use selection::{ModelSelection, ProviderKind, CLAUDE_ALIASES};
pub use types::{
    ChatMessage, ChatRequest, ChatResponse, ChatRole, ChatStream, ErrorKind, LlmError, RetryPolicy,
    StreamEvent, Timeouts, ToolCall, ToolSpec, Usage,
};
