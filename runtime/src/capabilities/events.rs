//! `events`: task progress (status, artifacts, messages) from an executing adapter. The backend
//! is the task's event queue in the A2A server, which forwards events to clients in order.
//!
//! [`TaskBudget`] wraps a task's backend with the per-task budgets: events
//! (`sandbox.task.max_events`) and bytes (`sandbox.task.max_artifact_bytes`: the content of
//! artifacts, messages and status messages together) and JSON values in data parts
//! (`sandbox.task.max_data_values`: the host parses data parts into JSON trees, ~100 bytes a
//! value, so the count — taken by a cheap scan before any parsing — bounds that memory),
//! counted over every call of the task together (the adapter's and its tools'), refused past the
//! budget with the budget error. A spent budget ends the task's output: from the first
//! refusal on every event is refused with that error (a later, smaller chunk would leave a
//! hole in the answer), and [`TaskBudget::spent`] tells the executor, which ends the task
//! FAILED with it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use async_trait::async_trait;

use crate::bindings::imports::molecule::runtime::events;
use crate::bindings::imports::molecule::runtime::types::{Artifact, Message, Part, TaskState};
use crate::bindings::HostError;
use crate::budgets::{Budget, BudgetHit, Budgets};

use super::grant::Granted;

/// Receives the events of one task.
#[async_trait]
pub trait EventsBackend: Send + Sync {
    /// The task moved to `state`.
    async fn status(&self, state: TaskState, message: Option<Message>) -> Result<(), HostError>;
    /// An artifact chunk was produced.
    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError>;
    /// A message for the client.
    async fn message(&self, message: Message) -> Result<(), HostError>;
    /// The adapter's whole answer (WIT `events.reply`). By default the message completes the
    /// task; the workspace's backend sends it alone when it is the task's first event.
    async fn reply(&self, message: Message) -> Result<(), HostError> {
        self.status(TaskState::Completed, Some(message)).await
    }
    /// True once the task reported something (then a reply completes the task). Default true.
    fn reported(&self) -> bool {
        true
    }
}

/// The `events` capability of one store.
pub type EventsCtx = Granted<dyn EventsBackend>;

impl events::Host for EventsCtx {
    async fn update_status(
        &mut self,
        state: TaskState,
        message: Option<Message>,
    ) -> Result<(), HostError> {
        self.get()?.status(state, message).await
    }

    async fn add_artifact(&mut self, artifact: Artifact) -> Result<(), HostError> {
        self.get()?.artifact(artifact).await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), HostError> {
        self.get()?.message(message).await
    }

    async fn reply(&mut self, message: Message) -> Result<(), HostError> {
        self.get()?.reply(message).await
    }
}

/// One task's events backend within the task's budgets: build one per task and give it to
/// every call of the task. Refused events never reach the inner backend; once one budget is
/// spent, every later event is refused with its error.
pub struct TaskBudget<B> {
    inner: B,
    max_events: u64,
    max_artifact_bytes: u64,
    events: AtomicU64,
    artifact_bytes: AtomicU64,
    max_data_values: u64,
    data_values: AtomicU64,
    /// The first budget the task spent.
    spent: OnceLock<BudgetHit>,
}

impl<B: EventsBackend> TaskBudget<B> {
    /// `inner` within the task budgets of `budgets`.
    pub fn new(inner: B, budgets: &Budgets) -> Self {
        TaskBudget {
            inner,
            max_events: budgets.task_events,
            max_artifact_bytes: budgets.artifact_bytes,
            events: AtomicU64::new(0),
            artifact_bytes: AtomicU64::new(0),
            max_data_values: budgets.data_values,
            data_values: AtomicU64::new(0),
            spent: OnceLock::new(),
        }
    }

    /// The first budget the task spent, if any: the task's output is incomplete and it must
    /// end FAILED with this error (which names the limit and its config key).
    pub fn spent(&self) -> Option<BudgetHit> {
        self.spent.get().copied()
    }

