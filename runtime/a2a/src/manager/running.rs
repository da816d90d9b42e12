//! The operations on tasks that already exist: SubscribeToTask (following a running or
//! interrupted task), CancelTask, and failing what still runs at shutdown. Starting and
//! continuing tasks is in `mod.rs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::events::{self, apply, set_status};
use super::live::{lock, LiveTask, Outgoing, Shared, Subscriber};
use crate::error::{A2aError, A2aResult};
use crate::executor::AgentEvent;
use crate::types::{agent_text_message, StreamResponse, Task, TaskState};

/// SubscribeToTask: a stream that starts with the task snapshot and follows the task until
/// it is terminal (A2A 1.0 §3.1.6), through interrupted states: a stream of an INPUT_REQUIRED
/// or AUTH_REQUIRED task waits (SSE keep-alives) for the message that continues it and then
/// gets its events. Errors: TaskNotFound; UnsupportedOperation for a terminal task.
pub(crate) async fn subscribe(
    shared: &Arc<Shared>,
    task_id: &str,
) -> A2aResult<mpsc::UnboundedReceiver<Outgoing>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let follower = |tx| Subscriber {
        tx,
        primed: true,
        outcome_only: false,
        to_end: true,
    };
    let task = loop {
        let starts = shared.continuations.load(Ordering::SeqCst);
        if let Some(l) = shared.live(task_id) {
            let written = {
                let mut st = lock(&l.state);
                if !st.closed {
                    let _ = tx.send(Outgoing {
                        event: StreamResponse::Task(st.task.clone()),
                        durable: Some(st.last_write.clone()),
                    });
                    st.subscribers.push(follower(tx));
                    return Ok(rx);
                }
                st.last_write.clone()
            };
            // Interrupted or ended just now: the store has it once this write commits.
            written.await.map_err(|e| A2aError::store(&e))?;
        }
        let task = shared.get_task(task_id).await?;
        if task.status.state.is_terminal() {
            return Err(A2aError::UnsupportedOperation(format!(
                "task `{}` is in a terminal state",
                crate::error::clip(task_id)
            )));
        }
        let mut parked = lock(&shared.parked);
        if shared.continuations.load(Ordering::SeqCst) != starts {
            // A message continued some task while the store was read: look again.
            continue;
        }
        let _ = tx.send(Outgoing {
            event: StreamResponse::Task(task.clone()),
            durable: None,
        });
        parked
            .entry(task_id.to_string())
            .or_default()
            .push(follower(tx.clone()));
        break task;
    };
    // A cancel between the store read and the parking: read the store again and end the
    // stream if the task moved on.
    let now = shared.get_task(task_id).await?;
    if now.status.state != task.status.state || now.status.timestamp != task.status.timestamp {
        let mut parked = lock(&shared.parked);
        if let Some(list) = parked.get_mut(task_id) {
            if let Some(i) = list.iter().position(|s| s.tx.same_channel(&tx)) {
                let _ = tx.send(Outgoing {
                    event: events::status_update(&now),
                    durable: None,
                });
                if now.status.state.is_terminal() {
                    list.remove(i);
                }
            }
        }
    }
    Ok(rx)
}

/// Ends the parked SubscribeToTask streams of `task` (a cancel of an interrupted task) with
/// its final status.
fn release_parked(shared: &Shared, task: &Task) {
    let waiting = lock(&shared.parked).remove(&task.id).unwrap_or_default();
    let update = events::status_update(task);
    for s in waiting {
        let _ = s.tx.send(Outgoing {
            event: update.clone(),
            durable: None,
        });
    }
}

/// CancelTask: asks the executor to stop and moves the task to CANCELED.
pub(crate) async fn cancel(shared: &Arc<Shared>, task_id: &str) -> A2aResult<Task> {
    let Some(l) = shared.live(task_id).filter(|l| !lock(&l.state).closed) else {
        // Not running: only an interrupted stored task can still be canceled.
        let mut task = shared.get_task(task_id).await?;
        if task.status.state.is_terminal() {
            return Err(A2aError::TaskNotCancelable(format!(
                "task `{task_id}` is already {}",
                crate::types::state_name(&task.status.state)
            )));
        }
        set_status(&mut task, TaskState::Canceled, None);
        shared
            .store
            .put(&task)
            .await
            .map_err(|e| A2aError::store(&e))?;
        release_parked(shared, &task);
        if let Some(p) = shared.push.get() {
            p.notify_final(&task); // stored already: no live state, events::apply not involved
        }
        return Ok(task);
    };
    lock(&l.state).canceling = true;
    if let Err(e) = shared.executor.cancel(task_id).await {
        tracing::warn!(task_id, error = %crate::error::log_text(&e.to_string()), "a2a executor cancel failed");
    }
    let canceled = apply(
        shared,
        &l,
        AgentEvent::Status {
            state: TaskState::Canceled,
            message: None,
        },
        true,
    );
    let (task, written) = {
        let mut st = lock(&l.state);
        if let Some(abort) = st.abort.take() {
            let _ = abort.send(());
        }
        if canceled.is_err() && st.task.status.state != TaskState::Canceled {
            return Err(A2aError::TaskNotCancelable(format!(
                "task `{task_id}` finished before it could be canceled"
            )));
        }
        (st.task.clone(), st.last_write.clone())
    };
    written.await.map_err(|e| A2aError::store(&e))?;
    Ok(task)
}

/// Graceful shutdown, after the grace period: every task still running ends FAILED with
/// `reason` as its status message — its streams get that final status event and end, a
/// blocking SendMessage returns the failed task, the store gets the final state — and its
/// executor is stopped. Returns how many tasks were failed.
pub(crate) fn fail_running(shared: &Arc<Shared>, reason: &str) -> usize {
    let live: Vec<Arc<LiveTask>> = lock(&shared.live).values().cloned().collect();
    let mut failed = 0;
    for l in live {
        let message = {
            let st = lock(&l.state);
            if st.closed {
                continue;
            }
            agent_text_message(reason, &st.task.id, &st.task.context_id)
        };
        let event = AgentEvent::Status {
            state: TaskState::Failed,
            message: Some(message),
        };
        if apply(shared, &l, event, true).is_ok() {
            failed += 1;
        }
        if let Some(abort) = lock(&l.state).abort.take() {
            let _ = abort.send(());
        }
    }
    failed
}
