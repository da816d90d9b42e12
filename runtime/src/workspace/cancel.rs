//! Cancels reach the adapter one at a time per task: `CancelTask` runs guest code (the
//! adapter's `cancel`) outside admission — it must not queue behind the tasks it may be meant
//! to stop — so it is bounded here instead. Concurrent cancels of one task share a single
//! call and its outcome, and each call (the wait for a spare instance included) has a
//! deadline of its own: [`cancel_timeout`], the adapter's `sandbox.timeout` capped at
//! [`CANCEL_TIMEOUT_CAP`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

/// The longest one adapter `cancel` call may take, whatever the adapter's `sandbox.timeout`.
pub(crate) const CANCEL_TIMEOUT_CAP: Duration = Duration::from_secs(10);

/// The deadline of one cancel call for an adapter whose call limit is `adapter_timeout`:
/// the smaller of it and [`CANCEL_TIMEOUT_CAP`].
pub(crate) fn cancel_timeout(adapter_timeout: Duration) -> Duration {
    adapter_timeout.min(CANCEL_TIMEOUT_CAP)
}

/// An outcome shared by every caller of one cancel: `None` until the call ends.
type Outcome = Option<Result<(), String>>;

/// The cancel calls in flight, by task id.
#[derive(Default)]
pub(crate) struct CancelCalls {
    running: Mutex<HashMap<String, watch::Receiver<Outcome>>>,
}

impl CancelCalls {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Receiver<Outcome>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cancels `task_id` with `call` unless a cancel of it is in flight, in which case this
    /// waits for that one's outcome (and `call` is dropped unpolled). The call runs in its
    /// own task (a caller that goes away does not abandon it) within `timeout`.
    ///
    /// # Errors
    /// The call's own error, or, past `timeout`, an error naming the limit.
    pub(crate) async fn cancel<F>(
        self: &Arc<Self>,
        task_id: &str,
        timeout: Duration,
        call: F,
    ) -> Result<(), String>
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let mut outcome = {
            let mut running = self.lock();
            match running.get(task_id) {
                Some(outcome) => outcome.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    running.insert(task_id.to_owned(), rx.clone());
                    let (calls, id) = (self.clone(), task_id.to_owned());
                    tokio::spawn(async move {
                        let result = match tokio::time::timeout(timeout, call).await {
                            Ok(result) => result,
                            Err(_) => Err(format!(
                                "the adapter's cancel did not finish within {timeout:?} (the \
                                 adapter's sandbox.timeout, at most {CANCEL_TIMEOUT_CAP:?})"
                            )),
                        };
                        calls.lock().remove(&id);
                        let _ = tx.send(Some(result));
                    });
                    rx
                }
            }
        };
        let shared = outcome.wait_for(Option::is_some).await;
        shared
            .ok()
            .and_then(|o| o.clone())
            .unwrap_or_else(|| Err("the cancel call was lost (the runtime is stopping)".into()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    // One thread: each yield below lets every spawned caller run until it waits.
    #[tokio::test]
    async fn concurrent_cancels_of_one_task_share_one_call_and_its_answer() {
        let calls = Arc::new(CancelCalls::default());
        let started = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let mut waiters = Vec::new();
        for _ in 0..30 {
            let (calls, started, mut released) = (calls.clone(), started.clone(), released.clone());
            waiters.push(tokio::spawn(async move {
                let call = async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let _ = released.wait_for(|r| *r).await;
                    Err::<(), _>("adapter said no".to_owned())
                };
                calls.cancel("t1", Duration::from_secs(60), call).await
            }));
        }
        while calls.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        // Let every caller reach the shared wait before the one call ends.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        release.send(true).expect("release");
        for waiter in waiters {
            assert_eq!(waiter.await.expect("join"), Err("adapter said no".into()));
        }
        assert_eq!(started.load(Ordering::SeqCst), 1, "one adapter cancel call");
        assert!(calls.lock().is_empty(), "finished calls are forgotten");
    }

    #[tokio::test]
    async fn a_cancel_that_never_ends_is_cut_at_its_deadline_and_can_be_retried() {
        let calls = Arc::new(CancelCalls::default());
        let hang = std::future::pending::<Result<(), String>>();
        let err = calls
            .cancel("t1", Duration::from_millis(20), hang)
            .await
            .expect_err("cut");
        assert!(err.contains("did not finish within 20ms"), "{err}");
        assert!(err.contains("sandbox.timeout"), "{err}");
        let again = calls.cancel("t1", Duration::from_secs(5), async { Ok(()) });
        assert_eq!(again.await, Ok(()), "a later cancel makes a new call");
    }

    #[test]
    fn the_cancel_deadline_is_the_adapter_timeout_capped_at_ten_seconds() {
        assert_eq!(
            cancel_timeout(Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(cancel_timeout(Duration::from_secs(300)), CANCEL_TIMEOUT_CAP);
    }
}