    /// Refuses every event once a budget is spent, with that budget's error (each refusal is
    /// a hit of it in `/metrics`).
    fn check_open(&self) -> Result<(), HostError> {
        match self.spent.get() {
            Some(hit) => Err(self.refuse(hit.budget, hit.limit)),
            None => Ok(()),
        }
    }

    /// Counts a hit of `budget` and remembers the task's first one; the error to answer.
    fn refuse(&self, budget: Budget, limit: u64) -> HostError {
        let hit = BudgetHit::record(budget, limit);
        HostError::Failed(self.spent.get_or_init(|| hit).to_string())
    }

    /// What the task emitted so far: (events, bytes of artifacts, messages and status
    /// messages). Refused ones are not counted.
    pub fn used(&self) -> (u64, u64) {
        (
            self.events.load(Ordering::Relaxed).min(self.max_events),
            self.artifact_bytes.load(Ordering::Relaxed),
        )
    }

    /// Takes the JSON values of `parts`' data parts from the budget, all or nothing.
    fn take_data_values(&self, parts: &[Part]) -> Result<(), HostError> {
        let values: u64 = parts.iter().map(data_values).sum();
        if values == 0 {
            return Ok(());
        }
        let max = self.max_data_values;
        let taken = self
            .data_values
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                n.checked_add(values).filter(|total| *total <= max)
            });
        taken
            .map(drop)
            .map_err(|_| self.refuse(Budget::DataValues, max))
    }

    /// Takes one event from the budget.
    fn take_event(&self) -> Result<(), HostError> {
        let taken = self
            .events
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_events).then_some(n + 1)
            });
        taken
            .map(drop)
            .map_err(|_| self.refuse(Budget::TaskEvents, self.max_events))
    }

    /// Takes `bytes` of artifact or message content from the budget, all or nothing.
    fn take_artifact_bytes(&self, bytes: u64) -> Result<(), HostError> {
        let max = self.max_artifact_bytes;
        let taken = self
            .artifact_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                n.checked_add(bytes).filter(|total| *total <= max)
            });
        taken
            .map(drop)
            .map_err(|_| self.refuse(Budget::ArtifactBytes, max))
    }
}

#[async_trait]
impl<B: EventsBackend> EventsBackend for TaskBudget<B> {
    async fn status(&self, state: TaskState, message: Option<Message>) -> Result<(), HostError> {
        self.check_open()?;
        // Size first, as for artifacts: a status message's bytes count against the task too.
        self.take_artifact_bytes(message.as_ref().map_or(0, message_size))?;
        self.take_data_values(message.as_ref().map_or(&[], |m| &m.parts))?;
        self.take_event()?;
        self.inner.status(state, message).await
    }

    async fn artifact(&self, artifact: Artifact) -> Result<(), HostError> {
        self.check_open()?;
        // Size first: an oversized chunk must not use up an event as well.
        self.take_artifact_bytes(artifact_size(&artifact))?;
        self.take_data_values(&artifact.parts)?;
        self.take_event()?;
        self.inner.artifact(artifact).await
    }

    async fn message(&self, message: Message) -> Result<(), HostError> {
        self.check_open()?;
        self.take_artifact_bytes(message_size(&message))?;
        self.take_data_values(&message.parts)?;
        self.take_event()?;
        self.inner.message(message).await
    }

    async fn reply(&self, message: Message) -> Result<(), HostError> {
        // The same budgets as any message: a reply is the task's answer, not a way around them.
        self.check_open()?;
        self.take_artifact_bytes(message_size(&message))?;
        self.take_data_values(&message.parts)?;
        self.take_event()?;
        self.inner.reply(message).await
    }

    fn reported(&self) -> bool {
        self.inner.reported()
    }
}

/// Bytes of an artifact chunk: its id, name and every part's content.
pub fn artifact_size(artifact: &Artifact) -> u64 {
    let parts: usize = artifact.parts.iter().map(part_size).sum();
    let name = artifact.name.as_ref().map_or(0, String::len);
    (artifact.artifact_id.len() + name + parts) as u64
}

