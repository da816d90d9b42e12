//! Push notifications (A2A 1.0 §"Push Notifications"; the operations
//! `Create/Get/List/DeleteTaskPushNotificationConfig` and `SendMessageConfiguration
//! .taskPushNotificationConfig`): the configs of each task, kept in the task store
//! (`store/push.rs`, they survive a restart and go with their task) and cached here for the
//! delivery path, and the delivery of every task update to each webhook (`deliver.rs`) through
//! the egress policy (`policy.rs`), with per-task and per-origin bounds and a circuit per
//! failing webhook origin (`fair.rs`). The limits on configs are in `limits.rs`. The
//! operations on the wire are in `push_ops.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::{Durable, TaskStore};
use crate::types::{StreamResponse, Task, TaskPushNotificationConfig, TaskStatusUpdateEvent};

mod clients;
mod deliver;
mod fair;
pub(crate) mod limits;
pub(crate) mod policy;

/// How push notifications are delivered. Built by the runtime from `a2a.push_notifications`
/// and `a2a.push.*` (see runtime/config/README.md).
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Hosts (names or IP literals, as written in webhook URLs) whose loopback, private or
    /// link-local addresses webhooks may reach (`a2a.push.allow_hosts`). Public addresses
    /// need no entry.
    pub allow_hosts: Vec<String>,
    /// Attempts per notification (first try included); default 5.
    pub max_attempts: u32,
    /// Wait before the first retry, doubled for each further one (capped at 30 s); default 1 s.
    pub backoff: Duration,
    /// Notifications waiting for delivery across all tasks; past it new ones are dropped and
    /// counted; default 1024. One task may hold at most 64 of them and the tasks of one
    /// webhook origin at most a quarter (`fair.rs`).
    pub max_queue: usize,
    /// Time one webhook request may take (connect to response headers); default 10 s.
    pub timeout: Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            allow_hosts: Vec::new(),
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            max_queue: 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of push delivery (all since start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushMetrics {
    /// Notifications a webhook accepted (2xx).
    pub delivered: u64,
    /// Notifications given up on (attempts exhausted, refused by the policy, 4xx).
    pub failed: u64,
    /// Attempts repeated after a failure.
    pub retried: u64,
    /// Notifications dropped because the queue, the task's share or the webhook origin's
    /// share of it was full (logged once per task).
    pub dropped: u64,
    /// Notifications dropped without an attempt because their webhook origin's circuit was
    /// open (it failed 5 attempts in a row; open for 60 s, logged once when it opens).
    pub short_circuited: u64,
    /// Webhook HTTP clients built: one per (webhook host, resolved address), reused by every
    /// later notification to the same pair (`clients.rs`).
    pub clients_built: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    short_circuited: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The push configs (cached) and the delivery queue of one server.
pub(crate) struct PushService {
    pub(crate) options: PushOptions,
    store: TaskStore,
    /// Configs by task id; complete once `loaded` (the stored configs are read at start).
    configs: Mutex<HashMap<String, Vec<TaskPushNotificationConfig>>>,
    loaded: AtomicBool,
    counters: Counters,
    queue: deliver::Queue,
    clients: clients::Clients,
    circuits: fair::Circuits,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PushService {
    /// Starts the delivery of `store`'s push configs (call inside a tokio runtime).
    pub(crate) fn start(store: TaskStore, options: PushOptions) -> Arc<Self> {
        let (queue, rx) = deliver::Queue::new();
        let service = Arc::new(PushService {
            options,
            store,
            configs: Mutex::new(HashMap::new()),
            loaded: AtomicBool::new(false),
            counters: Counters::default(),
            queue,
            clients: clients::Clients::default(),
            circuits: fair::Circuits::default(),
        });
        tokio::spawn(deliver::run(service.clone(), rx));
        service
    }

    /// The delivery counters now.
    pub(crate) fn metrics(&self) -> PushMetrics {
        let c = &self.counters;
        PushMetrics {
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            short_circuited: c.short_circuited.load(Ordering::Relaxed),
            clients_built: self.clients.built(),
        }
    }

    /// The task store the configs live in.
    pub(crate) fn store(&self) -> &TaskStore {
        &self.store
    }

    /// Caches `config` (already stored, or about to be) unless its task already has
    /// [`limits::MAX_CONFIGS_PER_TASK`] other configs; false when refused. A config with the
    /// id of a cached one replaces it.
    pub(crate) fn remember(&self, config: TaskPushNotificationConfig) -> bool {
        let mut map = lock(&self.configs);
        let list = map.entry(config.task_id.clone()).or_default();
        match list.iter().position(|c| c.id == config.id) {
            Some(i) => list[i] = config,
            None if list.len() >= limits::MAX_CONFIGS_PER_TASK => return false,
            None => list.push(config),
        }
        true
    }

    /// Whether task `task_id` can take config `id` (`None`: a new id) without passing
    /// [`limits::MAX_CONFIGS_PER_TASK`].
    pub(crate) fn has_room(&self, task_id: &str, id: Option<&str>) -> bool {
        lock(&self.configs).get(task_id).is_none_or(|l| {
            l.len() < limits::MAX_CONFIGS_PER_TASK
                || id.is_some_and(|id| l.iter().any(|c| c.id.as_deref() == Some(id)))
        })
    }

    /// Forgets config `id` of `task_id`.
    pub(crate) fn forget(&self, task_id: &str, id: &str) {
        let mut map = lock(&self.configs);
        if let Some(list) = map.get_mut(task_id) {
            list.retain(|c| c.id.as_deref() != Some(id));
            if list.is_empty() {
                map.remove(task_id);
            }
        }
    }

    fn configs_of(&self, task_id: &str) -> Vec<TaskPushNotificationConfig> {
        lock(&self.configs)
            .get(task_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Queues `event` of task `task_id` for its webhooks, to go out once `written` (the store
    /// write of the state it carries) is committed; `last` says the task will send nothing
    /// more. Called under the task's lock, so the order of calls is the order of updates.
    /// Cheap when the task has no config; a full queue (or the task's or a webhook origin's
    /// share of it) drops the event and counts it, logging only the task's first drop.
    pub(crate) fn notify(
        &self,
        task_id: &str,
        event: &StreamResponse,
        written: Option<Durable>,
        last: bool,
    ) {
        let origins = {
            let map = lock(&self.configs);
            match map.get(task_id) {
                None if self.loaded.load(Ordering::Acquire) => return,
                None => Vec::new(),
                Some(list) => {
                    let mut o: Vec<String> = list.iter().map(|c| limits::origin(&c.url)).collect();
                    o.sort();
                    o.dedup();
                    o
                }
            }
        };
        let job = deliver::Job {
            task_id: task_id.to_string(),
            event: event.clone(),
            written,
            last,
            origins,
        };
        if let fair::Admit::Dropped { log, why } = self.queue.push(job, self.options.max_queue) {
            Counters::add(&self.counters.dropped);
            if log {
                tracing::warn!(
                    task_id,
                    why,
                    "a2a push: notification dropped (further drops for this task are only \
                     counted, in dropped)"
                );
            }
        }
    }
}

impl PushService {
    /// Queues the final status update of `task`, already stored, that did not go through the
    /// live event path (a stored interrupted task canceled; a task a previous run left
    /// unfinished, failed at boot): its webhooks get `{"statusUpdate": …}` like any other
    /// update, and its delivery worker ends after it.
    pub(crate) fn notify_final(&self, task: &Task) {
        let event = StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
            task_id: task.id.clone(),
            context_id: task.context_id.clone(),
            status: task.status.clone(),
            metadata: None,
        });
        self.notify(&task.id, &event, None, true);
    }

    /// Attaches `config` (sent with a message, already checked) to task `task_id`: cached at
    /// once, stored in the background. Returns the config as stored (ids filled in). A task
    /// that already has [`limits::MAX_CONFIGS_PER_TASK`] configs (two messages raced past
    /// [`has_room`](Self::has_room)) keeps them: the new one is not attached (WARN).
    pub(crate) fn attach(
        &self,
        task_id: &str,
        mut config: TaskPushNotificationConfig,
    ) -> TaskPushNotificationConfig {
        config.task_id = task_id.to_string();
        if config.id.as_deref().is_none_or(str::is_empty) {
            config.id = Some(crate::types::new_id());
        }
        if !self.remember(config.clone()) {
            tracing::warn!(
                task_id,
                limit = limits::MAX_CONFIGS_PER_TASK,
                "a2a push: the task has the most push configs it may have; the one sent with \
                 the message is not attached"
            );
            return config;
        }
        let (store, stored) = (self.store.clone(), config.clone());
        tokio::spawn(async move {
            if let Err(e) = store.put_push_config(stored).await {
                tracing::warn!(error = %e, "a2a push: storing a push config sent with a message");
            }
        });
        config
    }
}
