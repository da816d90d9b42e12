//! The state of running tasks: [`Shared`] (the executor, the task store and the live tasks by
//! id) and each [`LiveTask`]'s snapshot, subscribers and cancel flags, all behind mutexes.
//! The operations on tasks are in the parent module; how events change a task, in `events.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::error::{A2aError, A2aResult};
use crate::executor::AgentExecutor;
use crate::store::{Durable, TaskStore};
use crate::types::{Message, StreamResponse, Task};

/// One event for a stream, and the store write it must wait for before it is sent (the write
/// of the state it carries), if any.
pub(crate) struct Outgoing {
    pub(crate) event: StreamResponse,
    pub(crate) durable: Option<Durable>,
}

/// State shared by the server handlers and every running task.
pub(crate) struct Shared {
    pub(super) executor: Arc<dyn AgentExecutor>,
    pub(crate) store: TaskStore,
    /// The tasks whose executor is running, by id.
    pub(super) live: Mutex<HashMap<String, Arc<LiveTask>>>,
    /// Push delivery, once enabled (`A2aServer::with_push`): every update goes to it too.
    pub(crate) push: std::sync::OnceLock<Arc<crate::push::PushService>>,
    /// SubscribeToTask streams of interrupted tasks (INPUT_REQUIRED, AUTH_REQUIRED) whose
    /// executor has returned, by task id: the next message that continues the task takes them
    /// over; a cancel sends them the final status. Lock order: a task's `state`, then
    /// `parked`, then `live`.
    pub(super) parked: Mutex<HashMap<String, Vec<Subscriber>>>,
    /// How many continuations of interrupted tasks have started (counted under `parked`): a
    /// subscriber that read a task from the store checks nothing started meanwhile.
    pub(super) continuations: AtomicU64,
    /// Ids of tasks a message is continuing but whose live entry is not inserted yet (the
    /// store read and the intake await in between): a second message finds the claim and is
    /// refused as "still running". Lock order: `claims` first (then `live`, then a state).
    pub(super) claims: Mutex<HashSet<String>>,
}

/// A task claimed by one continuing message ([`Shared::claim`]); released when dropped (on
/// every early return, and after the live task is inserted). Never drop it under a lock.
pub(super) struct Claim {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.shared.claims).remove(&self.id);
    }
}

/// One running task.
pub(super) struct LiveTask {
    pub(super) state: Mutex<LiveState>,
}

/// One open stream of a task.
pub(super) struct Subscriber {
    pub(super) tx: mpsc::UnboundedSender<Outgoing>,
    /// True once the stream got the task snapshot.
    pub(super) primed: bool,
    /// A blocking SendMessage waiting for the outcome: it gets a message reply, else only the
    /// end of the stream (then it reads the live snapshot), never the snapshot or updates.
    pub(super) outcome_only: bool,
    /// A SubscribeToTask stream: it stays open through interrupted states (parked in
    /// [`Shared::parked`]) until the task is terminal. A SendStreamingMessage stream ends at
    /// the first terminal or interrupted state.
    pub(super) to_end: bool,
}

/// A running task's snapshot and followers.
pub(super) struct LiveState {
    pub(super) task: Task,
    pub(super) subscribers: Vec<Subscriber>,
    /// True once the executor sent its first event.
    pub(super) started: bool,
    /// The message continues an interrupted task.
    pub(super) continuation: bool,
    /// The executor answered with a message instead of a task.
    pub(super) message_reply: Option<Message>,
    /// The task reached a final state: no more events are applied.
    pub(super) closed: bool,
    /// A cancel is in progress: however the executor returns, the task ends CANCELED.
    pub(super) canceling: bool,
    /// Stops the executor future (sent, or dropped, by a cancel).
    pub(super) abort: Option<oneshot::Sender<()>>,
    /// The newest store write of the task: every state the task has been in is in it or in
    /// an earlier one. What a reply naming the task waits for.
    pub(super) last_write: Durable,
    /// When `last_write` was queued. Changes within a state (artifact chunks, progress
    /// messages) are written at most once per `events::PROGRESS_WRITE_INTERVAL` after it.
    pub(super) last_write_at: Instant,
}

/// Locks `m`, recovering the data of a poisoned mutex.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
impl Shared {
    /// State for `executor`, keeping tasks in `store`.
    pub(crate) fn new(executor: Arc<dyn AgentExecutor>, store: TaskStore) -> Arc<Self> {
        Arc::new(Shared {
            executor,
            store,
            live: Mutex::new(HashMap::new()),
            push: std::sync::OnceLock::new(),
            parked: Mutex::new(HashMap::new()),
            continuations: AtomicU64::new(0),
            claims: Mutex::new(HashSet::new()),
        })
    }

    /// Claims task `id` for one continuing message, in one step with the check that no
    /// message is running it or about to: `UnsupportedOperation` ("still running") when its
    /// executor runs (not closed) or another message holds a claim.
    pub(super) fn claim(self: &Arc<Self>, id: &str) -> A2aResult<Claim> {
        let mut claims = lock(&self.claims);
        let running = claims.contains(id) || self.live(id).is_some_and(|l| !lock(&l.state).closed);
        if running {
            return Err(A2aError::UnsupportedOperation(format!(
                "task `{}` is still running",
                crate::error::clip(id)
            )));
        }
        claims.insert(id.to_owned());
        Ok(Claim {
            shared: self.clone(),
            id: id.to_owned(),
        })
    }

    /// The live task `id`, if its executor is running.
    pub(super) fn live(&self, id: &str) -> Option<Arc<LiveTask>> {
        lock(&self.live).get(id).cloned()
    }

    /// Ends every open stream (used at shutdown so graceful shutdown does not wait on SSE
    /// connections of long tasks). Tasks keep running.
    pub(crate) fn close_streams(&self) {
        let live: Vec<Arc<LiveTask>> = lock(&self.live).values().cloned().collect();
        for l in live {
            lock(&l.state).subscribers.clear();
        }
        lock(&self.parked).clear();
    }

    /// Number of tasks whose executor is still running.
    pub(crate) fn active_tasks(&self) -> usize {
        lock(&self.live).len()
    }

    /// Reads a task: the live snapshot if it is running (once its state is committed: its
    /// newest write has been), else the store (committed rows only).
    pub(crate) async fn get_task(&self, id: &str) -> A2aResult<Task> {
        // A closed live task may be changed by a cancel after it was interrupted; the store
        // (written in order under the task lock) is authoritative then.
        if let Some(l) = self.live(id) {
            let running = {
                let st = lock(&l.state);
                (!st.closed).then(|| (st.task.clone(), st.last_write.clone()))
            };
            if let Some((task, written)) = running {
                written.await.map_err(|e| A2aError::store(&e))?;
                return Ok(task);
            }
        }
        self.store
            .get(id)
            .await
            .map_err(|e| A2aError::store(&e))?
            .ok_or_else(|| A2aError::TaskNotFound(crate::error::clip(id)))
    }
}
