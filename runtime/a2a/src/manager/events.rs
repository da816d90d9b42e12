//! Applying executor events to a live task: the snapshot changes (status, history,
//! artifacts), every open stream gets the event (streams that have not seen the task yet get
//! the snapshot first), and the task is written to the store. A final state closes the task.

use std::sync::Arc;

use super::live::{lock, LiveState, LiveTask, Shared};
use crate::executor::{AgentEvent, EventTarget, SinkClosed};
use crate::types::{
    is_final, now, Message, StreamResponse, Task, TaskArtifactUpdateEvent, TaskState, TaskStatus,
    TaskStatusUpdateEvent,
};

/// Where the [`EventSink`](crate::executor::EventSink) of one task sends its events.
pub(super) struct TaskEvents {
    pub(super) shared: Arc<Shared>,
    pub(super) live: Arc<LiveTask>,
}

impl EventTarget for TaskEvents {
    fn apply(&self, event: AgentEvent) -> Result<(), SinkClosed> {
        apply(&self.shared, &self.live, event, false)
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
    if st.closed {
        return Err(SinkClosed(st.task.id.clone()));
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
        for s in st.subscribers.iter() {
            if !s.primed {
                let _ = s.tx.send(StreamResponse::Message(m.clone()));
            }
        }
        st.subscribers.retain(|s| s.primed);
        st.task.history.get_or_insert_with(Vec::new).push(m.clone());
        set_status(&mut st.task, TaskState::Completed, Some(m));
        let update = status_update(&st.task);
        broadcast(&mut st, update);
        st.closed = true;
        st.subscribers.clear();
        shared.store.put(&st.task);
        return Ok(());
    }

    // Streams that have not seen the task yet get the snapshot before the update.
    if st.subscribers.iter().any(|s| !s.primed && !s.outcome_only) {
        let snapshot = StreamResponse::Task(st.task.clone());
        for s in st
            .subscribers
            .iter_mut()
            .filter(|s| !s.primed && !s.outcome_only)
        {
            let _ = s.tx.send(snapshot.clone());
            s.primed = true;
        }
    }

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
                Some(existing) if append => existing.parts.extend(artifact.parts.clone()),
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
    };
    broadcast(&mut st, update);
    if is_final(&st.task.status.state) {
        st.closed = true;
        st.subscribers.clear();
    }
    shared.store.put(&st.task);
    Ok(())
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

fn status_update(task: &Task) -> StreamResponse {
    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        status: task.status.clone(),
        metadata: None,
    })
}

/// Sends `event` to every stream (not to outcome-only followers); drops closed streams.
fn broadcast(st: &mut LiveState, event: StreamResponse) {
    st.subscribers
        .retain(|s| s.outcome_only || s.tx.send(event.clone()).is_ok());
}
