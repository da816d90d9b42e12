//! The platform memory backend: `POST` / `GET /workspaces/{id}/memories` through the platform
//! client (authenticated, with `X-Workspace-ID`). Used when the workspace joined a platform and
//! no `AWARENESS_URL` is set.

use async_trait::async_trait;
use molecule_platform::{MemoryScope, NewMemory, PlatformClient};

use super::MemoryBackend;
use crate::bindings::imports::molecule::runtime::memory::{MemoryEntry, Scope};
use crate::bindings::HostError;

/// Memory kept by the Molecule platform.
pub struct PlatformMemory {
    client: PlatformClient,
}

impl PlatformMemory {
    /// Memory through `client`.
    pub fn new(client: PlatformClient) -> Self {
        PlatformMemory { client }
    }
}

fn to_platform(scope: Scope) -> MemoryScope {
    match scope {
        Scope::Local => MemoryScope::Local,
        Scope::Team => MemoryScope::Team,
        Scope::Global => MemoryScope::Global,
    }
}

fn from_platform(scope: MemoryScope) -> Scope {
    match scope {
        MemoryScope::Local => Scope::Local,
        MemoryScope::Team => Scope::Team,
        MemoryScope::Global => Scope::Global,
    }
}

#[async_trait]
impl MemoryBackend for PlatformMemory {
    async fn commit(&self, content: &str, scope: Scope) -> Result<String, HostError> {
        let memory = NewMemory {
            content: content.to_owned(),
            scope: to_platform(scope),
            namespace: None,
        };
        self.client
            .commit_memory(&memory)
            .await
            .map(|created| created.id)
            .map_err(|e| HostError::Unavailable(format!("platform memory: {e}")))
    }

    async fn search(
        &self,
        query: &str,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError> {
        let rows = self
            .client
            .search_memories(query, scope.map(to_platform), Some(limit as usize))
            .await
            .map_err(|e| HostError::Unavailable(format!("platform memory: {e}")))?;
        Ok(rows
            .into_iter()
            .map(|m| MemoryEntry {
                id: m.id,
                content: m.content,
                scope: from_platform(m.scope),
                created_at: m.created_at,
                score: m.similarity_score,
            })
            .collect())
    }
}
