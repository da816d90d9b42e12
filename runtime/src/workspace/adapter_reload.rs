//! Hot reload of the adapter: when its crate or `.wasm` changes, the new version is built,
//! compiled, link-checked and set up before it replaces the old one; tasks already running
//! finish on the old version. A failed reload keeps the old version serving.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use super::boot::{load_adapter, BootDeps};
use super::reload::{watch_folders, FolderWatcher, DEBOUNCE};
use crate::capabilities::memory::MemoryBackend;
use crate::component::AdapterComponent;
use crate::plan::Plan;
use crate::sandbox::Sandbox;

/// Everything needed to load the adapter again.
#[derive(Clone)]
pub struct AdapterReloader {
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
    pub fn watch(&self) -> anyhow::Result<Option<FolderWatcher>> {
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
    pub async fn reload(&self) {
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
                tracing::info!(adapter = %adapter.name, elapsed = ?started.elapsed(), "adapter swapped");
                crate::metrics::global().component_swapped("adapter");
                self.slot.store(Arc::new(adapter));
            }
            Ok(Err(reason)) => {
                tracing::error!(%reason, "new adapter version refused setup; keeping the previous one")
            }
            Err(err) => {
                tracing::error!(error = %err, "new adapter version crashed in setup; keeping the previous one")
            }
        }
    }
}
