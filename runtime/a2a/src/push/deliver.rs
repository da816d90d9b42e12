//! Delivery: one dispatcher reads the queue in order and hands each task's notifications to
//! that task's own worker, which sends them one after the other (so a webhook sees a task's
//! updates in order, while a slow webhook holds up only its own task). Each notification is
//! a `POST` of the 1.0 `StreamResponse` JSON with `A2A-Version: 1.0`,
//! `X-A2A-Notification-Token` (the config's `token`) and `Authorization: <scheme>
//! <credentials>` (the config's `authentication`), made through the egress policy
//! (`policy.rs`: resolved once, connected to the checked address, no redirects), retried with
//! exponential backoff on a connection error, a timeout, 408, 429 or 5xx.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{policy, Counters, PushService};
use crate::store::Durable;
use crate::types::{StreamResponse, TaskPushNotificationConfig};

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One notification to deliver.
pub(super) struct Job {
    pub(super) task_id: String,
    pub(super) event: StreamResponse,
    pub(super) written: Option<Durable>,
    pub(super) last: bool,
}

/// The delivery queue: unbounded channel, bounded by the count of notifications not yet
/// finished (queued or being sent).
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
}

impl Queue {
    pub(super) fn new() -> (Self, (mpsc::UnboundedReceiver<Job>, Arc<AtomicUsize>)) {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        (
            Queue {
                tx,
                pending: pending.clone(),
            },
            (rx, pending),
        )
    }

    /// Queues `job` unless `max` notifications are pending; false when dropped.
    pub(super) fn push(&self, job: Job, max: usize) -> bool {
        let admitted = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if admitted && self.tx.send(job).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        admitted
    }
}

/// The dispatcher: reads the stored configs once, then routes jobs to per-task workers.
pub(super) async fn run(
    service: Arc<PushService>,
    (mut rx, pending): (mpsc::UnboundedReceiver<Job>, Arc<AtomicUsize>),
) {
    match service.store.all_push_configs().await {
        Ok(all) => {
            for c in all {
                // A config created meanwhile is newer than the stored copy read here.
                let known = super::lock(&service.configs)
                    .get(&c.task_id)
                    .is_some_and(|l| l.iter().any(|x| x.id == c.id));
                if !known {
                    service.remember(c);
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "a2a push: cannot read the stored push configs"),
    }
    service.loaded.store(true, Ordering::Release);
    let mut workers: HashMap<String, mpsc::UnboundedSender<Job>> = HashMap::new();
    while let Some(job) = rx.recv().await {
        let task_id = job.task_id.clone();
        let last = job.last;
        let sender = workers.entry(task_id.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(service.clone(), rx, pending.clone()));
            tx
        });
        if let Err(mpsc::error::SendError(_)) = sender.send(job) {
            pending.fetch_sub(1, Ordering::AcqRel);
        }
        if last {
            // The worker finishes what it has and stops.
            workers.remove(&task_id);
        }
    }
}

/// Sends one task's notifications in order.
async fn worker(
    service: Arc<PushService>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    pending: Arc<AtomicUsize>,
) {
    while let Some(job) = rx.recv().await {
        let stored = match job.written {
            Some(w) => w.await.is_ok(),
            None => true,
        };
        // An update whose state was not stored never happened for clients: not pushed.
        if stored {
            let configs = service.configs_of(&job.task_id);
            if !configs.is_empty() {
                let body = serde_json::to_string(&job.event).unwrap_or_default();
                for config in &configs {
                    deliver(&service, config, &body).await;
                }
            }
        }
        pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Delivers `body` to `config`'s webhook with retries; counts the outcome.
async fn deliver(service: &PushService, config: &TaskPushNotificationConfig, body: &str) {
    let o = &service.options;
    let c = &service.counters;
    let mut wait = o.backoff;
    for attempt in 1..=o.max_attempts.max(1) {
        if attempt > 1 {
            Counters::add(&c.retried);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_BACKOFF);
        }
        match send_once(service, config, body).await {
            Ok(()) => {
                Counters::add(&c.delivered);
                return;
            }
            Err(Outcome::Retry(why)) => {
                tracing::debug!(task_id = %config.task_id, attempt, %why, "a2a push: attempt failed");
            }
            Err(Outcome::GiveUp(why)) => {
                tracing::warn!(task_id = %config.task_id, %why, "a2a push: notification not delivered");
                Counters::add(&c.failed);
                return;
            }
        }
    }
    tracing::warn!(task_id = %config.task_id, "a2a push: notification not delivered: attempts exhausted");
    Counters::add(&c.failed);
}

enum Outcome {
    Retry(String),
    GiveUp(String),
}

async fn send_once(
    service: &PushService,
    config: &TaskPushNotificationConfig,
    body: &str,
) -> Result<(), Outcome> {
    let o = &service.options;
    // Resolved and checked for every attempt: the name may point elsewhere by now.
    let target = policy::check(&config.url, &o.allow_hosts)
        .await
        .map_err(Outcome::GiveUp)?;
    let client = service
        .clients
        .get(&target.host, target.addr, o.timeout)
        .map_err(Outcome::GiveUp)?;
    let mut req = client
        .post(target.url.clone())
        .header("content-type", "application/json")
        .header("a2a-version", "1.0")
        .body(body.to_string());
    if let Some(token) = config.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.header("x-a2a-notification-token", token);
    }
    if let Some(auth) = &config.authentication {
        if let Some(cred) = auth.credentials.as_deref().filter(|c| !c.is_empty()) {
            req = req.header("authorization", format!("{} {cred}", auth.scheme));
        }
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => {
            let s = resp.status();
            let why = format!("the webhook answered {s}");
            if s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429 {
                Err(Outcome::Retry(why))
            } else {
                Err(Outcome::GiveUp(why))
            }
        }
        Err(e) => Err(Outcome::Retry(e.to_string())),
    }
}
