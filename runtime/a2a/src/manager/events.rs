//! Applying executor events to a live task: the snapshot changes (status, history,
//! artifacts), every open stream gets the event (streams that have not seen the task yet get
//! the snapshot first), and the task is written to the store. A final state closes the task.
//!
//! What is written when: every change of state (and every final state) is written at once,
//! and the events that carry it wait for that write to commit before a stream sends them.
//! Changes within a state — artifact chunks, progress messages — are merged into the snapshot
//! in memory (appended text joins the artifact's last text part) and written at most once per
//! [`PROGRESS_WRITE_INTERVAL`] (by the next change after it), so a long streamed answer costs
//! the same per chunk however long it grows; the final write carries everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::live::{lock, LiveState, LiveTask, Outgoing, Shared};
use crate::executor::{AgentEvent, EventTarget, SinkClosed};
use crate::store::Durable;
use crate::types::{
    is_final, is_interrupted, now, Artifact, Message, Part, PartContent, StreamResponse, Task,
    TaskArtifactUpdateEvent, TaskState, TaskStatus, TaskStatusUpdateEvent,
};

/// Changes within a state (artifact chunks, progress messages) are written to the store at
/// most once per this interval; the next write (at the latest the final one) carries the rest.
pub(super) const PROGRESS_WRITE_INTERVAL: Duration = Duration::from_millis(250);

/// Where the [`EventSink`](crate::executor::EventSink) of one task sends its events.
pub(super) struct TaskEvents {
    pub(super) shared: Arc<Shared>,
    pub(super) live: Arc<LiveTask>,
}

impl EventTarget for TaskEvents {
    fn apply(&self, event: AgentEvent) -> Result<(), SinkClosed> {
        apply(&self.shared, &self.live, event, false)
    }

    fn metadata_stored(&self, key: String, value: Value) -> Durable {
        let mut st = lock(&self.live.state);
        st.task
            .metadata
            .get_or_insert_with(Default::default)
            .insert(key, value);
        self.shared.store.put(&st.task)
    }
}

/// Applies one event to `live`; `internal` marks the manager's own events (the executor's
/// return value, a cancel), which never count as a message reply.
pub(super) fn apply(
    shared: &Arc<Shared>,
    live: &Arc<LiveTask>,
    event: AgentEvent,
    internal: bool,
) -> Result<(), SinkClosed> {
    let mut st = lock(&live.state);
    if let AgentEvent::Metadata { key, value } = event {
        // Bookkeeping, not progress: allowed after the close, and no stream event.
        st.task
            .metadata
            .get_or_insert_with(Default::default)
            .insert(key, value);
        // No reply waits on it (replies wait on the writes of states): it may share a commit.
        shared.store.put_progress(&st.task);
        return Ok(());
    }
    if st.closed {
        return Err(SinkClosed(st.task.id.clone()));
    }
    // WORKING is sent once: a repeated WORKING without a message changes nothing (an
    // executor may repeat it to learn whether the task was canceled: Err once closed).
    if let AgentEvent::Status {
        state: TaskState::Working,
        message: None,
    } = &event
    {
        if st.task.status.state == TaskState::Working {
            st.started = true;
            return Ok(());
        }
    }
    let first = !st.started;
    st.started = true;
    let task_id = st.task.id.clone();
    let context_id = st.task.context_id.clone();

    // A message as the very first event of a new task is the whole answer.
    if let (AgentEvent::Message(m), true, false, false) = (&event, first, st.continuation, internal)
    {
        let mut m = m.clone();
        fill_ids(&mut m, &task_id, &context_id);
        st.message_reply = Some(m.clone());
        st.task.history.get_or_insert_with(Vec::new).push(m.clone());
        set_status(&mut st.task, TaskState::Completed, Some(m.clone()));
        let written = write_now(shared, &mut st);
        for s in st.subscribers.iter() {
            if !s.primed {
                let _ = s.tx.send(Outgoing {
                    event: StreamResponse::Message(m.clone()),
                    durable: Some(written.clone()),
                });
            }
        }
        st.subscribers.retain(|s| s.primed);
        let update = status_update(&st.task);
        push(shared, &st, &update, Some(&written));
        broadcast(&mut st, update, Some(written));
        st.closed = true;
        st.subscribers.clear();
        return Ok(());
    }

    // Streams that have not seen the task yet get the snapshot before the update.
    if st.subscribers.iter().any(|s| !s.primed && !s.outcome_only) {
        let snapshot = StreamResponse::Task(st.task.clone());
        let written = st.last_write.clone();
        for s in st
            .subscribers
            .iter_mut()
            .filter(|s| !s.primed && !s.outcome_only)
        {
            let _ = s.tx.send(Outgoing {
                event: snapshot.clone(),
                durable: Some(written.clone()),
            });
            s.primed = true;
        }
    }
    let before = st.task.status.state.clone();

    let update = match event {
        AgentEvent::Status { state, message } => {
            let message = message.map(|mut m| {
                fill_ids(&mut m, &task_id, &context_id);
                m
            });
            if let Some(m) = &message {
                st.task.history.get_or_insert_with(Vec::new).push(m.clone());
            }
            set_status(&mut st.task, state, message);
            status_update(&st.task)
        }
        AgentEvent::Message(mut m) => {
            fill_ids(&mut m, &task_id, &context_id);
            st.task.history.get_or_insert_with(Vec::new).push(m.clone());
            let state = st.task.status.state.clone();
            set_status(&mut st.task, state, Some(m));
            status_update(&st.task)
        }
        AgentEvent::Artifact {
            artifact,
            append,
            last_chunk,
        } => {
            let arts = st.task.artifacts.get_or_insert_with(Vec::new);
            match arts
                .iter_mut()
                .find(|a| a.artifact_id == artifact.artifact_id)
            {
                Some(existing) if append => append_parts(existing, &artifact.parts),
                Some(existing) => *existing = artifact.clone(),
                None => arts.push(artifact.clone()),
            }
            StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
                task_id: task_id.clone(),
                context_id: context_id.clone(),
                artifact,
                append: Some(append),
                last_chunk: Some(last_chunk),
                metadata: None,
            })
        }
        AgentEvent::Metadata { .. } => return Ok(()), // applied above
    };
    let state = &st.task.status.state;
    let written = if *state != before || is_final(state) {
        Some(write_now(shared, &mut st))
    } else {
        write_progress(shared, &mut st);
        None
    };
    push(shared, &st, &update, written.as_ref());
    broadcast(&mut st, update, written);
    if is_final(&st.task.status.state) {
        st.closed = true;
        let subscribers = std::mem::take(&mut st.subscribers);
        if is_interrupted(&st.task.status.state) {
            // SubscribeToTask streams follow the task to its end: they wait for the message
            // that continues it (or a cancel).
            let waiting: Vec<_> = subscribers.into_iter().filter(|s| s.to_end).collect();
            if !waiting.is_empty() {
                lock(&shared.parked)
                    .entry(task_id)
                    .or_default()
                    .extend(waiting);
            }
        }
    }
    Ok(())
}

