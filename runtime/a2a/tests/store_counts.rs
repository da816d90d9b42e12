//! The store's per-state task counts (what `/metrics` shows) are kept as writes commit and
//! retention deletes, and start from the database's rows at open: they always agree with a
//! full count, and reading them is a plain read of counters (`TaskStore::metrics` is not
//! async: it cannot wait for the store thread).

use molecule_a2a::store::{prune_now, ListQuery};
use molecule_a2a::types::{now, Task, TaskState, TaskStatus};
use molecule_a2a::{Retention, TaskStore};

fn task(id: &str, state: TaskState) -> Task {
    Task {
        id: id.into(),
        context_id: "ctx".into(),
        status: TaskStatus {
            state,
            message: None,
            timestamp: Some(now()),
        },
        artifacts: None,
        history: None,
        metadata: None,
    }
}

/// The counts as `metrics()` has them, for the states used here.
fn counted(store: &TaskStore) -> [u64; 3] {
    let m = store.metrics();
    let n = |s: TaskState| {
        m.tasks_by_state
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n)
    };
    [
        n(TaskState::Working),
        n(TaskState::Completed),
        n(TaskState::Failed),
    ]
}

/// The same counts by a full query of the store.
async fn queried(store: &TaskStore) -> [u64; 3] {
    let mut out = [0; 3];
    for (i, s) in [TaskState::Working, TaskState::Completed, TaskState::Failed]
        .into_iter()
        .enumerate()
    {
        let page = store
            .list(ListQuery {
                state: Some(s),
                page_size: 1,
                ..ListQuery::default()
            })
            .await
            .expect("list");
        out[i] = page.total_size as u64;
    }
    out
}

#[tokio::test]
async fn counts_follow_writes_retention_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tasks.db");
    let retention = Retention {
        max_tasks: 5,
        max_age: std::time::Duration::from_secs(3600),
    };
    {
        let store = TaskStore::open(&path, retention).expect("open");
        for i in 0..8 {
            store
                .put(&task(&format!("t{i}"), TaskState::Working))
                .await
                .expect("working");
        }
        assert_eq!(counted(&store), [8, 0, 0]);
        for i in 0..6 {
            let state = if i % 2 == 0 {
                TaskState::Completed
            } else {
                TaskState::Failed
            };
            store
                .put(&task(&format!("t{i}"), state))
                .await
                .expect("final");
        }
        assert_eq!(counted(&store), [2, 3, 3]);
        assert_eq!(counted(&store), queried(&store).await);
        // Retention keeps the newest 5 rows but deletes final tasks only: of the three
        // oldest (t6, t7 still WORKING, and t0) only t0 goes.
        prune_now(&store).await.expect("prune");
        assert_eq!(counted(&store), [2, 2, 3]);
        assert_eq!(counted(&store), queried(&store).await);
    }
    let store = TaskStore::open(&path, retention).expect("reopen");
    assert_eq!(counted(&store), queried(&store).await);
    assert_eq!(store.metrics().write_failures, 0);
}
