//! The adapter: load it (build if needed, compile, link-check, with its grants), set it up —
//! ready to serve, or the reason the workspace is "not configured" — and reload it hot: when
//! its crate or `.wasm` changes, the new version is built, compiled, link-checked and set up
//! before it replaces the old one; tasks already running finish on the old version. A failed
//! reload keeps the old version serving.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use arc_swap::ArcSwap;

use super::deps::BootDeps;
use super::reload::{watch_folders, FolderWatcher, DEBOUNCE};
use crate::capabilities::llm::model_access;
use crate::capabilities::memory::MemoryBackend;
use crate::component::AdapterComponent;
use crate::grants::Grants;
use crate::limits::SandboxLimits;
use crate::plan::Plan;
use crate::sandbox::Sandbox;

/// Builds (if needed), compiles and link-checks the adapter, with its grants.
pub(crate) async fn load_adapter(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
) -> anyhow::Result<AdapterComponent> {
    let runtime = &plan.adapter.runtime;
    let path = plan.adapter.path.clone().with_context(|| {
        format!("unknown runtime `{runtime}`: not a built-in adapter, a .wasm file or a crate")
    })?;
    let wasm_path = if path.is_file() {
        path
    } else {
        let builder = deps.builder.clone();
        tokio::task::spawn_blocking(move || builder.build(&path))
            .await
            .context("adapter build task")??
            .wasm
    };
    let wasm = tokio::fs::read(&wasm_path)
        .await
        .with_context(|| format!("reading {}", wasm_path.display()))?;
    let limits = SandboxLimits {
        timeout: plan
            .config
            .runtime_config
            .timeout
            .unwrap_or(std::time::Duration::from_secs(600)),
        ..SandboxLimits::configured(&plan.config.sandbox)
    };
    let grants = Grants::builder(format!("adapter {runtime}"))
        .heartbeat(Arc::new(crate::liveness::LivenessBackend))
        .grant_hint("config.yaml")
        .limits(limits)
        .memory(memory.clone())
        .llm(model_access(&deps.gateway, "setup"));
    let adapter = deps.host.load_adapter(&wasm, grants.build()).await?;
    if adapter.name != *runtime && !runtime.contains('/') && !runtime.ends_with(".wasm") {
        tracing::warn!(adapter = %shown_name(&adapter.name), runtime = %runtime, "adapter name differs from `runtime`");
    }
    Ok(adapter)
}

/// Loads the adapter and runs its `setup` with the current `config`: the adapter, ready to
/// serve, or why the workspace is not configured (it did not load, it needs a model there is
/// none of, or its setup refused or crashed).
pub(crate) async fn ready_adapter(
    plan: &Plan,
    deps: &BootDeps,
    memory: &Arc<dyn MemoryBackend>,
    config: &ArcSwap<String>,
) -> Result<AdapterComponent, String> {
    let adapter = load_adapter(plan, deps, memory)
        .await
        .map_err(|err| format!("{err:#}"))?;
    if let Some(reason) = needs_model(&adapter, &deps.gateway) {
        return Err(reason);
    }
    let sandbox = Sandbox::new(deps.host.engine().clone());
    match sandbox
        .setup_adapter(&adapter, adapter.grants(), &config.load())
        .await
    {
        Ok(Ok(())) => Ok(adapter),
        Ok(Err(reason)) => Err(format!("adapter setup failed: {reason}")),
        Err(err) => Err(format!("adapter setup crashed: {err}")),
    }
}

/// Why the workspace cannot serve without a model: only an adapter that imports `llm` needs
/// one. An adapter that never calls the model runs without; were it to call, the call would
/// fail at once with `reason` (see [`model_access`]).
fn needs_model(
    adapter: &AdapterComponent,
    gateway: &Result<Arc<molecule_llm::Gateway>, String>,
) -> Option<String> {
    let reason = gateway.as_ref().err()?;
    if adapter.calls_model {
        return Some(format!(
            "{reason}; the `{}` adapter calls the model (it imports `molecule:runtime/llm`)",
            adapter.name
        ));
    }
    tracing::warn!(%reason, adapter = %shown_name(&adapter.name), "serving without a model: this adapter does not call one");
    None
}

