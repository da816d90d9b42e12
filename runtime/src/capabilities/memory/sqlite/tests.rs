//! Tests of the SQLite memory store (`super`): error text, budgets and search.

use super::*;

#[tokio::test]
async fn a_store_error_names_the_file_but_not_its_host_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMemory::open(&dir.path().join("memory.sqlite")).unwrap();
    let err = store
        .with_conn(|c| c.execute("INSERT INTO no_such_table VALUES (1)", []))
        .await
        .unwrap_err();
    let HostError::Failed(text) = err else {
        panic!("{err:?}")
    };
    assert!(text.starts_with("memory store memory.sqlite: "), "{text}");
    assert!(!text.contains(&*dir.path().to_string_lossy()), "{text}");
}

#[tokio::test]
async fn commits_and_ranks() {
    let store = SqliteMemory::in_memory().unwrap();
    store
        .commit("the deploy key rotates on Mondays", Scope::Local)
        .await
        .unwrap();
    store.commit("lunch is at noon", Scope::Team).await.unwrap();
    store
        .commit("deploy deploy deploy checklist", Scope::Local)
        .await
        .unwrap();
    let hits = store.search("deploy", None, 10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits[0].content.contains("checklist"), "{hits:?}");
    let team = store.search("", Some(Scope::Team), 10).await.unwrap();
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].content, "lunch is at noon");
    let none = store.search("AND OR NOT \"(", None, 10).await.unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn usage_is_summed_per_owner_and_backfilled_for_old_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        // A store from before owners: no owner column, no usage table.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute(
            "INSERT INTO memories(content, scope) VALUES ('héllo', 'LOCAL')",
            [],
        )
        .unwrap();
    }
    let store = SqliteMemory::open(&path).unwrap();
    assert_eq!(
        store.kept_bytes("").await.unwrap(),
        256 + 6 + 5,
        "backfilled, in bytes, with the per-entry overhead"
    );
    let quota = |bytes| Quota {
        owner: "skill a",
        bytes,
    };
    store
        .commit_within("0123456789", Scope::Local, quota(280))
        .await
        .unwrap();
    let refused = store
        .commit_within("0123456789", Scope::Local, quota(280))
        .await;
    assert!(matches!(refused, Err(HostError::Failed(_))), "{refused:?}");
    // 256 + content (10) + owner (7) + scope (5): the same cost the quota check used.
    assert_eq!(store.kept_bytes("skill a").await.unwrap(), 278);
    assert_eq!(store.kept_bytes("").await.unwrap(), 267);
    store
        .with_conn(|c| c.execute("DELETE FROM memories WHERE owner = 'skill a'", []))
        .await
        .unwrap();
    assert_eq!(store.kept_bytes("skill a").await.unwrap(), 0);
    drop(store);
    let reopened = SqliteMemory::open(&path).unwrap();
    assert_eq!(reopened.kept_bytes("").await.unwrap(), 267, "migrated once");
}

#[tokio::test]
async fn a_search_returns_a_bounded_amount_of_content() {
    let store = SqliteMemory::in_memory().unwrap();
    let big = "word ".repeat((1 << 20) / 5);
    for _ in 0..6 {
        store.commit(&big, Scope::Local).await.unwrap();
    }
    let found = store.search("word", None, 100).await.unwrap();
    let total: usize = found.iter().map(|e| e.content.len()).sum();
    assert!(total <= MAX_SEARCH_BYTES, "{total}");
    assert_eq!(found.len(), 4);
}

#[tokio::test]
async fn survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let id = SqliteMemory::open(&path)
        .unwrap()
        .commit("persisted fact", Scope::Global)
        .await
        .unwrap();
    let hits = SqliteMemory::open(&path)
        .unwrap()
        .search("fact", None, 5)
        .await
        .unwrap();
    assert_eq!(hits[0].id, id);
    assert_eq!(hits[0].scope, Scope::Global);
}

#[tokio::test]
async fn many_tiny_entries_count_their_overhead() {
    let store = SqliteMemory::in_memory().unwrap();
    let quota = Quota {
        owner: "adapter",
        bytes: 10 * (ENTRY_OVERHEAD + 1 + 7 + 5),
    };
    for _ in 0..10 {
        store.commit_within("x", Scope::Local, quota).await.unwrap();
    }
    let eleventh = store.commit_within("x", Scope::Local, quota).await;
    assert!(
        matches!(eleventh, Err(HostError::Failed(_))),
        "{eleventh:?}"
    );
    assert_eq!(store.kept_bytes("adapter").await.unwrap(), quota.bytes);
}

#[tokio::test]
async fn an_abandoned_search_is_interrupted_and_frees_the_store() {
    let store = SqliteMemory::in_memory().unwrap();
    store.commit("a fact", Scope::Local).await.unwrap();
    // A statement that runs for minutes unless interrupted, standing in for a huge search.
    let slow = store.with_conn(|c| {
        c.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
             SELECT count(*) FROM n",
            [],
            |r| r.get::<_, i64>(0),
        )
    });
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(200), slow).await;
    assert!(gave_up.is_err(), "the endless statement ended: {gave_up:?}");
    // The store answers the next call (it would wait forever on the lock otherwise).
    let next = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        store.search("fact", None, 5),
    )
    .await
    .expect("the store stayed locked after its caller gave up")
    .unwrap();
    assert_eq!(next.len(), 1);
    let huge = "word ".repeat(400_000);
    let refused = store.search(&huge, None, 5).await;
    assert!(
        matches!(refused, Err(HostError::InvalidInput(_))),
        "{refused:?}"
    );
}