/// Bytes of a message (a `send-message` or a status message): its id, context and task ids,
/// metadata and every part's content (text, data or file) — counted against the task's
/// `sandbox.task.max_artifact_bytes` like artifact chunks.
pub fn message_size(message: &Message) -> u64 {
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let parts: usize = message.parts.iter().map(part_size).sum();
    let ids = message.message_id.len() + len(&message.context_id) + len(&message.task_id);
    (ids + len(&message.metadata) + parts) as u64
}

/// An upper bound on the JSON values a data part parses into (0 for other parts), by one
/// scan of its text without parsing: one for the whole, plus one per `,`, `[` and `{` outside
/// strings (`[0,0]` is 3: the array and two numbers). Exact for arrays of scalars; never
/// below the real count of valid JSON.
pub fn data_values(part: &Part) -> u64 {
    let Part::Data(json) = part else {
        return 0;
    };
    let (mut count, mut in_string, mut escaped) = (1u64, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b',' | b'[' | b'{' => count += 1,
            _ => {}
        }
    }
    count
}

/// Bytes of one part's content.
fn part_size(part: &Part) -> usize {
    match part {
        Part::Text(text) => text.len(),
        Part::Data(json) => json.len(),
        Part::File(file) => {
            let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
            len(&file.name)
                + len(&file.media_type)
                + len(&file.uri)
                + file.bytes.as_ref().map_or(0, Vec::len)
        }
    }
}

