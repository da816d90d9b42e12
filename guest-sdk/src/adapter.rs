// Writing an adapter (an agent loop) component: the `Adapter` trait and `export_adapter!`.
//
// Only compiled with the `adapter` feature, which generates the WIT world `adapter` (export
// `molecule:runtime/agent`). The trait mirrors the WIT functions but speaks serde_json for the
// configuration; `export_adapter!` implements the generated `Guest` trait on a hidden type that
// forwards to the author's `Adapter` implementation.

//! Writing an adapter: a component that runs the agent loop for tasks.
//!
//! Enable the feature: `molecule-guest-sdk = { path = "...", default-features = false,
//! features = ["adapter"] }`, implement [`Adapter`] and export it with
//! [`export_adapter!`](crate::export_adapter):
//!
//! ```no_run
//! use molecule_guest_sdk::adapter::{Adapter, RequestContext};
//! use molecule_guest_sdk::{events, llm, types::TaskState};
//!
//! struct Echo;
//!
//! impl Adapter for Echo {
//!     fn name() -> String {
//!         "echo".into()
//!     }
//!
//!     fn setup(_config: serde_json::Value) -> Result<(), String> {
//!         Ok(())
//!     }
//!
//!     fn execute(context: RequestContext) -> Result<(), String> {
//!         let answer = llm::ask(&context.message.text()).map_err(|e| e.to_string())?;
//!         events::say(answer).map_err(|e| e.to_string())?;
//!         events::status(TaskState::Completed, None).map_err(|e| e.to_string())
//!     }
//! }
//!
//! molecule_guest_sdk::export_adapter!(Echo);
//! ```

pub use crate::bindings::exports::molecule::runtime::agent::RequestContext;
use serde_json::Value;

/// An agent loop. All functions are associated functions: the host may run each call on a
/// fresh component instance, so state that must survive between calls belongs in the host
/// (memory, config) rather than in statics.
pub trait Adapter {
    /// The adapter's runtime name, e.g. `langgraph`. Must equal the config's `runtime`.
    fn name() -> String;

    /// Prepares the adapter with the workspace configuration (config.yaml after defaults, as
    /// JSON). An error leaves the workspace serving but not configured.
    fn setup(config: Value) -> Result<(), String>;

    /// Executes one task, reporting progress through [`events`](crate::events). Returning
    /// `Ok` without a terminal status completes the task; `Err` fails it with that reason.
    fn execute(context: RequestContext) -> Result<(), String>;

    /// Called on a fresh instance after the host stopped `execute` for `task_id` because the
    /// client cancelled it. The default does nothing.
    fn cancel(task_id: String) {
        let _ = task_id;
    }
}

impl RequestContext {
    /// The request metadata parsed as JSON (`Value::Null` if the text is not JSON).
    pub fn metadata_value(&self) -> Value {
        serde_json::from_str(&self.metadata).unwrap_or(Value::Null)
    }
}

/// Parses the `setup` configuration text; used by [`export_adapter!`](crate::export_adapter).
#[doc(hidden)]
pub fn parse_config(config: &str) -> Result<Value, String> {
    if config.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(config).map_err(|e| format!("configuration is not valid JSON: {e}"))
}

/// Exports an adapter: implements the WIT `agent` interface by forwarding to a type that
/// implements [`adapter::Adapter`](crate::adapter::Adapter). Invoke it once, at the top level
/// of the component's crate (a `cdylib`). See the [`adapter`](crate::adapter) module for an
/// example.
#[macro_export]
macro_rules! export_adapter {
    ($adapter:ty) => {
        const _: () = {
            struct MoleculeAdapterExport;

            impl $crate::bindings::exports::molecule::runtime::agent::Guest
                for MoleculeAdapterExport
            {
                fn name() -> ::std::string::String {
                    <$adapter as $crate::adapter::Adapter>::name()
                }

                fn setup(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    let config = $crate::adapter::parse_config(&config)?;
                    <$adapter as $crate::adapter::Adapter>::setup(config)
                }

                fn execute(
                    context: $crate::adapter::RequestContext,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    <$adapter as $crate::adapter::Adapter>::execute(context)
                }

                fn cancel(task_id: ::std::string::String) {
                    <$adapter as $crate::adapter::Adapter>::cancel(task_id)
                }
            }

            $crate::bindings::__export_adapter_world!(
                MoleculeAdapterExport with_types_in $crate::bindings
            );
        };
    };
}
