//! Which contexts the task store still holds tasks of, and which of them have a task that is
//! not terminal (submitted, working, or waiting for input or auth): what a host needs to
//! clean up per-context data (uploaded files) that no task can use any more. One query over
//! the `tasks_by_context` index; its size is bounded by the store's retention (`max_tasks`).

use super::sql::read_error;
use super::types::StoreError;
use super::TaskStore;

/// The terminal states (A2A 1.0 §"TaskState"): a task in one of them runs no more.
const TERMINAL_STATES: &str = "('TASK_STATE_COMPLETED','TASK_STATE_FAILED',\
'TASK_STATE_CANCELED','TASK_STATE_REJECTED')";

/// One context of the store: its id and whether any of its tasks is not terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextTasks {
    /// The A2A `contextId`.
    pub context_id: String,
    /// Some task of the context is submitted, working, input-required or auth-required.
    pub unfinished: bool,
}

impl TaskStore {
    /// Every context with a task in the store (writes queued before the call included), at
    /// most one entry per context. Errors: [`StoreError::Read`] naming the store's file.
    pub async fn contexts(&self) -> Result<Vec<ContextTasks>, StoreError> {
        let path = self.path.clone();
        self.call(move |c| {
            let sql = format!(
                "SELECT context_id, MAX(state NOT IN {TERMINAL_STATES}) FROM tasks \
                 GROUP BY context_id"
            );
            c.prepare(&sql)
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| {
                        Ok(ContextTasks {
                            context_id: r.get(0)?,
                            unfinished: r.get::<_, i64>(1)? != 0,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(|e| read_error(&path, "the contexts", &e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::types::{Task, TaskState, TaskStatus};
    use crate::{Retention, TaskStore};

    fn task(id: &str, context: &str, state: TaskState) -> Task {
        Task {
            id: id.into(),
            context_id: context.into(),
            status: TaskStatus {
                state,
                message: None,
                timestamp: None,
            },
            artifacts: None,
            history: None,
            metadata: None,
        }
    }

    #[tokio::test]
    async fn contexts_tell_unfinished_from_terminal() {
        let store = TaskStore::in_memory(Retention::default()).unwrap();
        store
            .put(&task("t1", "done", TaskState::Completed))
            .await
            .unwrap();
        store
            .put(&task("t2", "mixed", TaskState::Failed))
            .await
            .unwrap();
        store
            .put(&task("t3", "mixed", TaskState::InputRequired))
            .await
            .unwrap();
        store
            .put(&task("t4", "running", TaskState::Working))
            .await
            .unwrap();
        let mut got = store.contexts().await.unwrap();
        got.sort_by(|a, b| a.context_id.cmp(&b.context_id));
        let got: Vec<(&str, bool)> = got
            .iter()
            .map(|c| (c.context_id.as_str(), c.unfinished))
            .collect();
        assert_eq!(got, [("done", false), ("mixed", true), ("running", true)]);
    }
}
