//! [`CardUpdates`]: `update-card` in the background, so a card change (a `SKILL.md` edit)
//! reaches the served card at once and never waits on the platform. Only the newest card is
//! sent: changes made while a call is under way coalesce into one more call. A platform that
//! is down or failing (transport error, 5xx, 429) is retried with backoff until it takes the
//! card or a newer card replaces it; any other refusal is logged and left to the next
//! registration, which carries the latest card anyway.

use std::time::Duration;

use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client::PlatformClient;
use crate::types::AgentCard;

/// Waits between failed `update-card` calls: 1, 2, 4 … 30 s.
pub const CARD_RETRY: Backoff = Backoff {
    attempts: u32::MAX,
    base: Duration::from_secs(1),
    max: Duration::from_secs(30),
    jitter: true,
};

/// Sends the newest card to the platform in the background; dropping it stops the sender.
pub struct CardUpdates {
    tx: watch::Sender<Option<AgentCard>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CardUpdates {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CardUpdates {
    /// Starts the sender for `client` on the current tokio runtime, retrying per `retry`.
    pub fn spawn(client: PlatformClient, retry: Backoff) -> CardUpdates {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(run(client, rx, retry));
        CardUpdates { tx, task }
    }

    /// Queues `card` (replacing any card not sent yet). Never blocks.
    pub fn send(&self, card: AgentCard) {
        self.tx.send_replace(Some(card));
    }
}

async fn run(client: PlatformClient, mut rx: watch::Receiver<Option<AgentCard>>, retry: Backoff) {
    while rx.changed().await.is_ok() {
        let mut failures = 0u32;
        loop {
            let Some(card) = rx.borrow_and_update().clone() else {
                break;
            };
            let err = match client.update_card(&card).await {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(failed_attempts = failures, "the platform has the new card");
                    }
                    break;
                }
                Err(err) => err,
            };
            if !(err.is_retryable() || err.status() == Some(429)) {
                tracing::warn!(error = %err, "the platform refused the new card; the next registration carries it");
                break;
            }
            if failures == 0 {
                tracing::warn!(error = %err, "could not send the new card to the platform (the card is served already); retrying in the background");
            }
            let wait = retry.delay(failures);
            failures = failures.saturating_add(1);
            // A newer card is sent at once; otherwise the same card after the wait.
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = rx.changed() => if changed.is_err() { return },
            }
        }
    }
}