/// Everything needed to load the adapter again.
#[derive(Clone)]
pub(crate) struct AdapterReloader {
    /// The workspace plan (where the adapter comes from).
    pub plan: Arc<Plan>,
    /// Host, builder and model gateway.
    pub deps: BootDeps,
    /// The memory backend granted to the adapter.
    pub memory: Arc<dyn MemoryBackend>,
    /// The slot the executor reads the current adapter from.
    pub slot: Arc<ArcSwap<AdapterComponent>>,
    /// The adapter's setup configuration.
    pub config: Arc<ArcSwap<String>>,
}

impl AdapterReloader {
    /// Watches the adapter's source (its crate folder, or the folder of its `.wasm`).
    /// `None` when there is nothing on disk to watch.
    pub(crate) fn watch(&self) -> anyhow::Result<Option<FolderWatcher>> {
        let Some(path) = self.plan.adapter.path.clone() else {
            return Ok(None);
        };
        let folder = if path.is_dir() {
            path.clone()
        } else {
            match path.parent() {
                Some(parent) => parent.to_owned(),
                None => return Ok(None),
            }
        };
        let folder = folder.canonicalize().unwrap_or(folder);
        let file = path.canonicalize().unwrap_or(path);
        let this = self.clone();
        let watcher = watch_folders(&[folder], DEBOUNCE, move |paths| {
            let this = this.clone();
            let relevant = file.is_dir() || paths.contains(&file);
            Box::pin(async move {
                if relevant {
                    this.reload().await;
                }
            })
        })?;
        Ok(Some(watcher))
    }

    /// Loads and sets up the adapter again and swaps it in; logs and keeps the old version
    /// on failure.
    pub(crate) async fn reload(&self) {
        let started = Instant::now();
        let adapter = match load_adapter(&self.plan, &self.deps, &self.memory).await {
            Ok(adapter) => adapter,
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "adapter reload failed; the previous version keeps serving");
                return;
            }
        };
        let sandbox = Sandbox::new(self.deps.host.engine().clone());
        match sandbox
            .setup_adapter(&adapter, adapter.grants(), &self.config.load())
            .await
        {
            Ok(Ok(())) => {
                tracing::info!(adapter = %shown_name(&adapter.name), elapsed = ?started.elapsed(), "adapter swapped");
                crate::metrics::global().component_swapped("adapter");
                self.slot.store(Arc::new(adapter));
            }
            Ok(Err(reason)) => {
                let reason = shown_reason(&reason);
                tracing::error!(%reason, "new adapter version refused setup; keeping the previous one")
            }
            Err(err) => {
                tracing::error!(error = %err, "new adapter version crashed in setup; keeping the previous one")
            }
        }
    }
}

/// Characters of an adapter's self-chosen name shown in a log line or span.
const NAME_SHOWN: usize = 64;
/// Bytes of an adapter's setup refusal shown in a log line.
const REASON_SHOWN: usize = 4096;

/// An adapter's name (guest-chosen text) as a log line or span shows it: at most
/// [`NAME_SHOWN`] characters, control characters escaped, a cut marked with `…`.
pub(crate) fn shown_name(name: &str) -> String {
    shown(name, NAME_SHOWN)
}

/// An adapter's failure reason (guest text) as a log line shows it: at most [`REASON_SHOWN`]
/// characters, escaped onto one line, a cut marked with `…`.
pub(crate) fn shown_reason(reason: &str) -> String {
    shown(reason, REASON_SHOWN)
}

fn shown(text: &str, chars: usize) -> String {
    let mut out = crate::redact::escape(&text.chars().take(chars).collect::<String>());
    if text.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_name_and_reason_are_escaped_and_bounded_for_logs() {
        let name = format!("evil\n2026 INFO forged\u{1b}[31m{}", "n".repeat(1000));
        let shown = shown_name(&name);
        assert!(!shown.contains(['\n', '\u{1b}']), "{shown}");
        assert!(
            shown.starts_with("evil\\n2026 INFO forged\\u{1b}[31m"),
            "{shown}"
        );
        assert!(
            shown.ends_with('…') && shown.chars().count() < 80,
            "{shown}"
        );
        assert_eq!(shown_name("echo"), "echo");
        let reason = shown_reason(&format!("no\r{}", "r".repeat(1 << 20)));
        assert!(
            reason.starts_with("no\\r") && reason.len() < 5000,
            "{}",
            reason.len()
        );
    }
}