/// Queues a write of the snapshot that a reply or an event waits on: urgent (committed
/// without lingering) when the state is final or a stream is open; otherwise nobody is
/// waiting yet (a blocking SendMessage waits for the final state only), so it may share a
/// commit with other writes.
pub(super) fn write_now(shared: &Shared, st: &mut LiveState) -> Durable {
    let urgent = is_final(&st.task.status.state) || st.subscribers.iter().any(|s| !s.outcome_only);
    let written = if urgent {
        shared.store.put(&st.task)
    } else {
        shared.store.put_progress(&st.task)
    };
    st.last_write = written.clone();
    st.last_write_at = Instant::now();
    written
}

/// Records a change within the task's state: written now if the last write is at least
/// [`PROGRESS_WRITE_INTERVAL`] old, else left for the next write (a later change, a change
/// of state, or the final state, which always writes). Only a crash could show the store's
/// older copy, and a task running at a crash is marked FAILED at the next boot anyway.
fn write_progress(shared: &Shared, st: &mut LiveState) {
    if st.last_write_at.elapsed() >= PROGRESS_WRITE_INTERVAL {
        st.last_write = shared.store.put_progress(&st.task);
        st.last_write_at = Instant::now();
    }
}

/// Appends `parts` to `artifact`: a text part joins the artifact's last part when that is
/// text of the same kind (same media type and file name, no metadata on either), so a text
/// streamed in many chunks is one part growing in place, not one part per chunk.
fn append_parts(artifact: &mut Artifact, parts: &[Part]) {
    for part in parts {
        if let (Some(last), PartContent::Text(more)) = (artifact.parts.last_mut(), &part.content) {
            let same_kind = last.metadata.is_none()
                && part.metadata.is_none()
                && last.media_type == part.media_type
                && last.filename == part.filename;
            if let (PartContent::Text(text), true) = (&mut last.content, same_kind) {
                text.push_str(more);
                continue;
            }
        }
        artifact.parts.push(part.clone());
    }
}

fn fill_ids(m: &mut Message, task_id: &str, context_id: &str) {
    if m.message_id.is_empty() {
        m.message_id = crate::types::new_id();
    }
    m.task_id.get_or_insert_with(|| task_id.to_string());
    m.context_id.get_or_insert_with(|| context_id.to_string());
}

pub(super) fn set_status(task: &mut Task, state: TaskState, message: Option<Message>) {
    task.status = TaskStatus {
        state,
        message,
        timestamp: Some(now()),
    };
}

/// The status-update event of `task`'s current status. The final one carries the task's
/// `metadata` as it stands then (e.g. the runtime's `molecule.receipt`), so a stream ends
/// with what GetTask would show.
pub(super) fn status_update(task: &Task) -> StreamResponse {
    let metadata = match is_final(&task.status.state) {
        true => task.metadata.clone().filter(|m| !m.is_empty()),
        false => None,
    };
    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        status: task.status.clone(),
        metadata,
    })
}

/// Hands `event` to push delivery (when enabled), to go out once `written` is committed.
fn push(shared: &Shared, st: &LiveState, event: &StreamResponse, written: Option<&Durable>) {
    if let Some(p) = shared.push.get() {
        let last = st.task.status.state.is_terminal();
        p.notify(&st.task.id, event, written.cloned(), last);
    }
}

/// Sends `event` to every stream (not to outcome-only followers), to go out once `written`
/// is committed; drops closed streams.
fn broadcast(st: &mut LiveState, event: StreamResponse, written: Option<Durable>) {
    st.subscribers.retain(|s| {
        s.outcome_only
            || s.tx
                .send(Outgoing {
                    event: event.clone(),
                    durable: written.clone(),
                })
                .is_ok()
    });
}
