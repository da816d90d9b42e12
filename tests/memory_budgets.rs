//! The memory budgets on the adapter's built-in tools: `commit_memory` goes through the same
//! entry-size (as stored, after redaction), quota (owner `adapter`, per-entry overhead
//! counted) and writes-per-task checks as a skill's `memory` capability, and `search_memory`
//! refuses an oversized query before the store sees it.

use std::sync::Arc;

use async_trait::async_trait;
use molecule_runtime::bindings::imports::molecule::runtime::types::{Artifact, Message, TaskState};
use molecule_runtime::bindings::{HostError, ToolError};
use molecule_runtime::budgets::Budgets;
use molecule_runtime::builder::ComponentBuilder;
use molecule_runtime::capabilities::events::EventsBackend;
use molecule_runtime::capabilities::memory::{MemoryBackend, SqliteMemory, ENTRY_OVERHEAD};
use molecule_runtime::capabilities::tools::ToolsBackend;
use molecule_runtime::workspace::skills::{GrantNothing, SkillRegistry};
use molecule_runtime::workspace::task_tools::{Builtins, TaskTools, ADAPTER_MEMORY_OWNER};
use molecule_tests::{host, test_cache_dir};
use serde_json::json;

struct NoEvents;

#[async_trait]
impl EventsBackend for NoEvents {
    async fn status(&self, _: TaskState, _: Option<Message>) -> Result<(), HostError> {
        Ok(())
    }
    async fn artifact(&self, _: Artifact) -> Result<(), HostError> {
        Ok(())
    }
    async fn message(&self, _: Message) -> Result<(), HostError> {
        Ok(())
    }
}

/// Task tools over `store` with no skills, under `budgets` (the defaults when `None`).
async fn tools(store: &Arc<SqliteMemory>, budgets: Option<&Budgets>) -> TaskTools {
    let registry = Arc::new(SkillRegistry::new(
        Arc::new(host()),
        ComponentBuilder::new(&test_cache_dir()),
        Arc::new(GrantNothing),
        vec![],
    ));
    registry.load_all().await;
    let memory: Arc<dyn MemoryBackend> = store.clone();
    let builtins = Builtins {
        memory: Some(memory),
        ..Builtins::default()
    };
    let tools = TaskTools::new(registry, builtins, Arc::new(NoEvents));
    match budgets {
        Some(b) => tools.with_memory_budgets(b),
        None => tools,
    }
}

async fn commit(tools: &TaskTools, content: &str) -> Result<String, ToolError> {
    let input = json!({ "content": content }).to_string();
    tools.call("commit_memory", &input).await
}

#[tokio::test]
async fn commit_memory_is_held_to_entry_size_quota_and_writes_per_task() {
    let store = Arc::new(SqliteMemory::in_memory().unwrap());
    let cost = ENTRY_OVERHEAD + 500 + ADAPTER_MEMORY_OWNER.len() as u64 + "LOCAL".len() as u64;
    let budgets = Budgets {
        memory_entry_bytes: 1000,
        memory_quota_bytes: 3 * cost,
        memory_writes: 5,
        ..Budgets::default()
    };
    let task = tools(&store, Some(&budgets)).await;
    let Err(ToolError::InvalidInput(text)) = commit(&task, &"x".repeat(1 << 20)).await else {
        panic!("a 1 MB entry was not refused as too big")
    };
    assert!(text.contains("memory_capability.max_entry_bytes"), "{text}");
    for _ in 0..3 {
        commit(&task, &"y".repeat(500)).await.unwrap();
    }
    let Err(ToolError::Failed(text)) = commit(&task, &"z".repeat(500)).await else {
        panic!("a write past the quota was stored")
    };
    assert!(text.contains("sandbox.memory_capability.quota"), "{text}");
    assert_eq!(
        store.kept_bytes(ADAPTER_MEMORY_OWNER).await.unwrap(),
        3 * cost
    );
    assert_eq!(store.kept_bytes("").await.unwrap(), 0, "no unowned entries");
    // Five writes were counted (the refused ones too); the sixth is over the task's budget.
    let Err(ToolError::Failed(text)) = commit(&task, "w").await else {
        panic!("a write past max_writes_per_call was stored")
    };
    assert!(text.contains("max_writes_per_call"), "{text}");
}

#[tokio::test]
async fn commit_memory_checks_the_redacted_size_and_the_default_budgets_apply() {
    let store = Arc::new(SqliteMemory::in_memory().unwrap());
    let budgets = Budgets {
        memory_entry_bytes: 10,
        ..Budgets::default()
    };
    let task = tools(&store, Some(&budgets)).await;
    // Seven bytes as sent, longer once the secret is redacted: what is stored is checked.
    let Err(ToolError::InvalidInput(text)) = commit(&task, "token=x").await else {
        panic!("the redacted text over the entry size was stored")
    };
    assert!(text.contains("max_entry_bytes"), "{text}");
    let plain = tools(&store, None).await;
    let default_entry = Budgets::default().memory_entry_bytes as usize;
    let too_big = commit(&plain, &"x".repeat(default_entry + 1)).await;
    assert!(
        matches!(too_big, Err(ToolError::InvalidInput(_))),
        "{too_big:?}"
    );
    assert_eq!(store.kept_bytes(ADAPTER_MEMORY_OWNER).await.unwrap(), 0);
}

#[tokio::test]
async fn search_memory_refuses_a_huge_query_and_answers_a_normal_one() {
    let store = Arc::new(SqliteMemory::in_memory().unwrap());
    let task = tools(&store, None).await;
    commit(&task, "the deploy key rotates on Mondays")
        .await
        .unwrap();
    let huge = json!({ "query": "word ".repeat(400_000) }).to_string();
    let refused = task.call("search_memory", &huge).await;
    assert!(
        matches!(&refused, Err(ToolError::InvalidInput(t)) if t.contains("1024 bytes")),
        "{refused:?}"
    );
    let found = task
        .call("recall_memory", &json!({ "query": "deploy" }).to_string())
        .await
        .unwrap();
    assert!(found.contains("Mondays"), "{found}");
}
