//! Delivery: one dispatcher reads the queue in order and hands each task's notifications to
//! that task's own worker, which sends them one after the other (so a webhook sees a task's
//! updates in order, while a slow webhook holds up only its own task). Each notification is
//! a `POST` of the 1.0 `StreamResponse` JSON with `A2A-Version: 1.0`,
//! `X-A2A-Notification-Token` (the config's `token`) and `Authorization: <scheme>
//! <credentials>` (the config's `authentication`), made through the egress policy
//! (`policy.rs`: resolved once, connected to the checked address, no redirects), retried with
//! exponential backoff on a connection error, a timeout, 408, 429 or 5xx — never on a request
//! that cannot be built. The queue's bounds per task and per webhook origin and the circuit
//! of a failing origin are in `fair.rs`. Logs name a webhook by its URL without query and
//! user info.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::fair::{Admission, Admit, CIRCUIT_FAILURES, CIRCUIT_OPEN};
use super::limits::{origin, redacted};
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
    /// The webhook origins of the task's configs when queued (its share of the queue).
    pub(super) origins: Vec<String>,
}

/// The delivery queue: unbounded channel, bounded by the notifications not yet finished
/// (queued or being sent) in all, per task and per webhook origin ([`Admission`]).
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Job>,
    admission: Arc<Admission>,
}

impl Queue {
    pub(super) fn new() -> (Self, (mpsc::UnboundedReceiver<Job>, Arc<Admission>)) {
        let (tx, rx) = mpsc::unbounded_channel();
        let admission = Arc::new(Admission::default());
        (
            Queue {
                tx,
                admission: admission.clone(),
            },
            (rx, admission),
        )
    }

    /// Queues `job` if the bounds (`max` in all, see [`Admission::admit`]) have room.
    pub(super) fn push(&self, job: Job, max: usize) -> Admit {
        let admit = self.admission.admit(&job.task_id, &job.origins, max);
        if admit == Admit::Queued {
            if let Err(mpsc::error::SendError(job)) = self.tx.send(job) {
                self.admission.release(&job.task_id, &job.origins, job.last);
                return Admit::Dropped {
                    log: true,
                    why: "delivery stopped",
                };
            }
        }
        admit
    }
}

/// The dispatcher: reads the stored configs once, then routes jobs to per-task workers.
pub(super) async fn run(
    service: Arc<PushService>,
    (mut rx, admission): (mpsc::UnboundedReceiver<Job>, Arc<Admission>),
) {
    match service.store.all_push_configs().await {
        Ok(all) => {
            for c in all {
                // A config created meanwhile is newer than the stored copy read here.
                let known = super::lock(&service.configs)
                    .get(&c.task_id)
                    .is_some_and(|l| l.iter().any(|x| x.id == c.id));
                if !known {
                    // Past the per-task limit (stored before it existed): not delivered.
                    let _ = service.remember(c);
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "a2a push: cannot read the stored push configs"),
    }
    service
        .loaded
        .store(true, std::sync::atomic::Ordering::Release);
    let mut workers: HashMap<String, mpsc::UnboundedSender<Job>> = HashMap::new();
    while let Some(job) = rx.recv().await {
        let task_id = job.task_id.clone();
        let last = job.last;
        let sender = workers.entry(task_id.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(service.clone(), rx, admission.clone()));
            tx
        });
        if let Err(mpsc::error::SendError(job)) = sender.send(job) {
            admission.release(&job.task_id, &job.origins, job.last);
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
    admission: Arc<Admission>,
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
        admission.release(&job.task_id, &job.origins, job.last);
    }
}

/// Delivers `body` to `config`'s webhook with retries, unless its origin's circuit is open;
/// counts the outcome and feeds the circuit.
async fn deliver(service: &PushService, config: &TaskPushNotificationConfig, body: &str) {
    let o = &service.options;
    let c = &service.counters;
    let key = origin(&config.url);
    let mut wait = o.backoff;
    for attempt in 1..=o.max_attempts.max(1) {
        if attempt > 1 {
            Counters::add(&c.retried);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_BACKOFF);
        }
        if !service.circuits.allow(&key) {
            // Logged once, when the circuit opened.
            tracing::debug!(task_id = %config.task_id, origin = %key, "a2a push: circuit open, notification dropped");
            Counters::add(&c.short_circuited);
            return;
        }
        match send_once(service, config, body).await {
            Ok(()) => {
                service.circuits.success(&key);
                Counters::add(&c.delivered);
                return;
            }
            Err(Outcome::Retry(why)) => {
                tracing::debug!(task_id = %config.task_id, attempt, %why, "a2a push: attempt failed");
                if service.circuits.failure(&key) {
                    tracing::warn!(
                        origin = %key,
                        failures = CIRCUIT_FAILURES,
                        pause_s = CIRCUIT_OPEN.as_secs(),
                        %why,
                        "a2a push: webhook failed too often in a row; its notifications are \
                         dropped for a while (counted in short_circuited)"
                    );
                }
            }
            Err(Outcome::GiveUp { why, answered }) => {
                if answered {
                    service.circuits.success(&key);
                }
                tracing::warn!(task_id = %config.task_id, %why, "a2a push: notification not delivered");
                Counters::add(&c.failed);
                return;
            }
        }
    }
    tracing::warn!(task_id = %config.task_id, origin = %key, "a2a push: notification not delivered: attempts exhausted");
    Counters::add(&c.failed);
}

#[derive(Debug)]
enum Outcome {
    /// Worth another attempt (connection error, timeout, 408, 429, 5xx).
    Retry(String),
    /// Final; `answered`: the webhook answered (the origin is up).
    GiveUp { why: String, answered: bool },
}

/// The outcome of a request that got no answer: a request that could not be built (a header
/// value a stored config made invalid) is final, anything else is retried. The text carries
/// no URL (it may hold a key in its query).
fn error_outcome(e: reqwest::Error) -> Outcome {
    let builder = e.is_builder();
    let why = e.without_url().to_string();
    if builder {
        Outcome::GiveUp {
            why: format!("the request cannot be built: {why}"),
            answered: false,
        }
    } else {
        Outcome::Retry(why)
    }
}

async fn send_once(
    service: &PushService,
    config: &TaskPushNotificationConfig,
    body: &str,
) -> Result<(), Outcome> {
    let o = &service.options;
    let give_up = |why: String| Outcome::GiveUp {
        why,
        answered: false,
    };
    // Resolved and checked for every attempt: the name may point elsewhere by now.
    let target = policy::check(&config.url, &o.allow_hosts)
        .await
        .map_err(give_up)?;
    let client = service
        .clients
        .get(&target.host, target.addr, o.timeout)
        .map_err(give_up)?;
    tracing::debug!(task_id = %config.task_id, url = %redacted(&target.url), "a2a push: sending");
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
            let why = format!("{} answered {s}", redacted(&target.url));
            if s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429 {
                Err(Outcome::Retry(why))
            } else {
                Err(Outcome::GiveUp {
                    why,
                    answered: true,
                })
            }
        }
        Err(e) => Err(error_outcome(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_that_cannot_be_built_is_not_retried_and_its_url_not_logged() {
        // A header value with CR/LF (a config stored before such values were refused).
        let e = reqwest::Client::new()
            .post("http://127.0.0.1:9/hook?key=secret")
            .header("x-a2a-notification-token", "a\r\nb")
            .send()
            .await
            .expect_err("invalid header");
        match error_outcome(e) {
            Outcome::GiveUp { why, answered } => {
                assert!(!answered);
                assert!(!why.contains("secret"), "{why}");
            }
            other => panic!("retried: {other:?}"),
        }
    }
}
