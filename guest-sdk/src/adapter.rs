//! Writing an adapter (an agent loop) component: the `Adapter` trait and `export_adapter!`.
//!
//! Only compiled with the `adapter` feature, which generates the WIT world `adapter` (export
//! `molecule:runtime/agent`). The trait mirrors the WIT functions but speaks serde_json for the
//! configuration; `export_adapter!` implements the generated `Guest` trait on a hidden type that
//! forwards to the author's `Adapter` implementation. Its settings form also writes that
//! implementation: a `SetupCell` static filled by `setup` (through `setup_settings`) and read
//! by `execute` (through `execute_with_settings`, with `WasmHost`).

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
//!
//! An adapter built from the [`agent`](crate::agent) library usually parses its settings in
//! `setup` and runs a loop over them in `execute`; the settings form of `export_adapter!`
//! writes that [`Adapter`] implementation, see [`export_adapter!`](crate::export_adapter).

use crate::agent::{AgentError, AgentHost, SetupCell};
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

/// `setup` of the settings form of [`export_adapter!`](crate::export_adapter): prepares the
/// settings from `config` and keeps them in `cell`; a preparation error is returned as is.
#[doc(hidden)]
pub fn setup_settings<S: Clone>(
    cell: &SetupCell<S>,
    config: Value,
    prepare: impl FnOnce(Value) -> Result<S, String>,
) -> Result<(), String> {
    cell.set(prepare(config)?);
    Ok(())
}

/// `execute` of the settings form of [`export_adapter!`](crate::export_adapter): runs the task
/// on the settings in `cell` (an error when `setup` did not run or failed), the loop's error
/// as its text.
#[doc(hidden)]
pub fn execute_with_settings<S: Clone>(
    cell: &SetupCell<S>,
    host: &dyn AgentHost,
    context: &RequestContext,
    run: impl FnOnce(&dyn AgentHost, &S, &RequestContext) -> Result<(), AgentError>,
) -> Result<(), String> {
    run(host, &cell.get()?, context).map_err(String::from)
}

/// Exports an adapter: implements the WIT `agent` interface by forwarding to a type that
/// implements [`adapter::Adapter`](crate::adapter::Adapter). Invoke it once, at the top level
/// of the component's crate (a `cdylib`). See the [`adapter`](crate::adapter) module for an
/// example.
///
/// The settings form also writes the `Adapter` implementation of an adapter whose `setup`
/// only prepares settings for `execute`:
///
/// ```ignore
/// export_adapter!(MyAdapter {
///     name: "mine",                    // Adapter::name
///     settings: Settings = settings,   // type; fn(Value) -> Result<Settings, String>
///     run: run,                        // fn(&dyn AgentHost, &Settings, &RequestContext)
///                                      //     -> Result<(), AgentError>
/// });
/// ```
///
/// `setup` calls the settings function (a function or a closure) and keeps its value in a
/// [`SetupCell`](crate::agent::SetupCell) static; its error fails `setup` as is. `execute`
/// calls `run` with [`WasmHost`](crate::agent::WasmHost) and those settings: before a
/// successful `setup` it fails with `adapter not configured: setup did not run or failed`, an
/// [`AgentError`](crate::agent::AgentError) fails it with the error's text. `cancel` does
/// nothing. For example:
///
/// ```no_run
/// use molecule_guest_sdk::adapter::RequestContext;
/// use molecule_guest_sdk::agent::{
///     build_conversation, finish, run_tool_loop, AgentConfig, AgentError, AgentHost,
///     LoopOptions, NoLocalTools,
/// };
///
/// #[derive(Clone)]
/// struct Settings {
///     prompt: String,
///     options: LoopOptions,
/// }
///
/// fn run(host: &dyn AgentHost, s: &Settings, context: &RequestContext) -> Result<(), AgentError> {
///     let messages = build_conversation(&s.prompt, &context.history, &context.message);
///     let outcome = run_tool_loop(host, messages, &s.options, &mut NoLocalTools)?;
///     finish(host, context, &outcome.text, None)
/// }
///
/// /// The exported adapter.
/// pub struct Mine;
///
/// molecule_guest_sdk::export_adapter!(Mine {
///     name: "mine",
///     settings: Settings = |config| {
///         let config = AgentConfig::from_value(config)?;
///         let max_turns = config.runtime_config.u32_or("max_turns", 10)?;
///         let options = LoopOptions { max_turns, ..LoopOptions::default() };
///         Ok(Settings { prompt: config.system_prompt, options })
///     },
///     run: run,
/// });
/// ```
#[macro_export]
macro_rules! export_adapter {
    (
        $adapter:ty {
            name: $name:expr,
            settings: $settings:ty = $prepare:expr,
            run: $run:expr $(,)?
        }
    ) => {
        const _: () = {
            static SETTINGS: $crate::agent::SetupCell<$settings> =
                $crate::agent::SetupCell::new();

            impl $crate::adapter::Adapter for $adapter {
                fn name() -> ::std::string::String {
                    ::std::string::String::from($name)
                }

                fn setup(
                    config: $crate::Value,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::adapter::setup_settings(&SETTINGS, config, $prepare)
                }

                fn execute(
                    context: $crate::adapter::RequestContext,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::adapter::execute_with_settings(
                        &SETTINGS,
                        &$crate::agent::WasmHost,
                        &context,
                        $run,
                    )
                }
            }
        };

        $crate::export_adapter!($adapter);
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{test_context, FakeHost, HostEvent};
    use serde_json::json;

    #[derive(Clone)]
    struct Named(String);

    fn prepare(config: Value) -> Result<Named, String> {
        match config["name"].as_str() {
            Some(name) => Ok(Named(name.into())),
            None => Err("name: missing".into()),
        }
    }

    fn run(host: &dyn AgentHost, named: &Named, _: &RequestContext) -> Result<(), AgentError> {
        if named.0 == "cancel" {
            return Err(AgentError::Cancelled);
        }
        host.set_current_task(&named.0);
        Ok(())
    }

    #[test]
    fn settings_flow_from_setup_to_execute() {
        let cell = SetupCell::new();
        let host = FakeHost::new();
        let context = test_context("hi", vec![]);
        let unset = execute_with_settings(&cell, &host, &context, run);
        assert_eq!(
            unset.unwrap_err(),
            "adapter not configured: setup did not run or failed"
        );
        assert_eq!(
            setup_settings(&cell, json!({}), prepare).unwrap_err(),
            "name: missing"
        );
        setup_settings(&cell, json!({"name": "cancel"}), prepare).unwrap();
        let err = execute_with_settings(&cell, &host, &context, run).unwrap_err();
        assert_eq!(err, AgentError::Cancelled.to_string());
        setup_settings(&cell, json!({}), |_| Ok(Named("ok".into()))).unwrap();
        execute_with_settings(&cell, &host, &context, run).unwrap();
        assert_eq!(host.events(), [HostEvent::CurrentTask("ok".into())]);
    }
}