/// The wrapper alone, with a backend that counts what reaches it.
#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);

    #[async_trait]
    impl EventsBackend for Count {
        async fn status(&self, _: TaskState, _: Option<Message>) -> Result<(), HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        async fn message(&self, _: Message) -> Result<(), HostError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    fn chunk(text: &str) -> Artifact {
        Artifact {
            artifact_id: "a".into(),
            name: None,
            parts: vec![Part::Text(text.into())],
            append: true,
            last_chunk: false,
        }
    }

    fn refusal(result: Result<(), HostError>) -> String {
        match result {
            Err(HostError::Failed(text)) => text,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn events_past_the_budget_are_refused_and_end_the_output() {
        let budgets = Budgets {
            task_events: 5,
            ..Budgets::default()
        };
        let task = TaskBudget::new(Count::default(), &budgets);
        task.artifact(chunk("x")).await.unwrap();
        for _ in 0..4 {
            task.status(TaskState::Working, None).await.unwrap();
        }
        assert!(task.spent().is_none());
        let text = refusal(task.status(TaskState::Working, None).await);
        assert!(text.contains("events per task is limited to 5"), "{text}");
        assert!(text.contains("sandbox.task.max_events"), "{text}");
        assert_eq!(task.spent().map(|h| h.budget), Some(Budget::TaskEvents));
        let later = refusal(
            task.message(Message {
                message_id: "m".into(),
                role: crate::bindings::imports::molecule::runtime::types::Role::Agent,
                parts: vec![],
                context_id: None,
                task_id: None,
                metadata: None,
            })
            .await,
        );
        assert_eq!(later, text, "every later event gets the same error");
        assert_eq!(
            task.inner.0.load(Ordering::Relaxed),
            5,
            "refused events never arrive"
        );
    }

    #[tokio::test]
    async fn an_oversized_chunk_ends_the_output_even_if_smaller_ones_would_fit() {
        let budgets = Budgets {
            artifact_bytes: 21,
            ..Budgets::default()
        };
        let task = TaskBudget::new(Count::default(), &budgets);
        task.artifact(chunk(&"x".repeat(10))).await.unwrap();
        let text = refusal(task.artifact(chunk(&"x".repeat(20))).await);
        assert!(text.contains("sandbox.task.max_artifact_bytes"), "{text}");
        assert_eq!(task.spent().map(|h| h.budget), Some(Budget::ArtifactBytes));
        // 10 more bytes would fit, but the answer already has a hole: refused too.
        assert_eq!(refusal(task.artifact(chunk(&"x".repeat(9))).await), text);
        assert_eq!(refusal(task.status(TaskState::Working, None).await), text);
        assert_eq!(task.used(), (1, 11), "only the first chunk was taken");
        assert_eq!(task.inner.0.load(Ordering::Relaxed), 1);
    }

    fn text_message(text: &str) -> Message {
        Message {
            message_id: "m".into(),
            role: crate::bindings::imports::molecule::runtime::types::Role::Agent,
            parts: vec![Part::Text(text.into()), Part::Data("[0]".into())],
            context_id: None,
            task_id: None,
            metadata: None,
        }
    }

    #[tokio::test]
    async fn messages_and_status_messages_count_against_the_task_bytes() {
        let budgets = Budgets {
            artifact_bytes: 100,
            ..Budgets::default()
        };
        let task = TaskBudget::new(Count::default(), &budgets);
        // 1 (id) + 10 (text) + 3 (data) = 14 bytes each.
        task.message(text_message(&"x".repeat(10))).await.unwrap();
        let status = Some(text_message(&"y".repeat(10)));
        task.status(TaskState::Working, status).await.unwrap();
        task.status(TaskState::Working, None).await.unwrap();
        assert_eq!(task.used(), (3, 28), "both messages' bytes were counted");
        task.artifact(chunk(&"z".repeat(60))).await.unwrap();
        assert_eq!(task.used(), (4, 89));
        let text = refusal(task.message(text_message(&"x".repeat(10))).await);
        assert!(text.contains("sandbox.task.max_artifact_bytes"), "{text}");
        assert!(text.contains("100"), "{text}");
        assert_eq!(task.spent().map(|h| h.budget), Some(Budget::ArtifactBytes));
        let big_status = Some(text_message(&"y".repeat(1000)));
        assert_eq!(
            refusal(task.status(TaskState::Working, big_status).await),
            text
        );
        assert_eq!(task.used(), (4, 89), "refused messages take nothing");
        assert_eq!(task.inner.0.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn data_values_are_counted_without_parsing() {
        let count = |s: &str| data_values(&Part::Data(s.into()));
        assert_eq!(count("[0,0,0]"), 4);
        assert_eq!(count(r#"{"a":1,"b":[2]}"#), 4);
        assert_eq!(
            count(r#"["a,[{", "\",{"]"#),
            3,
            "commas and brackets in strings"
        );
        assert_eq!(data_values(&Part::Text("[0,0]".into())), 0);
    }

    #[tokio::test]
    async fn data_parts_past_the_value_budget_are_refused_before_parsing() {
        let budgets = Budgets {
            data_values: 1_000,
            ..Budgets::default()
        };
        let task = TaskBudget::new(Count::default(), &budgets);
        let data = |n: usize| Artifact {
            artifact_id: "a".into(),
            name: None,
            parts: vec![Part::Data(format!("[{}0]", "0,".repeat(n - 1)))],
            append: true,
            last_chunk: false,
        };
        task.artifact(data(600)).await.unwrap();
        let text = refusal(task.artifact(data(600)).await);
        assert!(text.contains("sandbox.task.max_data_values"), "{text}");
        assert!(text.contains("1000"), "{text}");
        assert_eq!(task.spent().map(|h| h.budget), Some(Budget::DataValues));
        assert_eq!(task.inner.0.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn one_oversized_status_message_is_refused_before_the_backend() {
        let budgets = Budgets {
            artifact_bytes: 64,
            ..Budgets::default()
        };
        let task = TaskBudget::new(Count::default(), &budgets);
        let status = Some(text_message(&"y".repeat(1 << 20)));
        let text = refusal(task.status(TaskState::Working, status).await);
        assert!(text.contains("sandbox.task.max_artifact_bytes"), "{text}");
        assert_eq!(task.inner.0.load(Ordering::Relaxed), 0);
    }
}
