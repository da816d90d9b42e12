//! The executor bridge: creates and continues tasks, runs `execute` in its own tokio task, and
//! serves SendMessage. The operations on existing tasks (subscribe, cancel, failing them at
//! shutdown) are in `running.rs`; the state of running tasks is in `live.rs`; how executor
//! events change a task and reach its streams, in `events.rs`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::{FutureExt as _, Stream};
use tokio::sync::{mpsc, oneshot};

mod events;
mod live;
mod running;

use events::{apply, TaskEvents};
use live::{lock, LiveState, LiveTask, Subscriber};
pub(crate) use live::{Outgoing, Shared};
pub(crate) use running::{cancel, fail_running, subscribe};

use crate::error::{A2aError, A2aResult};
use crate::executor::{AgentEvent, EventSink, IntakeError, RequestContext};
use crate::types::{
    agent_text_message, now, Message, Role, SendMessageRequest, StreamResponse, Task, TaskState,
    TaskStatus,
};

/// Receiving end of one stream of a task; closes after the final event. Read it with
/// [`committed_events`], which holds each event until the state it carries is stored.
pub(crate) type EventReceiver = mpsc::UnboundedReceiver<Outgoing>;

/// The events of `rx`, each once the store write it waits for is committed. A write that
/// failed ends the stream with its error (the state it would have announced is not stored).
pub(crate) fn committed_events(
    rx: EventReceiver,
) -> impl Stream<Item = Result<StreamResponse, A2aError>> + Send {
    futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let out = rx.recv().await?;
        if let Some(written) = out.durable {
            if let Err(e) = written.await {
                return Some((Err(A2aError::store(&e)), None));
            }
        }
        Some((Ok(out.event), Some(rx)))
    })
}

/// What a blocking SendMessage returns.
#[derive(Debug, Clone)]
pub(crate) enum SendOutcome {
    /// The task (terminal, interrupted, or just created with `returnImmediately`).
    Task(Task),
    /// The executor answered with a message.
    Message(Message),
}

/// A task just started by [`start`].
pub(crate) struct Started {
    /// The task as submitted.
    pub(crate) task: Task,
    /// A stream registered before the executor started, so no event is missed.
    pub(crate) events: EventReceiver,
    live: Arc<LiveTask>,
}

/// How the caller of [`start`] follows the task.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Every event, starting with the task snapshot (streaming).
    Stream,
    /// Only a message reply or the end (blocking SendMessage).
    Outcome,
    /// Nothing: the caller answers with the submitted task at once (`returnImmediately`).
    Submitted,
}

/// Longest `message.contextId` / `message.taskId` a client may send, in bytes (A2A sets no
/// limit; ids are UUIDs here, 36 bytes). An id travels into stores, logs and a CLI agent's
/// environment (`MOLECULE_CONTEXT_ID`), so it is bounded and plain text.
pub const MAX_CLIENT_ID_BYTES: usize = 256;

