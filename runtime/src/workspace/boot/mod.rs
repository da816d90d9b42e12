//! Boot: turns a [`Plan`] into a running workspace, one named stage after another, in the
//! contract's order — stores and the platform client, the Agent Card from the skill folders,
//! an external workspace's first registration, the skills, then the adapter (whose setup
//! failure leaves the workspace serving but "not configured"), the A2A server, the platform
//! join and the watchers. Each stage is a function in this folder's files.

mod join;
mod open;
mod serve;
mod skills_and_card;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use molecule_a2a::{CardHandle, TaskStore};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::plan::Plan;
use crate::workspace::adapter::ready_adapter;
use crate::workspace::platform::PlatformLink;
use crate::workspace::reload::{watch_skills, FolderWatcher, DEBOUNCE};
use crate::workspace::skills::SkillRegistry;
use join::{join_platform, register_external};
use open::open_stores_and_platform;
use serve::{a2a_server, fail_leftover_tasks, start_serving};
use skills_and_card::{card_from_folders, load_skills};
use watch::follow_changes;

pub use crate::workspace::deps::BootDeps;

/// A workspace serving A2A.
pub struct RunningWorkspace {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// The skills.
    pub skills: Arc<SkillRegistry>,
    /// Why the workspace is not configured, if it is not.
    pub not_configured: Option<String>,
    /// The card handle (updated when skills change).
    pub card: CardHandle,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    store: TaskStore,
    _watchers: Vec<FolderWatcher>,
    _card_task: JoinHandle<()>,
    _platform: Option<PlatformLink>,
}

impl RunningWorkspace {
    /// Stops serving, waits for the server to finish and for every queued task-store write
    /// to reach the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.server).await.context("server task")??;
        self.store.flush().await.context("writing the task store")?;
        Ok(())
    }

    /// Serves until `stop` completes (then shuts down gracefully) or the server ends.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let stopped = tokio::select! {
            _ = stop => true,
            result = &mut self.server => {
                result.context("server task")??;
                false
            }
        };
        if stopped {
            self.shutdown().await?;
        }
        Ok(())
    }
}

/// Boots the workspace described by `plan`, serving on `listener`.
pub async fn boot(
    plan: Plan,
    deps: BootDeps,
    listener: TcpListener,
) -> anyhow::Result<RunningWorkspace> {
    let plan = Arc::new(plan);
    let addr = listener.local_addr()?;
    let opened = open_stores_and_platform(&plan, &deps).await?;
    let card = card_from_folders(&plan, &deps, addr);
    register_external(&opened, &card).await;
    let skills = load_skills(&plan, &deps, &opened, card).await;
    let adapter = ready_adapter(&plan, &deps, &opened.memory, &skills.adapter_config).await;
    let mut watchers = vec![watch_skills(skills.registry.clone(), DEBOUNCE)?];
    let server = a2a_server(&plan, &deps, &opened, &skills, adapter, &mut watchers)?;
    let link = join_platform(&plan, &opened, &skills.card, &server);
    fail_leftover_tasks(&server).await;
    let (prompt_watcher, card_task) = follow_changes(&plan, &skills, link.as_ref(), &server)?;
    watchers.push(prompt_watcher);
    let (shutdown, server_task) = start_serving(server.a2a, opened.store.clone(), listener);
    Ok(RunningWorkspace {
        addr,
        skills: skills.registry,
        not_configured: server.not_configured,
        card: skills.card.handle,
        shutdown: Some(shutdown),
        server: server_task,
        store: opened.store,
        _watchers: watchers,
        _card_task: card_task,
        _platform: link,
    })
}