/// Refuses a client's id over [`MAX_CLIENT_ID_BYTES`] or holding a control character (NUL,
/// CR, LF, …): -32602 naming `member`. `None` passes.
fn check_id(member: &str, id: Option<&str>) -> A2aResult<()> {
    let Some(id) = id else { return Ok(()) };
    if id.len() > MAX_CLIENT_ID_BYTES {
        return Err(A2aError::InvalidParams(format!(
            "`{member}` is {} bytes; the limit is {MAX_CLIENT_ID_BYTES} bytes",
            id.len()
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(A2aError::InvalidParams(format!(
            "`{member}` holds a control character ({})",
            crate::error::clip(&id.escape_debug().to_string())
        )));
    }
    Ok(())
}

/// Starts (or continues) a task for `req`.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    req: SendMessageRequest,
    follow: Follow,
) -> A2aResult<Started> {
    let mut message = req.message;
    if message.role != Role::User {
        return Err(A2aError::InvalidParams(
            "`message.role` must be ROLE_USER".into(),
        ));
    }
    if message.message_id.is_empty() {
        return Err(A2aError::InvalidParams(
            "`message.messageId` is required".into(),
        ));
    }
    check_id("message.contextId", message.context_id.as_deref())?;
    check_id("message.taskId", message.task_id.as_deref())?;
    let mut claim = None;
    let (mut task, continuation, new_context) =
        match message.task_id.clone().filter(|t| !t.is_empty()) {
            Some(task_id) => {
                // Checked and claimed in one step, held until the live task is inserted.
                claim = Some(shared.claim(&task_id)?);
                let task = shared.get_task(&task_id).await?;
                if task.status.state.is_terminal() {
                    return Err(A2aError::UnsupportedOperation(format!(
                        "task `{task_id}` is in a terminal state"
                    )));
                }
                if let Some(ctx) = message.context_id.as_deref().filter(|c| !c.is_empty()) {
                    if ctx != task.context_id {
                        return Err(A2aError::InvalidParams(format!(
                            "`message.contextId` `{}` does not match the task's context",
                            crate::error::clip(ctx)
                        )));
                    }
                }
                (task, true, false)
            }
            None => {
                let given = message.context_id.clone().filter(|c| !c.is_empty());
                let new_context = given.is_none();
                let context_id = given.unwrap_or_else(crate::types::new_id);
                let task = Task {
                    id: crate::types::new_id(),
                    context_id,
                    status: TaskStatus {
                        state: TaskState::Submitted,
                        message: None,
                        timestamp: None,
                    },
                    artifacts: None,
                    history: None,
                    metadata: None,
                };
                (task, false, new_context)
            }
        };
    message.task_id = Some(task.id.clone());
    message.context_id = Some(task.context_id.clone());
    // What the message carries (files) is taken in before anything is stored or answered.
    shared
        .executor
        .intake(&mut message)
        .await
        .map_err(|e| match e {
            IntakeError::Refused(reason) => A2aError::InvalidParams(reason),
            IntakeError::Failed(reason) => A2aError::Internal(reason),
        })?;
    task.history
        .get_or_insert_with(Vec::new)
        .push(message.clone());
    task.status = TaskStatus {
        state: TaskState::Submitted,
        message: None,
        timestamp: Some(now()),
    };
    // A task that is answered at once (streamed, or `returnImmediately`) runs only once the
    // store has it. A blocking SendMessage answers only the final state, which waits for its
    // own write, so its first write may share a commit with others.
    let submitted = if follow == Follow::Outcome {
        shared.store.put_progress(&task)
    } else {
        let submitted = shared.store.put(&task);
        submitted.clone().await.map_err(|e| A2aError::store(&e))?;
        submitted
    };

    let (tx, rx) = mpsc::unbounded_channel();
    let mut subscribers = vec![Subscriber {
        tx,
        primed: false,
        outcome_only: follow != Follow::Stream,
        to_end: false,
    }];
    // SubscribeToTask streams waiting on the interrupted task follow the continuation; taken
    // and the live task inserted under one lock, so a new subscriber finds one or the other.
    let mut parked = lock(&shared.parked);
    if continuation {
        shared.continuations.fetch_add(1, Ordering::SeqCst);
    }
    subscribers.extend(parked.remove(&task.id).unwrap_or_default());
    let live = Arc::new(LiveTask {
        state: Mutex::new(LiveState {
            task: task.clone(),
            subscribers,
            started: false,
            continuation,
            message_reply: None,
            closed: false,
            canceling: false,
            abort: None,
            last_write: submitted,
            last_write_at: std::time::Instant::now(),
        }),
    });
    lock(&shared.live).insert(task.id.clone(), live.clone());
    drop(parked);
    drop(claim);
    // A push config sent with the message (checked by the caller) covers the task from its
    // first update on.
    let push_config = req
        .configuration
        .as_ref()
        .and_then(|c| c.task_push_notification_config.clone());
    if let (Some(p), Some(config)) = (shared.push.get(), push_config) {
        p.attach(&task.id, config);
    }

    let ctx = RequestContext {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        message,
        task: task.clone(),
        is_continuation: continuation,
        new_context,
        accepted_output_modes: req
            .configuration
            .and_then(|c| c.accepted_output_modes)
            .unwrap_or_default(),
        metadata: req.metadata.unwrap_or_default(),
    };
    let sink = EventSink::new(
        Arc::new(TaskEvents {
            shared: shared.clone(),
            live: live.clone(),
        }),
        task.id.clone(),
        task.context_id.clone(),
    );
    let executor = shared.executor.clone();
    let (abort_tx, abort_rx) = oneshot::channel::<()>();
    lock(&live.state).abort = Some(abort_tx);
    let shared2 = shared.clone();
    let live2 = live.clone();
    // One tokio task per A2A task: it runs on the worker that accepted the request, with no
    // hand-off to a second task (and so often no wake-up of another thread).
    tokio::spawn(async move {
        let run = std::panic::AssertUnwindSafe(executor.execute(ctx, sink)).catch_unwind();
        let ended = tokio::select! {
            result = run => match result {
                Ok(result) => Ended::Returned(result),
                Err(_) => Ended::Panicked,
            },
            _ = abort_rx => Ended::Aborted,
        };
        finish(&shared2, &live2, ended);
    });
    Ok(Started {
        task,
        events: rx,
        live,
    })
}

/// How an executor's `execute` future ended.
enum Ended {
    /// It returned.
    Returned(Result<(), String>),
    /// It panicked.
    Panicked,
    /// A cancel stopped it; the task is already CANCELED.
    Aborted,
}

/// Applies the executor's return value, then forgets the live task.
fn finish(shared: &Arc<Shared>, live: &Arc<LiveTask>, ended: Ended) {
    let fallback = match ended {
        Ended::Returned(Ok(())) => Some((TaskState::Completed, None)),
        Ended::Returned(Err(reason)) => Some((TaskState::Failed, Some(reason))),
        Ended::Panicked => Some((TaskState::Failed, Some("executor panicked".into()))),
        Ended::Aborted => None,
    };
    let id = {
        let st = lock(&live.state);
        st.task.id.clone()
    };
    let canceling = lock(&live.state).canceling;
    let fallback = if canceling {
        Some((TaskState::Canceled, None))
    } else {
        fallback
    };
    if let Some((state, reason)) = fallback {
        let closed = lock(&live.state).closed;
        if !closed {
            let message = {
                let st = lock(&live.state);
                match (&reason, &st.message_reply) {
                    (Some(r), _) => Some(agent_text_message(r, &id, &st.task.context_id)),
                    (None, Some(m)) => Some(m.clone()),
                    (None, None) => None,
                }
            };
            if let Some(r) = &reason {
                let reason = crate::error::log_text(r);
                tracing::warn!(task_id = %id, %reason, "a2a executor failed the task");
            }
            let _ = apply(shared, live, AgentEvent::Status { state, message }, true);
        }
    }
    let mut map = lock(&shared.live);
    if map.get(&id).is_some_and(|cur| Arc::ptr_eq(cur, live)) {
        map.remove(&id);
    }
}

/// SendMessage: starts the task and waits for a final state unless `return_immediately`.
pub(crate) async fn send_message(
    shared: &Arc<Shared>,
    req: SendMessageRequest,
    return_immediately: bool,
) -> A2aResult<SendOutcome> {
    let Started {
        task,
        events: mut rx,
        live,
    } = start(
        shared,
        req,
        if return_immediately {
            Follow::Submitted
        } else {
            Follow::Outcome
        },
    )
    .await?;
    if return_immediately {
        return Ok(SendOutcome::Task(task));
    }
    while let Some(out) = rx.recv().await {
        if let StreamResponse::Message(m) = out.event {
            if let Some(written) = out.durable {
                written.await.map_err(|e| A2aError::store(&e))?;
            }
            return Ok(SendOutcome::Message(m));
        }
    }
    // The stream ended: the task reached a final or interrupted state (or the server is
    // shutting down). Either way the live snapshot is the task as of now, answered once its
    // newest write is committed; no store read.
    let (task, written) = {
        let st = lock(&live.state);
        (st.task.clone(), st.last_write.clone())
    };
    written.await.map_err(|e| A2aError::store(&e))?;
    Ok(SendOutcome::Task(task))
}
